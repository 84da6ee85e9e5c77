"""Old public names kept after a rename: a module ``__getattr__`` that warns and forwards."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any


def renamed_attributes(module: str, renamed: Mapping[str, tuple[str, Callable[[], Any]]]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``module`` that serves each old name of ``renamed``
    (``old -> (its new name as the message shows it, a function returning the object)``)
    with a ``DeprecationWarning`` naming the new one, and raises AttributeError otherwise."""

    def __getattr__(name: str) -> Any:
        if name in renamed:
            new, get = renamed[name]
            warnings.warn(f"{module}.{name} is deprecated; use {new}", DeprecationWarning, stacklevel=2)
            return get()
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
