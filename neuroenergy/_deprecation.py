"""Old public names kept after a rename: the one warning they give, and a module
``__getattr__`` that warns and forwards."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any


def warn_renamed(old: str, new: str, *, stacklevel: int = 2) -> None:
    """Warn (``DeprecationWarning``) that ``old`` is deprecated in favour of ``new``.

    ``stacklevel`` as for ``warnings.warn`` called where this is called (2: that
    function's caller)."""
    warnings.warn(f"{old} is deprecated; use {new}", DeprecationWarning, stacklevel=stacklevel + 1)


def renamed_attributes(module: str, renamed: Mapping[str, tuple[str, Callable[[], Any]]]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``module`` that serves each old name of ``renamed``
    (``old -> (its new name as the message shows it, a function returning the object)``)
    with a ``DeprecationWarning`` naming the new one, and raises AttributeError otherwise."""

    def __getattr__(name: str) -> Any:
        if name in renamed:
            new, get = renamed[name]
            warn_renamed(f"{module}.{name}", new)
            return get()
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
