"""Every metric neuroenergy reports, declared once: name, units, long name, reduction.

Three registries, one per place a metric lives:

* :data:`LAYER_METRICS`: the numeric fields of
  :class:`~neuroenergy.energy.LayerEnergy` (one row per layer of an
  ``EnergyReport``), per sample, summed over time steps. ``reduce="sum"``
  fields are added over layers into the report's total; ``reduce="derived"``
  ones are properties recomputed from those sums.
* :data:`CELL_METRICS`: the ``metrics`` of a cell record, and the cube
  variables over ``(architecture, dataset, lam, seed)``.
* :data:`CURVE_METRICS`: the learning-curve variables ``curve_*`` of the cube
  (over ``eval`` as well); the cell record keeps them under ``curve`` without
  the ``curve_`` prefix.

and the two cube metrics over an extra dimension, :data:`ENERGY_BY_ROLE`
(``layer_role``) and :data:`PER_CLASS_RECALL` (``class``).

What derives from these declarations: ``energy.UNITS``, the report's totals
row, ``measure``'s per-sample rows (a tally field named like a layer metric is
that metric's running sum), the cell record's metrics and curves,
``results.schema.CELL_VARIABLES`` / ``CURVE_VARIABLES`` (and so every cube
variable's ``units`` and ``long_name``), and the units the statistics print.
Adding a metric: declare it here, then write the code that computes it (a
``LayerEnergy`` field and its count, or a ``source`` the record reads).

This module imports nothing from the rest of the package but its exception
family (``neuroenergy.errors``, itself import-free), so every part of it,
``energy`` included, can read it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from types import MappingProxyType
from typing import Any

from neuroenergy.errors import UnknownNameError

__all__ = ["Metric", "REDUCTIONS", "UDUNITS", "SOURCES", "LAYER_METRICS", "CELL_METRICS", "CURVE_METRICS",
           "ENERGY_BY_ROLE", "PER_CLASS_RECALL", "CURVE_PREFIX", "curve_key", "require_declared"]

#: How a metric's value over a whole is formed from its parts.
REDUCTIONS: Mapping[str, str] = MappingProxyType({
    "sum": "a per-layer count: the report's total is the sum over layers",
    "derived": "computed from other metrics of the same row or report (a ratio, or a sum of two counts); "
               "never added up itself",
    "mean": "the mean per sample over the test split (or the held-out subset, for curves)",
    "split": "computed once over the whole test split (or held-out subset), not per sample",
    "run": "one figure of the whole run or cell (steps, times, training energy, sizes)",
})

#: UDUNITS-2 strings a declaration may use: "1" for fractions, counts and other
#: dimensionless figures (the long name says what is counted and "per sample"),
#: picojoule, second, byte. Prose belongs in ``long_name`` / ``display_units``.
UDUNITS: tuple[str, ...] = ("1", "pJ", "s", "byte")

#: Where a cell or curve metric is read from (``Metric.source`` is ``"<root>.<attribute path>"``):
#: ``result``: the ``TrainResult``; ``report``: its test ``EnergyReport`` (absent when the run did
#: not finish); ``to_target``: the ``Efficiency`` at the dataset's target accuracy (absent when the
#: target was never reached); ``point``: one ``CurvePoint`` of the learning curve.
SOURCES: tuple[str, ...] = ("result", "report", "to_target", "point")

#: Cube names of curve metrics start with this; the record's ``curve`` keys are the rest.
CURVE_PREFIX = "curve_"


@dataclass(frozen=True)
class Metric:
    """One metric: what a user reads beside its number.

    Attributes:
        name: the field, record key or cube variable name.
        units: UDUNITS-2 string (one of :data:`UDUNITS`).
        long_name: what the number is, in words, including "per sample" where it is.
        reduce: how it is formed from its parts (a key of :data:`REDUCTIONS`).
        source: where the cell record reads it, ``"<root>.<attribute path>"`` with a root of
            :data:`SOURCES` (e.g. ``"report.total.energy_pj"``); None when it is counted by
            ``measure`` (layer metrics) or set by ``run_cell`` itself.
        display_units: the unit as tables print it, where it says more than ``units``
            (``"optimizer steps"`` for a count of steps); None: ``units``.
    """

    name: str
    units: str
    long_name: str
    reduce: str
    source: str | None = None
    display_units: str | None = None

    def __post_init__(self) -> None:
        # Raised at import: a declaration with a typo never reaches a record or a cube.
        if not self.name.isidentifier():
            raise ValueError(f"metric name {self.name!r} is not an identifier")
        if self.units not in UDUNITS:
            raise ValueError(f"metric {self.name}: units {self.units!r} is not one of {', '.join(UDUNITS)} "
                             "(UDUNITS-2; put prose in long_name or display_units)")
        if self.reduce not in REDUCTIONS:
            raise ValueError(f"metric {self.name}: reduce {self.reduce!r} is not one of {', '.join(REDUCTIONS)}")
        if not self.long_name:
            raise ValueError(f"metric {self.name}: long_name is empty")
        if self.source is not None:
            root, _, path = self.source.partition(".")
            if root not in SOURCES or not path:
                raise ValueError(f"metric {self.name}: source {self.source!r} is not '<root>.<attribute>' "
                                 f"with a root of {', '.join(SOURCES)}")

    @property
    def root(self) -> str | None:
        """The :data:`SOURCES` name ``source`` starts from (None without a source)."""
        return None if self.source is None else self.source.partition(".")[0]

    def read(self, roots: Mapping[str, Any]) -> Any:
        """The value at ``source`` under ``roots`` (objects keyed by the :data:`SOURCES` names)."""
        if self.source is None:
            raise ValueError(f"metric {self.name} has no source to read; the code that sets it writes it")
        return attrgetter(self.source.partition(".")[2])(roots[self.root])

    @property
    def shown_units(self) -> str:
        """``display_units`` where declared, else ``units``."""
        return self.display_units or self.units


def _registry(metrics: Iterable[Metric], prefix: str = "") -> Mapping[str, Metric]:
    table: dict[str, Metric] = {}
    for metric in metrics:
        if metric.name in table:
            raise ValueError(f"metric {metric.name} is declared twice")
        if not metric.name.startswith(prefix):
            raise ValueError(f"metric {metric.name} must be named {prefix}<name>")
        table[metric.name] = metric
    return MappingProxyType(table)


def _layer(name: str, units: str, shown: str, long_name: str, reduce: str = "sum") -> Metric:
    return Metric(name, units, long_name, reduce, display_units=shown)


#: The numeric fields of ``LayerEnergy``, in the order reports list them. ``display_units`` is
#: the unit string ``EnergyReport`` shows (``energy.UNITS``).
LAYER_METRICS: Mapping[str, Metric] = _registry([
    _layer("dense_synops", "1", "operations per sample",
           "dense synaptic operations: all weight x input-position operations"),
    _layer("effective_macs", "1", "MACs per sample",
           "effective MACs: operations with a nonzero non-binary input and a nonzero weight"),
    _layer("effective_acs", "1", "ACs per sample",
           "effective ACs: operations with a nonzero binary (spike) input and a nonzero weight"),
    _layer("synops", "1", "operations per sample (effective MACs + ACs)",
           "effective synaptic operations: effective MACs + effective ACs", "derived"),
    _layer("spikes", "1", "spikes per sample", "spikes: nonzero outputs of spiking neurons"),
    _layer("outputs", "1", "neuron outputs per sample (neurons x time steps)",
           "output values produced by neuron and activation layers (neurons x time steps)"),
    _layer("nonzero_outputs", "1", "nonzero outputs per sample",
           "nonzero output values (spikes, or active ReLU units)"),
    _layer("firing_rate", "1", "spikes per neuron per time step",
           "firing rate of spiking neurons: spikes / outputs", "derived"),
    _layer("activation_sparsity", "1", "fraction of zero outputs",
           "activation sparsity (NeuroBench ActivationSparsity): 1 - nonzero outputs / outputs", "derived"),
    _layer("membrane_updates", "1", "updates per sample",
           "membrane-potential updates (NeuroBench MembraneUpdates)"),
    _layer("activation_energy", "1", "sum of squared outputs per sample (a.u.)",
           "activation energy: sum of squared outputs (the spike count for binary spikes)"),
    _layer("energy_pj", "pJ", "pJ per sample",
           "inference energy: compute_pj + addressing_pj + memory_pj under the report's energy model"),
    _layer("compute_pj", "pJ", "pJ per sample (operations)",
           "energy of the operations (everything, under a compute-only cost table)"),
    _layer("addressing_pj", "pJ", "pJ per sample (address computation; memory-aware models only)",
           "energy of address computation (memory-aware models only)"),
    _layer("memory_pj", "pJ", "pJ per sample (SRAM accesses; memory-aware models only)",
           "energy of memory accesses (memory-aware models only)"),
    _layer("energy_pj_ann", "pJ", "pJ per sample of the same layers run once as an ANN (compare_ann)",
           "energy of the same layer run once as a conventional ANN (NaN without compare_ann)"),
    _layer("ann_ratio", "1", "SNN energy / ANN-equivalent energy",
           "inference energy SNN / ANN-equivalent (NaN without compare_ann)", "derived"),
    _layer("neuron_ops_dense", "1", "neuron operations per sample, all neurons every step (NeuroBench)",
           "neuron operations, dense (NeuroBench NeuronOperations)"),
    _layer("neuron_ops_effective", "1", "neuron operations per sample, updated neurons only (NeuroBench)",
           "neuron operations, effective (NeuroBench NeuronOperations)"),
    _layer("spike_inputs", "1", "input spikes reaching synaptic layers per sample",
           "input spikes reaching a synaptic layer"),
    _layer("analog_inputs", "1", "non-binary input values per sample",
           "input values of a synaptic layer's non-binary calls"),
    _layer("analog_outputs", "1", "output values of non-binary calls per sample",
           "output values of a synaptic layer's non-binary calls"),
    _layer("analog_rows", "1", "sample-steps of non-binary calls per sample",
           "sample-steps of a synaptic layer's non-binary calls"),
    _layer("synapse_outputs", "1", "synaptic-layer output values per sample",
           "output values of a synaptic layer, all calls"),
    _layer("op_macs", "1", "MACs per sample priced by the energy model",
           "MACs the memory-aware model prices (0 under a cost table)"),
    _layer("op_acs", "1", "ACs per sample priced by the energy model",
           "ACs the memory-aware model prices (0 under a cost table)"),
    _layer("addr_macs", "1", "addressing MACs per sample", "addressing MACs (memory-aware models only)"),
    _layer("addr_acs", "1", "addressing ACs per sample", "addressing ACs (memory-aware models only)"),
    _layer("read_in_bytes", "byte", "bytes per sample", "bytes of inputs read (memory-aware models only)"),
    _layer("write_out_bytes", "byte", "bytes per sample", "bytes of outputs written (memory-aware models only)"),
    _layer("read_params_bytes", "byte", "bytes per sample",
           "bytes of parameters read (memory-aware models only)"),
    _layer("read_potential_bytes", "byte", "bytes per sample",
           "bytes of membrane potentials read (memory-aware models only)"),
    _layer("write_potential_bytes", "byte", "bytes per sample",
           "bytes of membrane potentials written (memory-aware models only)"),
])

#: A cell record's ``metrics`` and the cube variables over ``(architecture, dataset, lam, seed)``,
#: in cube order. Those with a ``source`` are read by ``protocols.cell``; the others
#: (``source=None``) are set there from the data, the model or the clock.
CELL_METRICS: Mapping[str, Metric] = _registry([
    Metric("accuracy", "1", "test accuracy (fraction) on the whole test split", "split",
           "result.test_accuracy"),
    Metric("balanced_accuracy", "1", "test balanced accuracy (fraction): mean per-class recall (chance 1/K)",
           "split", "result.test_balanced_accuracy"),
    Metric("macro_f1", "1", "test macro-F1 (fraction): unweighted mean of per-class F1", "split",
           "result.test_macro_f1"),
    Metric("ce", "1", "test cross-entropy per sample, in nats", "mean", "result.test_ce"),
    Metric("energy_term", "1", "the training energy term E(theta, x) per sample on the test split", "mean",
           "result.test_energy"),
    Metric("activation_energy", "1",
           "activation energy per sample: sum of squared neuron outputs over time (a.u.)", "mean",
           "report.total.activation_energy"),
    Metric("energy_pj", "pJ",
           "inference energy per sample on the test split under the energy model in attrs costs "
           "(compute only for a cost table; compute, addressing and memory for lemaire-2022)",
           "mean", "report.total.energy_pj"),
    Metric("synops_dense", "1", "dense synaptic operations per sample", "mean", "report.total.dense_synops"),
    Metric("synops_effective_ac", "1", "effective accumulates (binary inputs) per sample", "mean",
           "report.total.effective_acs"),
    Metric("synops_effective_mac", "1", "effective multiply-accumulates (analog inputs) per sample", "mean",
           "report.total.effective_macs"),
    Metric("spikes", "1", "spikes per sample, summed over neurons and time", "mean", "report.total.spikes"),
    Metric("firing_rate", "1", "mean firing rate of spiking neurons, in spikes per neuron per time step",
           "split", "report.firing_rate"),
    Metric("activation_sparsity", "1", "fraction of zero neuron outputs", "split", "report.activation_sparsity"),
    Metric("membrane_updates", "1", "membrane-potential updates per sample", "mean",
           "report.total.membrane_updates"),
    Metric("neuron_ops_dense", "1", "neuron operations per sample, dense (NeuroBench NeuronOperations)", "mean",
           "report.total.neuron_ops_dense"),
    Metric("neuron_ops_effective", "1", "neuron operations per sample, effective (NeuroBench NeuronOperations)",
           "mean", "report.total.neuron_ops_effective"),
    Metric("energy_pj_ann", "pJ",
           "inference energy per sample of the same layers run once as an ANN (same cost table)", "mean",
           "report.energy_pj_ann"),
    Metric("ann_ratio", "1", "inference energy SNN / ANN-equivalent (below 1: the SNN is cheaper)", "split",
           "report.ann_ratio"),
    Metric("steps_to_target", "1", "optimizer steps until held-out accuracy first reached target_accuracy",
           "run", "to_target.step", display_units="optimizer steps"),
    Metric("samples_to_target", "1", "training samples until the target was reached", "run",
           "to_target.samples", display_units="samples"),
    Metric("train_energy_to_target_pj", "pJ", "training forward-pass energy until the target was reached", "run",
           "to_target.train_energy_pj"),
    Metric("train_time_to_target_s", "s", "training wall time until the target was reached", "run",
           "to_target.train_time_s"),
    Metric("train_energy_pj", "pJ", "training forward-pass energy of the whole run", "run",
           "result.train_energy_pj"),
    Metric("train_backward_energy_pj", "pJ", "estimated backward-pass energy of the whole run (2x the forward "
                                             "synaptic operations of each trained layer, as MACs)", "run",
           "result.train_backward_energy_pj"),
    Metric("train_time_s", "s", "training wall time (evaluations excluded)", "run", "result.train_time_s"),
    Metric("wall_time_s", "s", "wall time of the whole cell", "run"),
    Metric("steps", "1", "optimizer steps trained", "run", "result.steps", display_units="optimizer steps"),
    Metric("num_parameters", "1",
           "trainable parameters as the parameter budget counts them (token embedding table excluded)", "run",
           "result.num_parameters"),
    Metric("num_embedding_parameters", "1", "trainable parameters of the token embedding table (0 without one)",
           "run"),
    Metric("train_samples", "1", "size of the training subset the cell trained on, in samples", "run"),
    Metric("epochs", "1", "passes over the training subset actually trained", "run", "result.epochs"),
    Metric("num_steps", "1", "time steps T per sample", "run"),
    Metric("energy_scale", "1", "divisor of E in the loss, per sample (1 for energy_norm 'sum'; E at "
                                "initialisation for 'initial')", "run", "result.energy_scale"),
])

#: The learning-curve variables of the cube (dims ``DIMS + ("eval",)``), each read from every
#: ``CurvePoint`` of the run.
CURVE_METRICS: Mapping[str, Metric] = _registry([
    Metric("curve_step", "1", "optimizer step of the evaluation", "run", "point.step"),
    Metric("curve_accuracy", "1", "held-out accuracy (fraction)", "split", "point.accuracy"),
    Metric("curve_ce", "1", "held-out cross-entropy per sample, in nats", "mean", "point.ce"),
    Metric("curve_energy", "1", "held-out energy term per sample", "mean", "point.energy"),
    Metric("curve_train_energy_pj", "pJ", "cumulative training forward-pass energy", "run",
           "point.train_energy_pj"),
    Metric("curve_train_time_s", "s", "cumulative training wall time", "run", "point.train_time_s"),
], prefix=CURVE_PREFIX)

#: ``energy_pj_by_role`` (dim ``layer_role``): the record's per-layer ``energy_pj`` added up by role.
ENERGY_BY_ROLE = Metric("energy_pj_by_role", "pJ",
                        "inference energy per sample by layer role (see neuroenergy.results.schema.layer_role)",
                        "sum")

#: ``per_class_recall`` (dim ``class``).
PER_CLASS_RECALL = Metric("per_class_recall", "1",
                          "test recall of each class, fraction (class index as the dataset's labels; NaN beyond "
                          "its classes)", "split")


def curve_key(metric: Metric) -> str:
    """The key of a curve metric in a cell record's ``curve`` (its name without ``curve_``)."""
    return metric.name[len(CURVE_PREFIX):]


def require_declared(names: Iterable[str], registry: Mapping[str, Metric], where: str) -> None:
    """Raise ``UnknownNameError`` naming every one of ``names`` that ``registry`` does not declare.

    ``where`` says what was being written (``"a cell record's metrics"``), so the message
    points at the writer and at the declaration to add.
    """
    missing = [name for name in names if name not in registry]
    if missing:
        raise UnknownNameError(
            f"{where}: {', '.join(repr(n) for n in missing)} not declared in neuroenergy.metrics; "
            "declare each there (name, units, long_name, reduce) before writing it")
