"""Models: the architecture registry, input encoders and the snnTorch networks.

Owns every architecture a study can cross with a dataset. All of them —
the conventional baselines included — are spiking snnTorch networks
(LIF-family neurons, surrogate gradients, time-stepped), take every input
kind (images, event frames, 1-D signals, audio features, token sequences)
and follow one convention (:class:`SpikingModel`, see ``base.py``):
``model(x [B, *shape]) -> output membrane [T, B, K]``; train with
cross-entropy on ``out.mean(0)``.

Public API::

    list_architectures()  # bimodal, cnn, lagrangian, lstm, mlp, rnn, transformer
    build(name_or_path, input_spec, num_classes, **overrides)
    register_architecture(name, builder)
    family_of(name)       # 'baseline' or 'energy_first'

Baselines: ``mlp``, ``cnn``, ``rnn`` (snn.RLeaky), ``lstm`` (snn.SLSTM),
``transformer`` (Spikformer-style). Energy-first: ``bimodal`` (BimodalTrue,
neuron-glia pathways) and ``lagrangian`` (Physics-Lagrangian: kinetic,
potential and constraint pathways). Defaults: each architecture's config
dataclass (``<name>.py``), rendered for readers into
``neuroenergy/models/configs/<name>.toml`` (:mod:`neuroenergy.models.configfiles`).

Building block: :class:`SequenceLeaky` (``neurons.py``), an ``snn.Leaky`` that
runs all T steps in one call and one autograd node (bit-identical values);
every architecture whose neuron input does not depend on its own past uses it.
"""

from neuroenergy import _deprecation

from .base import SpikingModel, count_parameters
from .catalog import (
    ARCHITECTURES,
    CONFIG_DIR,
    FAMILIES,
    Architecture,
    build,
    default_config,
    family_of,
    get_architecture,
    list_architectures,
    register_architecture,
    resolve_config,
)
from .config import ENCODER_NAMES, ENCODERS_BY_KIND, ModelConfig
from .encoders import Encoder
from .neurons import SequenceLeaky, leaky_membrane

__all__ = [
    "list_architectures",
    "build",
    "register_architecture",
    "get_architecture",
    "family_of",
    "FAMILIES",
    "default_config",
    "resolve_config",
    "Architecture",
    "ARCHITECTURES",
    "CONFIG_DIR",
    "SpikingModel",
    "SequenceLeaky",
    "leaky_membrane",
    "ModelConfig",
    "Encoder",
    "ENCODER_NAMES",
    "ENCODERS_BY_KIND",
    "count_parameters",
]


# deprecated module attribute, kept for code written before the rename
__getattr__ = _deprecation.renamed_attributes(
    __name__, {"SPEC_DIR": ("neuroenergy.models.CONFIG_DIR", lambda: CONFIG_DIR)})
