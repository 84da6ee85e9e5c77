"""``EnergyReport``: the immutable result of :func:`neuroenergy.energy.measure`.

Every count is **per sample, summed over time steps** (the batch total divided
by the batch size). Energies are in picojoules and are compute-only
estimates from the report's cost table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from neuroenergy.energy.costs import COMPUTE_ONLY_NOTE, CostTable, EnergyModel
from neuroenergy.energy.lemaire import LayerShape, LemaireModel
from neuroenergy.metrics import LAYER_METRICS

if TYPE_CHECKING:  # heavy imports only where used
    import pandas as pd
    import xarray as xr

__all__ = ["LayerEnergy", "EnergyReport", "UNITS"]

#: Unit of every numeric field of :class:`LayerEnergy` as reports show it (read-only; the
#: ``display_units`` of its declaration in ``neuroenergy.metrics.LAYER_METRICS``).
UNITS: Mapping[str, str] = MappingProxyType({m.name: m.shown_units for m in LAYER_METRICS.values()})

#: Fields added over layers into the totals row, and properties recomputed from those sums.
SUMMED: tuple[str, ...] = tuple(m.name for m in LAYER_METRICS.values() if m.reduce == "sum")
DERIVED: tuple[str, ...] = tuple(m.name for m in LAYER_METRICS.values() if m.reduce == "derived")

#: Counts a memory-aware model derives (0 under a compute-only cost table).
MODEL_COUNTS = ("op_macs", "op_acs", "addr_acs", "addr_macs", "read_in_bytes", "write_out_bytes",
                "read_params_bytes", "read_potential_bytes", "write_potential_bytes")


@dataclass(frozen=True)
class LayerEnergy:
    """Counts for one layer (or the total), per sample, summed over time.

    Each numeric field and property is declared in
    ``neuroenergy.metrics.LAYER_METRICS`` (units, long name, whether the total
    sums it); a field without a declaration is refused at import.

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
        energy_pj: under a cost table MACs x E_MAC + ACs x E_AC + membrane
            updates x E_neuron_update; under a memory-aware model
            ``compute_pj + addressing_pj + memory_pj``.
        compute_pj, addressing_pj, memory_pj: the parts of ``energy_pj``
            (a cost table puts everything in ``compute_pj``).
        energy_pj_ann: the same layer run once as a conventional ANN under the
            same model (NaN unless measured with ``compare_ann=True``; see
            :func:`neuroenergy.energy.measure`).
        neuron_ops_dense, neuron_ops_effective: NeuroBench ``NeuronOperations``.
        spike_inputs, analog_inputs, analog_outputs, analog_rows,
        synapse_outputs: raw activity of a synaptic layer (input spikes;
            input and output values and sample-steps of its non-binary
            calls; all output values) that memory-aware models price.
        op_macs ... write_potential_bytes: the memory-aware model's counts
            behind its parts (``MODEL_COUNTS``; 0 under a cost table).
        shape: per-sample sizes of the layer (not summed into the total).
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
    compute_pj: float = 0.0
    addressing_pj: float = 0.0
    memory_pj: float = 0.0
    energy_pj_ann: float = math.nan
    neuron_ops_dense: float = 0.0
    neuron_ops_effective: float = 0.0
    spike_inputs: float = 0.0
    analog_inputs: float = 0.0
    analog_outputs: float = 0.0
    analog_rows: float = 0.0
    synapse_outputs: float = 0.0
    op_macs: float = 0.0
    op_acs: float = 0.0
    addr_acs: float = 0.0
    addr_macs: float = 0.0
    read_in_bytes: float = 0.0
    write_out_bytes: float = 0.0
    read_params_bytes: float = 0.0
    read_potential_bytes: float = 0.0
    write_potential_bytes: float = 0.0
    shape: "LayerShape | None" = None

    @property
    def ann_ratio(self) -> float:
        """SNN energy / ANN-equivalent energy of this layer (NaN when the ANN figure is 0 or absent)."""
        return self.energy_pj / self.energy_pj_ann if self.energy_pj_ann else math.nan

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
        row = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "shape"}
        row.update({name: getattr(self, name) for name in DERIVED})
        return row


