"""neuroenergy: spiking/neuromorphic-first energy-aware learning on snnTorch.

Subpackages: ``energy`` (measure, cost tables, loss terms), ``models``,
``data``, ``train``, ``protocols``, ``results``, ``stats``; ``metrics``
declares every metric they report (name, units, long name, reduction).
"""

__version__ = "0.1.0"
