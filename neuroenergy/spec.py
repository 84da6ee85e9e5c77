"""Deprecated: the shared vocabulary moved to :mod:`neuroenergy.vocabulary`.

``neuroenergy.spec`` is kept so that old imports work; ``InputSpec``,
``InputKind``, ``INPUT_KINDS`` and ``FAMILIES`` are the very objects of
:mod:`neuroenergy.vocabulary` (``isinstance`` checks hold across both). The
word "spec" now means a protocol spec only (:mod:`neuroenergy.protocols.spec`).
"""

from __future__ import annotations

import warnings
from typing import Any

from neuroenergy import vocabulary

__all__ = list(vocabulary.__all__)

warnings.warn("neuroenergy.spec is deprecated; use neuroenergy.vocabulary (same names)",
              DeprecationWarning, stacklevel=2)


def __getattr__(name: str) -> Any:
    if name in vocabulary.__all__:
        warnings.warn(f"neuroenergy.spec.{name} is deprecated; use neuroenergy.vocabulary.{name}",
                      DeprecationWarning, stacklevel=2)
        return getattr(vocabulary, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