def _check_declarations(row_type: type = LayerEnergy) -> None:
    """Every numeric field of ``row_type`` is a declared ``sum`` metric, every property a
    ``derived`` one, and the other way round (run at import: a count added without its
    declaration would leave the totals, the units and the record without it)."""
    numeric = {f.name for f in fields(row_type) if f.type == "float"}
    properties = {name for klass in row_type.__mro__ for name, value in vars(klass).items()
                  if isinstance(value, property)}
    for what, have, declared in (("field", numeric, set(SUMMED)), ("property", properties, set(DERIVED))):
        if have - declared:
            raise TypeError(f"{row_type.__name__} {what}(s) {', '.join(sorted(have - declared))} not declared "
                            "in neuroenergy.metrics.LAYER_METRICS; declare each there (units, long_name, reduce)")
        if declared - have:
            raise TypeError(f"neuroenergy.metrics.LAYER_METRICS declares {', '.join(sorted(declared - have))} "
                            f"but {row_type.__name__} has no such {what}")


_check_declarations()


@dataclass(frozen=True)
class EnergyReport:
    """What one batch cost, per layer and in total, per sample.

    Attributes:
        layers: one row per counted module, in module order.
        total: the sum over layers (rates and sparsity recomputed from sums).
        costs: the energy model that priced the operations: a compute-only
            :class:`CostTable` or the memory-aware ``lemaire-2022``.
        batch_size: samples in the measured batch (counts are divided by it).
        time_steps: time steps the model was run for (None when the model
            consumed the sequence itself and did not say).
        uncounted: modules that hold weights but cannot be counted (their
            operations are missing from the totals).
    """

    layers: tuple[LayerEnergy, ...]
    total: LayerEnergy
    costs: EnergyModel
    batch_size: int
    time_steps: int | None = None
    uncounted: tuple[str, ...] = ()
    note: str = COMPUTE_ONLY_NOTE
    compare_ann: bool = False
    unused_parameters: tuple[str, ...] = ()

    @classmethod
    def from_layers(cls, layers: list[LayerEnergy], costs: EnergyModel, batch_size: int,
                    time_steps: int | None, uncounted: tuple[str, ...] = (),
                    compare_ann: bool = False, unused_parameters: tuple[str, ...] = ()) -> "EnergyReport":
        """Price ``layers`` (counts per sample) with ``costs`` and add the totals row."""
        spiking = any(r.kind == "neuron" for r in layers)
        layers = [price_row(r, costs, spiking, time_steps, compare_ann) for r in layers]
        summed = {name: sum((getattr(row, name) for row in layers), 0.0) for name in SUMMED}
        # Spikes are only counted for spiking neurons, so the firing rate uses their outputs alone.
        total = LayerEnergy(name="total", kind="total", module_type="", **summed)
        note = getattr(costs, "note", COMPUTE_ONLY_NOTE)
        return cls(tuple(layers), total, costs, batch_size, time_steps, uncounted, note,
                   compare_ann, unused_parameters)

    @property
    def energy_pj_ann(self) -> float:
        """pJ per sample of the same layers run once as an ANN (NaN without ``compare_ann``)."""
        return self.total.energy_pj_ann

    @property
    def ann_ratio(self) -> float:
        """SNN ÷ ANN-equivalent energy in total (NaN without ``compare_ann``)."""
        return self.total.ann_ratio

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
            "unused_parameters": list(self.unused_parameters),
            "ann_ratio": self.ann_ratio,
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
            attrs = {"units": unit, "long_name": LAYER_METRICS[key].long_name}
            ds[key] = ("layer", layers[key].astype(float).to_numpy(), attrs)
            ds[f"total_{key}"] = ((), float(frame.loc["total", key]), attrs)
        ds.attrs.update(costs=self.costs.name, costs_description=self.costs.describe(),
                        batch_size=self.batch_size, per="sample, summed over time steps",
                        note=self.note)
        return ds

    def with_costs(self, costs: "EnergyModel | str") -> "EnergyReport":
        """The same counts priced with another energy model (a name or an object)."""
        from neuroenergy.energy.costs import get_cost_table

        return EnergyReport.from_layers(list(self.layers), get_cost_table(costs), self.batch_size,
                                        self.time_steps, self.uncounted, self.compare_ann,
                                        self.unused_parameters)

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
        ] + ([f"parts: compute {self.total.compute_pj:.4g} pJ, addressing {self.total.addressing_pj:.4g} pJ, "
              f"memory {self.total.memory_pj:.4g} pJ per sample"] if isinstance(self.costs, LemaireModel) else [])
          + ([f"same layers as an ANN (one pass, dense MACs): {self.energy_pj_ann:.4g} pJ per sample; "
              f"SNN / ANN = {self.ann_ratio:.3g}"] if self.compare_ann else [])
          + ([f"parameters never used by a counted layer: {', '.join(self.unused_parameters)}"]
             if self.unused_parameters else [])
          + ([f"not counted (unsupported layers): {', '.join(self.uncounted)}"] if self.uncounted else []))


