"""The result cube's schema: dimensions, coordinates, variables and units.

One place that names every variable of the cube, so the runner that writes
it and the statistics that read it agree. A cube is an ``xarray.Dataset``
saved as netCDF4/HDF5 (h5netcdf engine).

Dimensions: ``architecture``, ``dataset``, ``lam`` (lambda, float), ``seed``
(int), and ``eval`` (learning-curve evaluation index) for ``curve_*``.
Coordinates: ``modality(dataset)``, ``family(architecture)``.
Missing, failed and diverged cells hold NaN in every numeric variable and
their ``status``.
"""

from __future__ import annotations

__all__ = ["DIMS", "CELL_VARIABLES", "MAX_RECALL_CLASSES", "CURVE_VARIABLES", "STATUSES", "LAYER_ROLES", "layer_role"]

DIMS: tuple[str, ...] = ("architecture", "dataset", "lam", "seed")

#: status of a cell: finished, raised an error, loss became NaN/inf, not run (yet).
STATUSES: tuple[str, ...] = ("ok", "failed", "diverged", "missing")

#: variable -> (units, description); dims ``DIMS``.
CELL_VARIABLES: dict[str, tuple[str, str]] = {
    "accuracy": ("fraction", "test accuracy on the whole test split"),
    "balanced_accuracy": ("fraction", "test balanced accuracy: mean per-class recall (chance 1/K)"),
    "macro_f1": ("fraction", "test macro-F1: unweighted mean of per-class F1"),
    "ce": ("nats per sample", "test cross-entropy"),
    "energy_term": ("per sample", "the training energy term E(theta, x) on the test split"),
    "activation_energy": ("per sample (a.u.)", "sum of squared neuron outputs, summed over time"),
    "energy_pj": ("pJ per sample", "inference energy on the test split (compute-only, cost table in attrs)"),
    "synops_dense": ("operations per sample", "dense synaptic operations"),
    "synops_effective_ac": ("ACs per sample", "effective accumulates (binary inputs)"),
    "synops_effective_mac": ("MACs per sample", "effective multiply-accumulates (analog inputs)"),
    "spikes": ("spikes per sample", "spikes summed over neurons and time"),
    "firing_rate": ("spikes per neuron per step", "mean firing rate of spiking neurons"),
    "activation_sparsity": ("fraction", "fraction of zero neuron outputs"),
    "membrane_updates": ("updates per sample", "membrane-potential updates"),
    "neuron_ops_dense": ("operations per sample", "neuron operations, dense (NeuroBench NeuronOperations)"),
    "neuron_ops_effective": ("operations per sample", "neuron operations, effective (NeuroBench NeuronOperations)"),
    "energy_pj_ann": ("pJ per sample", "inference energy of the same layers run once as an ANN (same cost table)"),
    "ann_ratio": ("fraction", "inference energy SNN / ANN-equivalent (below 1: the SNN is cheaper)"),
    "steps_to_target": ("optimizer steps", "steps until held-out accuracy first reached target_accuracy"),
    "samples_to_target": ("samples", "training samples until the target was reached"),
    "train_energy_to_target_pj": ("pJ", "training forward-pass energy until the target was reached"),
    "train_time_to_target_s": ("s", "training wall time until the target was reached"),
    "train_energy_pj": ("pJ", "training forward-pass energy of the whole run"),
    "train_backward_energy_pj": ("pJ", "estimated backward-pass energy of the whole run (2x the forward "
                                       "synaptic operations of each trained layer, as MACs)"),
    "train_time_s": ("s", "training wall time (evaluations excluded)"),
    "wall_time_s": ("s", "wall time of the whole cell"),
    "steps": ("optimizer steps", "steps trained"),
    "num_parameters": ("parameters", "trainable parameter count"),
    "train_samples": ("samples", "size of the training subset the cell trained on"),
    "epochs": ("passes", "passes over the training subset actually trained"),
    "num_steps": ("time steps", "time steps T per sample"),
    "energy_scale": ("per sample", "divisor of E in the loss (1 for energy_norm 'sum'; E at initialisation "
                                   "for 'initial')"),
}

#: ``per_class_recall`` (dims ``DIMS + ("class",)``) is stored when every dataset of the cube has at
#: most this many classes (a per-class table beyond it is unreadable and mostly empty).
MAX_RECALL_CLASSES = 10

#: variable -> (units, description); dims ``DIMS + ("eval",)``.
CURVE_VARIABLES: dict[str, tuple[str, str]] = {
    "curve_step": ("optimizer steps", "step of the evaluation"),
    "curve_accuracy": ("fraction", "held-out accuracy"),
    "curve_ce": ("nats per sample", "held-out cross-entropy"),
    "curve_energy": ("per sample", "held-out energy term"),
    "curve_train_energy_pj": ("pJ", "cumulative training forward-pass energy"),
    "curve_train_time_s": ("s", "cumulative training wall time"),
}

#: Roles of ``energy_pj_by_layer`` (dim ``layer``): where a network spends its
#: inference energy, comparable across architectures whose layer names differ.
LAYER_ROLES: tuple[str, ...] = ("input layer", "hidden & other", "recurrent", "attention",
                                "readout", "neuron updates")


def layer_role(row: dict, first_synapse: str | None) -> str:
    """Role of one ``measure`` row (``EnergyReport.layers[i].to_dict()``).

    ``attention`` holds activity-by-activity products (``SynapticMatmul``);
    ``hidden & other`` every other synaptic layer, the energy-first models'
    extra pathways included. The input layer is the first synaptic module (module order; every
    neuroenergy architecture registers its input layer first), the readout
    the module named ``readout`` (every neuroenergy architecture); spiking
    neurons count under ``neuron updates`` (nonzero only when the cost table
    prices membrane updates).
    """
    if row["kind"] != "synapse":
        return "neuron updates"
    name, module_type = row["name"], row["module_type"]
    if module_type in ("SynapticMatmul", "SpikeMatmul"):
        return "attention"
    if module_type in ("LSTMCell", "GRUCell", "RNNCell") or name.endswith("recurrent"):
        return "recurrent"
    if name == "readout" or name.endswith(".readout"):
        return "readout"
    if name == first_synapse:
        return "input layer"
    return "hidden & other"
