"""``EnergyReport``: the immutable result of :func:`neuroenergy.energy.measure`.

Every count is **per sample, summed over time steps** (the batch total divided
by the batch size). Energies are in picojoules and are compute-only
estimates from the report's cost table.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from neuroenergy.energy.costs import COMPUTE_ONLY_NOTE, CostTable

if TYPE_CHECKING:  # heavy imports only where used
    import pandas as pd
    import xarray as xr

__all__ = ["LayerEnergy", "EnergyReport", "UNITS"]

#: Unit of every numeric field of :class:`LayerEnergy`.
UNITS: dict[str, str] = {
    "dense_synops": "operations per sample",
    "effective_macs": "MACs per sample",
    "effective_acs": "ACs per sample",
    "synops": "operations per sample (effective MACs + ACs)",
    "spikes": "spikes per sample",
    "outputs": "neuron outputs per sample (neurons x time steps)",
    "nonzero_outputs": "nonzero outputs per sample",
    "firing_rate": "spikes per neuron per time step",
    "activation_sparsity": "fraction of zero outputs",
    "membrane_updates": "updates per sample",
    "activation_energy": "sum of squared outputs per sample (a.u.)",
    "energy_pj": "pJ per sample",
}


@dataclass(frozen=True)
class LayerEnergy:
    """Counts for one layer (or the total), per sample, summed over time.

    Attributes:
        name: module path in the model (``"total"`` for the totals row).
        kind: ``synapse`` (Linear/Conv/RNN cell), ``neuron`` (snnTorch
            spiking neuron), ``activation`` (ReLU/Sigmoid), ``tap``
            (:class:`~neuroenergy.energy.EnergyTap`) or ``total``.
        module_type: class name of the module.
        dense_synops: all weight x input-position operations.
        effective_macs: operations with a nonzero non-binary input and a nonzero weight.
        effective_acs: operations with a nonzero binary (spike) input and a nonzero weight.
        spikes: nonzero outputs of spiking neurons.
        outputs: output values produced (neurons x time steps).
        nonzero_outputs: nonzero output values (spikes, or active ReLU units).
        membrane_updates: membrane-potential updates (NeuroBench ``MembraneUpdates``).
        activation_energy: sum of squared outputs (equals the spike count for binary spikes).
        energy_pj: MACs x E_MAC + ACs x E_AC + membrane updates x E_neuron_update.
    """

    name: str
    kind: str
    module_type: str
    dense_synops: float = 0.0
    effective_macs: float = 0.0
    effective_acs: float = 0.0
    spikes: float = 0.0
    outputs: float = 0.0
    nonzero_outputs: float = 0.0
    membrane_updates: float = 0.0
    activation_energy: float = 0.0
    energy_pj: float = 0.0

    @property
    def synops(self) -> float:
        """Effective synaptic operations: MACs + ACs, per sample."""
        return self.effective_macs + self.effective_acs

    @property
    def firing_rate(self) -> float:
        """Spikes per neuron per time step (NaN for layers without outputs)."""
        return self.spikes / self.outputs if self.outputs and self.kind in ("neuron", "total") else math.nan

    @property
    def activation_sparsity(self) -> float:
        """Fraction of zero outputs, as NeuroBench ``ActivationSparsity`` (NaN without outputs)."""
        return 1.0 - self.nonzero_outputs / self.outputs if self.outputs else math.nan

    def to_dict(self) -> dict[str, Any]:
        row = asdict(self)
        row.update(synops=self.synops, firing_rate=self.firing_rate,
                   activation_sparsity=self.activation_sparsity)
        return row


@dataclass(frozen=True)
class EnergyReport:
    """What one batch cost, per layer and in total, per sample.

    Attributes:
        layers: one row per counted module, in module order.
        total: the sum over layers (rates and sparsity recomputed from sums).
        costs: the cost table that priced the operations.
        batch_size: samples in the measured batch (counts are divided by it).
        time_steps: time steps the model was run for (None when the model
            consumed the sequence itself and did not say).
        uncounted: modules that hold weights but cannot be counted (their
            operations are missing from the totals).
    """

    layers: tuple[LayerEnergy, ...]
    total: LayerEnergy
    costs: CostTable
    batch_size: int
    time_steps: int | None = None
    uncounted: tuple[str, ...] = ()
    note: str = COMPUTE_ONLY_NOTE

    @classmethod
    def from_layers(cls, layers: list[LayerEnergy], costs: CostTable, batch_size: int,
                    time_steps: int | None, uncounted: tuple[str, ...] = ()) -> "EnergyReport":
        summed = {f.name: 0.0 for f in fields(LayerEnergy) if f.type == "float"}
        for row in layers:
            for key in summed:
                summed[key] += getattr(row, key)
        # Spikes are only counted for spiking neurons, so the firing rate uses their outputs alone.
        total = LayerEnergy(name="total", kind="total", module_type="", **summed)
        return cls(tuple(layers), total, costs, batch_size, time_steps, uncounted)

    def __getitem__(self, name: str) -> LayerEnergy:
        for row in self.layers:
            if row.name == name:
                return row
        raise KeyError(f"no layer {name!r}; layers: {', '.join(r.name for r in self.layers)}")

    @property
    def firing_rate(self) -> float:
        """Spikes per spiking-neuron output (over spiking layers only)."""
        outputs = sum(r.outputs for r in self.layers if r.kind == "neuron")
        return self.total.spikes / outputs if outputs else math.nan

    @property
    def activation_sparsity(self) -> float:
        """Fraction of zero outputs over neuron and activation layers (NeuroBench definition)."""
        rows = [r for r in self.layers if r.kind in ("neuron", "activation")]
        outputs = sum(r.outputs for r in rows)
        return 1.0 - sum(r.nonzero_outputs for r in rows) / outputs if outputs else math.nan

    def to_dict(self) -> dict[str, Any]:
        """Plain dict: layers (list of dicts), total, cost table, units, metadata."""
        total = self.total.to_dict()
        total.update(firing_rate=self.firing_rate, activation_sparsity=self.activation_sparsity)
        return {
            "layers": [r.to_dict() for r in self.layers],
            "total": total,
            "costs": self.costs.to_dict(),
            "batch_size": self.batch_size,
            "time_steps": self.time_steps,
            "uncounted": list(self.uncounted),
            "units": dict(UNITS),
            "per": "sample, summed over time steps",
            "note": self.note,
        }

    def to_dataframe(self) -> "pd.DataFrame":
        """One row per layer plus a ``total`` row; units in ``df.attrs["units"]``."""
        import pandas as pd

        data = self.to_dict()
        frame = pd.DataFrame(data["layers"] + [data["total"]]).set_index("name")
        frame.attrs.update(units=data["units"], costs=self.costs.name, note=self.note,
                           per=data["per"])
        return frame

    def to_xarray(self) -> "xr.Dataset":
        """Variables over dim ``layer`` (totals as ``total_<field>``); units in attrs."""
        import xarray as xr

        frame = self.to_dataframe()
        layers = frame.drop(index="total")
        ds = xr.Dataset(coords={"layer": list(layers.index)})
        ds = ds.assign_coords(kind=("layer", list(layers["kind"])),
                              module_type=("layer", list(layers["module_type"])))
        for key, unit in UNITS.items():
            ds[key] = ("layer", layers[key].astype(float).to_numpy())
            ds[key].attrs["units"] = unit
            ds[f"total_{key}"] = float(frame.loc["total", key])
            ds[f"total_{key}"].attrs["units"] = unit
        ds.attrs.update(costs=self.costs.name, costs_description=self.costs.describe(),
                        batch_size=self.batch_size, per="sample, summed over time steps",
                        note=self.note)
        return ds

    def with_costs(self, costs: CostTable) -> "EnergyReport":
        """The same counts priced with another cost table."""
        layers = [replace(r, energy_pj=price(r, costs)) for r in self.layers]
        return EnergyReport.from_layers(layers, costs, self.batch_size, self.time_steps, self.uncounted)

    def __str__(self) -> str:
        header = ("layer", "type", "synops dense", "eff. MACs", "eff. ACs", "spikes",
                  "rate", "mem. upd.", "act. E", "energy pJ")
        lines = []
        for r in list(self.layers) + [self.total]:
            rate = self.firing_rate if r.kind == "total" else r.firing_rate
            lines.append((r.name, r.module_type, _fmt(r.dense_synops), _fmt(r.effective_macs),
                          _fmt(r.effective_acs), _fmt(r.spikes),
                          "" if math.isnan(rate) else f"{rate:.3f}",
                          _fmt(r.membrane_updates), _fmt(r.activation_energy), _fmt(r.energy_pj)))
        widths = [max(len(str(row[i])) for row in [header] + lines) for i in range(len(header))]

        def render(row: tuple) -> str:
            return "  ".join(str(v).ljust(w) if i < 2 else str(v).rjust(w)
                             for i, (v, w) in enumerate(zip(row, widths)))

        rule = "-" * len(render(header))
        time = f", {self.time_steps} time steps" if self.time_steps else ""
        return "\n".join([
            f"EnergyReport: per sample, summed over time (batch of {self.batch_size}{time})",
            f"cost table {self.costs.describe()}",
            render(header), rule, *map(render, lines[:-1]), rule, render(lines[-1]),
            f"energy {self.total.energy_pj:.4g} pJ per sample; activation sparsity "
            f"{self.activation_sparsity:.3f}; {self.note}",
        ] + ([f"not counted (unsupported layers): {', '.join(self.uncounted)}"] if self.uncounted else []))


def price(row: LayerEnergy, costs: CostTable) -> float:
    """Energy of one row in pJ under ``costs``."""
    return costs.energy_pj(row.effective_macs, row.effective_acs, row.membrane_updates)


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e6 or abs(value) < 1e-2:
        return f"{value:.3e}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")
