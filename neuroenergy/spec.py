"""Deprecated: the shared vocabulary moved to :mod:`neuroenergy.vocabulary`.

``neuroenergy.spec`` is kept so that old imports work; ``InputSpec``,
``InputKind``, ``INPUT_KINDS`` and ``FAMILIES`` are the very objects of
:mod:`neuroenergy.vocabulary` (``isinstance`` checks hold across both). The
word "spec" now means a protocol spec only (:mod:`neuroenergy.protocols.spec`).
"""

from __future__ import annotations

from neuroenergy import vocabulary
from neuroenergy._deprecation import renamed_attributes, warn_renamed

__all__ = list(vocabulary.__all__)

warn_renamed("neuroenergy.spec", "neuroenergy.vocabulary (same names)")


__getattr__ = renamed_attributes(__name__, {
    name: (f"neuroenergy.vocabulary.{name}", lambda name=name: getattr(vocabulary, name))
    for name in vocabulary.__all__})
