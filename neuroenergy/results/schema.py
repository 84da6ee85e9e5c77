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

__all__ = ["CONVENTIONS", "UNITS", "DIMS", "CELL_VARIABLES", "MAX_RECALL_CLASSES", "CURVE_VARIABLES", "STATUSES",
           "LAYER_ROLES", "layer_role"]

DIMS: tuple[str, ...] = ("architecture", "dataset", "lam", "seed")

#: The cube follows the CF conventions (global attribute ``Conventions``).
CONVENTIONS = "CF-1.10"
#: The UDUNITS strings the cube uses: "1" for fractions, counts and other
#: per-sample dimensionless figures (the long_name says "per sample"), pJ, s.
UNITS: tuple[str, ...] = ("1", "pJ", "s")

#: status of a cell: finished, raised an error, loss became NaN/inf, not run (yet).
STATUSES: tuple[str, ...] = ("ok", "failed", "diverged", "missing")

#: variable -> (UDUNITS units, long_name); dims ``DIMS``.
CELL_VARIABLES: dict[str, tuple[str, str]] = {
    "accuracy": ("1", "test accuracy (fraction) on the whole test split"),
    "balanced_accuracy": ("1", "test balanced accuracy (fraction): mean per-class recall (chance 1/K)"),
    "macro_f1": ("1", "test macro-F1 (fraction): unweighted mean of per-class F1"),
    "ce": ("1", "test cross-entropy per sample, in nats"),
    "energy_term": ("1", "the training energy term E(theta, x) per sample on the test split"),
    "activation_energy": ("1", "activation energy per sample: sum of squared neuron outputs over time (a.u.)"),
    "energy_pj": ("pJ", "inference energy per sample on the test split (compute-only, cost table in attrs)"),
    "synops_dense": ("1", "dense synaptic operations per sample"),
    "synops_effective_ac": ("1", "effective accumulates (binary inputs) per sample"),
    "synops_effective_mac": ("1", "effective multiply-accumulates (analog inputs) per sample"),
    "spikes": ("1", "spikes per sample, summed over neurons and time"),
    "firing_rate": ("1", "mean firing rate of spiking neurons, in spikes per neuron per time step"),
    "activation_sparsity": ("1", "fraction of zero neuron outputs"),
    "membrane_updates": ("1", "membrane-potential updates per sample"),
    "neuron_ops_dense": ("1", "neuron operations per sample, dense (NeuroBench NeuronOperations)"),
    "neuron_ops_effective": ("1", "neuron operations per sample, effective (NeuroBench NeuronOperations)"),
    "energy_pj_ann": ("pJ", "inference energy per sample of the same layers run once as an ANN (same cost table)"),
    "ann_ratio": ("1", "inference energy SNN / ANN-equivalent (below 1: the SNN is cheaper)"),
    "steps_to_target": ("1", "optimizer steps until held-out accuracy first reached target_accuracy"),
    "samples_to_target": ("1", "training samples until the target was reached"),
    "train_energy_to_target_pj": ("pJ", "training forward-pass energy until the target was reached"),
    "train_time_to_target_s": ("s", "training wall time until the target was reached"),
    "train_energy_pj": ("pJ", "training forward-pass energy of the whole run"),
    "train_backward_energy_pj": ("pJ", "estimated backward-pass energy of the whole run (2x the forward "
                                       "synaptic operations of each trained layer, as MACs)"),
    "train_time_s": ("s", "training wall time (evaluations excluded)"),
    "wall_time_s": ("s", "wall time of the whole cell"),
    "steps": ("1", "optimizer steps trained"),
    "num_parameters": ("1", "trainable parameters as the parameter budget counts them (token embedding table excluded)"),
    "num_embedding_parameters": ("1", "trainable parameters of the token embedding table (0 without one)"),
    "train_samples": ("1", "size of the training subset the cell trained on, in samples"),
    "epochs": ("1", "passes over the training subset actually trained"),
    "num_steps": ("1", "time steps T per sample"),
    "energy_scale": ("1", "divisor of E in the loss, per sample (1 for energy_norm 'sum'; E at initialisation "
                          "for 'initial')"),
}

#: ``per_class_recall`` (dims ``DIMS + ("class",)``) is stored when every dataset of the cube has at
#: most this many classes (a per-class table beyond it is unreadable and mostly empty).
MAX_RECALL_CLASSES = 10

#: variable -> (UDUNITS units, long_name); dims ``DIMS + ("eval",)``.
CURVE_VARIABLES: dict[str, tuple[str, str]] = {
    "curve_step": ("1", "optimizer step of the evaluation"),
    "curve_accuracy": ("1", "held-out accuracy (fraction)"),
    "curve_ce": ("1", "held-out cross-entropy per sample, in nats"),
    "curve_energy": ("1", "held-out energy term per sample"),
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
