"""Vocabulary shared across packages: :class:`InputSpec`, the input kinds and the
architecture families.

``InputSpec`` (what a model needs to know about its input) is shared by
``neuroenergy.data`` (``info(name).input_spec``) and ``neuroenergy.models``
(``build(name, input_spec, num_classes)``), so neither depends on the other;
:data:`FAMILIES` by ``neuroenergy.models`` (each architecture declares one) and
``neuroenergy.stats`` (energy-first versus baseline gains), which need not
import the models (torch) to know the names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from neuroenergy.errors import InvalidInputError

InputKind = Literal["image", "events", "signal", "audio", "tokens"]
INPUT_KINDS: tuple[str, ...] = ("image", "events", "signal", "audio", "tokens")
#: Architecture families: conventional ``baseline`` networks and ``energy_first`` designs
#: (the paper's BimodalTrue and Physics-Lagrangian).
FAMILIES: tuple[str, ...] = ("baseline", "energy_first")

__all__ = ["InputSpec", "InputKind", "INPUT_KINDS", "FAMILIES"]


@dataclass(frozen=True)
class InputSpec:
    """Kind and per-sample shape of a dataset's inputs, as a loader yields them.

    A loader yields batch-first ``(inputs [B, *shape], targets [B])``; the
    model's encoder turns ``inputs`` into a time-first ``[T, B, ...]`` tensor.

    Attributes:
        kind: ``image`` (shape ``[C, H, W]``, float in [0, 1]);
            ``events`` (``[T_bins, C, H, W]`` event counts per bin, already
            in time);
            ``signal`` (``[C, L]`` float, e.g. an ECG window);
            ``audio`` (``[F, L]`` float features, F bands x L frames);
            ``tokens`` (``[L]`` int64 token ids, 0 = padding).
        shape: per-sample shape, without the batch dimension.
        vocab_size: number of token ids (``tokens`` only).
    """

    kind: str
    shape: tuple[int, ...]
    vocab_size: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in INPUT_KINDS:
            raise InvalidInputError(
                f"unknown input kind {self.kind!r}; expected one of {', '.join(INPUT_KINDS)}"
            )
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        expected = {"image": 3, "events": 4, "signal": 2, "audio": 2, "tokens": 1}[self.kind]
        if len(self.shape) != expected or any(s <= 0 for s in self.shape):
            raise InvalidInputError(
                f"input kind {self.kind!r} needs a positive shape of {expected} dims, got {self.shape}"
            )
        if self.kind == "tokens" and (self.vocab_size is None or self.vocab_size < 2):
            raise InvalidInputError("input kind 'tokens' needs vocab_size >= 2")