def price(row: LayerEnergy, costs: CostTable) -> float:
    """Energy of one row in pJ under the compute-only table ``costs``."""
    return costs.energy_pj(row.effective_macs, row.effective_acs, row.membrane_updates)


def _parts(row: LayerEnergy, costs: EnergyModel, spiking: bool) -> dict[str, float]:
    if isinstance(costs, LemaireModel):
        return costs.price(row, row.shape, spiking)
    energy = price(row, costs)
    return dict(dict.fromkeys(MODEL_COUNTS, 0.0), compute_pj=energy, addressing_pj=0.0,
                memory_pj=0.0, energy_pj=energy)


def ann_equivalent(row: LayerEnergy, time_steps: int | None) -> LayerEnergy:
    """The row of the same layer run once as a conventional ANN on the same input.

    A synaptic layer does one pass instead of T steps, with every input
    value nonzero and non-binary: its dense operations / T as MACs (for a
    memory-aware model, the analog-input formulas once per sample). A spiking
    neuron becomes a ReLU: no membrane potential, no neuron update, no cost.
    ReLU/Sigmoid and taps cost nothing either. A recurrent cell also runs one
    step (dense / T), which is the same network only when the T steps repeat
    one input (rate or direct coding), not for a sequence read over time.
    """
    steps = time_steps or 1
    if row.kind != "synapse":
        return LayerEnergy(row.name, row.kind, row.module_type)
    shape = row.shape
    passes = (row.synapse_outputs / (shape.sample_out * steps)
              if shape is not None and shape.sample_out else 1.0 / steps)
    analog = {}
    if shape is not None:
        analog = dict(analog_inputs=passes * shape.sample_in, analog_outputs=passes * shape.sample_out,
                      analog_rows=passes, synapse_outputs=passes * shape.sample_out)
    return LayerEnergy(row.name, row.kind, row.module_type, dense_synops=row.dense_synops / steps,
                       effective_macs=row.dense_synops / steps, shape=shape, **analog)


def price_row(row: LayerEnergy, costs: EnergyModel, spiking: bool, time_steps: int | None,
              compare_ann: bool) -> LayerEnergy:
    """``row`` with its energy parts (and, with ``compare_ann``, its ANN figure) under ``costs``."""
    parts = _parts(row, costs, spiking)
    ann = _parts(ann_equivalent(row, time_steps), costs, False)["energy_pj"] if compare_ann else math.nan
    return replace(row, energy_pj_ann=ann, **parts)


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e6 or abs(value) < 1e-2:
        return f"{value:.3e}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")
