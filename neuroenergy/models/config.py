"""Typed architecture configs, their validation and their TOML form.

Owns: :class:`ModelConfig` (the fields every architecture shares: time steps,
parameter budget, neuron, encoders) with one subclass per architecture that
adds its sizes; the checks that turn a bad value into a
:class:`~neuroenergy.errors.ConfigError` naming the key; writing a config as
a commented config file (:meth:`ModelConfig.to_toml`) and reading one
(``neuroenergy/models/configs/<name>.toml`` or a user's copy of one).

The dataclasses are the one place where defaults live. Each field carries its
default, its check, its doc (the comment beside the key in a config file) and
its table; the shipped config files are rendered from them
(:mod:`neuroenergy.models.configfiles`), never edited by hand.

A config is flat: every field is one override key of
``neuroenergy.models.build(name, input_spec, k, **overrides)``. The TOML file groups
the same keys into tables only for the reader: ``[sizes]``, ``[neuron]``,
``[encoder]`` (the default encoder per input kind) and ``[encoding]``
(encoder parameters); a field whose value is itself a table (``encoder``,
``patch``) is written as a table named after the field.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from neuroenergy._deprecation import warn_renamed
from neuroenergy.errors import ConfigError
from neuroenergy.vocabulary import INPUT_KINDS

try:  # Python >= 3.11
    import tomllib as _toml
except ModuleNotFoundError:  # pragma: no cover - Python 3.10 needs the tomli backport
    import tomli as _toml  # type: ignore[no-redef]

__all__ = [
    "ModelConfig",
    "ENCODERS_BY_KIND",
    "ENCODER_NAMES",
    "SURROGATES",
    "META_KEYS",
    "read_config_file",
    "read_spec_file",
    "config_field",
]

#: Which encoders can turn which input kind into spikes/currents (first one:
#: nothing; each architecture's TOML chooses its default per kind).
ENCODERS_BY_KIND: dict[str, tuple[str, ...]] = {
    "image": ("rate", "latency", "direct"),
    "events": ("events",),
    "signal": ("delta", "rate", "latency", "direct"),
    "audio": ("delta", "rate", "latency", "direct"),
    "tokens": ("direct", "rate"),
}
ENCODER_NAMES: tuple[str, ...] = ("rate", "latency", "delta", "direct", "events")
SURROGATES: tuple[str, ...] = ("fast_sigmoid", "atan", "sigmoid")
RESETS: tuple[str, ...] = ("subtract", "zero", "none")
#: Keys of a config file that describe the architecture rather than configure it.
META_KEYS: tuple[str, ...] = ("name", "family", "description")

Check = Callable[[str, Any], Any]


# --------------------------------------------------------------------------
# value checks: each takes (key, value), returns the normalised value or
# raises ConfigError naming the key and saying what is allowed.
# --------------------------------------------------------------------------


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(float(v))


def positive_int(minimum: int = 1) -> Check:
    def check(key: str, v: Any) -> int:
        if not _is_int(v) or v < minimum:
            raise ConfigError(f"{key!r} must be an integer >= {minimum}, got {v!r}")
        return int(v)

    return check


def float_range(lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> Check:
    def check(key: str, v: Any) -> float:
        ok = _is_number(v)
        if ok:
            x = float(v)
            ok = (x > lo if lo_open else x >= lo) and (x < hi if hi_open else x <= hi)
        if not ok:
            left, right = ("(" if lo_open else "["), (")" if hi_open else "]")
            raise ConfigError(f"{key!r} must be a number in {left}{lo}, {hi}{right}, got {v!r}")
        return float(v)

    return check


def positive_float(key: str, v: Any) -> float:
    if not _is_number(v) or float(v) <= 0:
        raise ConfigError(f"{key!r} must be a positive number, got {v!r}")
    return float(v)


def choice(*options: str) -> Check:
    def check(key: str, v: Any) -> str:
        if v not in options:
            raise ConfigError(f"{key!r} must be one of {', '.join(options)}; got {v!r}")
        return str(v)

    return check


def boolean(key: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(f"{key!r} must be true or false, got {v!r}")
    return v


def size_or_auto(key: str, v: Any) -> int | str:
    """A layer width: a positive integer, or "auto" (solved from ``target_params``)."""
    if v == "auto":
        return "auto"
    if not _is_int(v) or v < 1:
        raise ConfigError(
            f"{key!r} must be a positive integer or \"auto\" (width chosen to meet "
            f"target_params), got {v!r}"
        )
    return int(v)


def sizes_or_auto(key: str, v: Any) -> list[int] | str:
    """Layer widths: a non-empty list of positive integers (an int means [int]) or "auto"."""
    if v == "auto":
        return "auto"
    if _is_int(v):
        v = [v]
    if (
        not isinstance(v, (list, tuple))
        or not v
        or not all(_is_int(s) and s >= 1 for s in v)
    ):
        raise ConfigError(
            f"{key!r} must be \"auto\" or a non-empty list of positive integers, got {v!r}"
        )
    return [int(s) for s in v]


def per_kind_int(key: str, v: Any) -> dict[str, int]:
    """A table {input kind: positive int} covering every input kind."""
    if not isinstance(v, Mapping):
        raise ConfigError(f"{key!r} must be a table of input kind -> positive integer, got {v!r}")
    out = {}
    for kind, n in v.items():
        if kind not in INPUT_KINDS:
            raise ConfigError(
                f"{key!r} has unknown input kind {kind!r}; input kinds: {', '.join(INPUT_KINDS)}"
            )
        out[kind] = positive_int()(f"{key}.{kind}", n)
    return out


def encoder_table(key: str, v: Any) -> dict[str, str]:
    """A table {input kind: encoder name}; each encoder must be able to take its kind."""
    if not isinstance(v, Mapping):
        raise ConfigError(f"{key!r} must be a table of input kind -> encoder name, got {v!r}")
    out = {}
    for kind, name in v.items():
        if kind not in INPUT_KINDS:
            raise ConfigError(
                f"{key!r} has unknown input kind {kind!r}; input kinds: {', '.join(INPUT_KINDS)}"
            )
        allowed = ENCODERS_BY_KIND[kind]
        if name not in allowed:
            raise ConfigError(
                f"encoder {name!r} cannot encode {kind!r} inputs; choose one of "
                f"{', '.join(allowed)} (key {key}.{kind})"
            )
        out[kind] = str(name)
    return out


def config_field(
    default: Any = dataclasses.MISSING,
    *,
    section: str | None,
    check: Check,
    doc: str,
    factory: Callable[[], Any] | None = None,
    entry_docs: Mapping[str, str] | None = None,
) -> Any:
    """A config dataclass field with its TOML table (``section``), check and doc.

    ``section=None`` puts the key at the top level of the config file;
    ``section="@table"`` writes the field itself as a table named after it
    (``doc`` is then the comment above the table, and ``entry_docs`` may add a
    comment to single entries, e.g. why one input kind differs).
    """
    meta = {"section": section, "check": check, "doc": doc, "entry_docs": dict(entry_docs or {})}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def _default_encoders() -> dict[str, str]:
    return {"image": "rate", "events": "events", "signal": "delta", "audio": "rate", "tokens": "direct"}


C = TypeVar("C", bound="ModelConfig")


@dataclass
class ModelConfig:
    """Fields every architecture shares. Units: time in steps, rates per step.

    Subclasses add their sizes (``section="sizes"``). Sizes that accept
    ``"auto"`` are solved at build time so the network (encoder embedding
    excluded) has about ``target_params`` parameters on the given input —
    that is how architectures are compared at matched capacity.
    """

    num_steps: int = config_field(
        25, section=None, check=positive_int(),
        doc="time steps T for static inputs; event inputs use min(num_steps, T_bins)",
    )
    target_params: int = config_field(
        100_000, section=None, check=positive_int(),
        doc="parameter budget that 'auto' sizes are solved for (embedding table excluded)",
    )
    # --- neuron (every LIF in the network) ---
    beta: float = config_field(
        0.9, section="neuron", check=float_range(0.0, 1.0, lo_open=True),
        doc="membrane decay per step, in (0, 1]",
    )
    threshold: float = config_field(
        1.0, section="neuron", check=positive_float, doc="firing threshold (membrane units)"
    )
    surrogate: str = config_field(
        "atan", section="neuron", check=choice(*SURROGATES),
        doc="surrogate gradient of the spike: fast_sigmoid, atan or sigmoid",
    )
    slope: float = config_field(
        2.0, section="neuron", check=positive_float,
        doc="surrogate steepness (fast_sigmoid/sigmoid slope, atan alpha)",
    )
    reset: str = config_field(
        "subtract", section="neuron", check=choice(*RESETS),
        doc="reset after a spike: subtract, zero or none",
    )
    # --- encoders ---
    encoder: dict[str, str] = config_field(
        section="@table", check=encoder_table, factory=_default_encoders,
        doc="default encoder per input kind (override with build(..., encoder=\"name\"))",
    )
    rate_gain: float = config_field(
        1.0, section="encoding", check=positive_float,
        doc="rate coding: spike probability per step = clamp(gain * x, 0, 1)",
    )
    latency_threshold: float = config_field(
        0.01, section="encoding", check=float_range(0.0, 1.0, hi_open=True),
        doc="latency coding: features below this never fire",
    )
    delta_threshold: float = config_field(
        0.1, section="encoding", check=positive_float,
        doc="delta coding: change between samples, in per-sample standard deviations, that fires",
    )
    embed_dim: int = config_field(
        32, section="encoding", check=positive_int(), doc="token embedding size E"
    )
    events_binarize: bool = config_field(
        True, section="encoding", check=boolean,
        doc="events: a bin with >= 1 event is one spike (else counts pass as graded input)",
    )

    #: fields that may be "auto" and are solved together from one width w
    WIDTH_FIELDS: ClassVar[tuple[str, ...]] = ()
    #: the comment above each table of the config file; a subclass adds its own
    #: tables' comments (looked up along the class hierarchy)
    SECTION_DOCS: ClassVar[Mapping[str, str]] = {
        "sizes": 'layer sizes; "auto" = solved at build time so the network has ~target_params '
                 "parameters on the given input",
        "neuron": "every LIF neuron of the network (snnTorch Leaky family, surrogate gradients)",
        "encoding": "encoder parameters",
    }

    # ------------------------------------------------------------------
    @classmethod
    def field_map(cls) -> dict[str, dataclasses.Field]:
        return {f.name: f for f in dataclasses.fields(cls)}

    @classmethod
    def keys(cls) -> list[str]:
        """Every override key, in declaration order."""
        return [f.name for f in dataclasses.fields(cls)]

    def validate(self: C) -> C:
        """Check and normalise every field in place; returns self."""
        for name, f in self.field_map().items():
            setattr(self, name, f.metadata["check"](name, getattr(self, name)))
        self._validate_extra()
        return self

    def _validate_extra(self) -> None:
        """Cross-field checks of a subclass."""

    def with_values(self: C, values: Mapping[str, Any], *, source: str = "overrides") -> C:
        """A validated copy with ``values`` applied (unknown keys -> ConfigError).

        ``encoder`` accepts a whole/partial table; the table is merged.
        """
        fmap = self.field_map()
        unknown = [k for k in values if k not in fmap]
        if unknown:
            raise ConfigError(
                f"unknown key {unknown[0]!r} in {source} for {type(self).__name__}; "
                f"valid keys: {', '.join(fmap)}"
            )
        merged = dict(values)
        for key in ("encoder", "patch", "stride", "pool"):
            if key in merged and isinstance(merged[key], Mapping) and key in fmap:
                merged[key] = {**getattr(self, key), **merged[key]}
        new = dataclasses.replace(self, **merged)
        return new.validate()

    @property
    def width_step(self) -> int:
        """Widths tried for "auto" are multiples of this (e.g. attention heads)."""
        return 1

    def needs_width(self) -> bool:
        return any(getattr(self, k) == "auto" for k in self.WIDTH_FIELDS)

    def with_width(self: C, width: int) -> C:
        """Fill every "auto" size from one width (subclasses say how)."""
        return self

    def to_dict(self) -> dict[str, Any]:
        """Flat {key: value} (tables as dicts), e.g. to store with a result."""
        return {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
                for k, v in dataclasses.asdict(self).items()}

    def to_toml_tables(self) -> dict[str, Any]:
        """The nested layout of a config file (without name/family/description)."""
        out: dict[str, Any] = {}
        for name, f in self.field_map().items():
            section = f.metadata["section"]
            value = getattr(self, name)
            if section is None:
                out[name] = value
            elif section == "@table":
                out[name] = dict(value)
            else:
                out.setdefault(section, {})[name] = value
        return out

    @classmethod
    def section_doc(cls, section: str) -> str:
        """The comment above table ``section`` ("" when no class in the hierarchy gives one)."""
        for klass in cls.__mro__:
            doc = vars(klass).get("SECTION_DOCS", {}).get(section)
            if doc:
                return doc
        return ""

    @classmethod
    def toml_layout(cls) -> tuple[list[str], list[tuple[str, list[str]]]]:
        """(top-level keys, [(table, its keys)]) in the order a config file shows them.

        Top-level keys in declaration order; then the architecture's own tables
        (those of fields a subclass declares), then the shared ones, each where
        its first field is declared. A ``"@table"`` field is a table of its own.
        """
        shared = {f.name for f in dataclasses.fields(ModelConfig)}
        fields = dataclasses.fields(cls)
        ordered = [f for f in fields if f.name not in shared] + [f for f in fields if f.name in shared]
        top = [f.name for f in fields if f.metadata["section"] is None]
        tables: dict[str, list[str]] = {}
        for f in ordered:
            section = f.metadata["section"]
            if section == "@table":
                tables[f.name] = []
            elif section is not None:
                tables.setdefault(section, []).append(f.name)
        return top, list(tables.items())

    def to_toml(self, *, name: str, family: str, description: str = "",
                header: Sequence[str] = ()) -> str:
        """This config as a config file (TOML): every key with its doc as a comment, grouped in tables.

        ``build(path, ...)`` on the written file gives this config back
        (``name`` and ``family`` say which architecture it configures;
        ``header`` lines become the comment at the top, ``description`` is
        written with its own line breaks).
        """
        fmap = self.field_map()
        lines = [f"# {line}".rstrip() for line in header]
        if lines:
            lines.append("")
        lines += [f"name = {_toml_value(name)}", f"family = {_toml_value(family)}"]
        if description:
            escaped = description.strip().replace("\\", "\\\\").replace('"""', '""\\"')
            lines.append(f'description = """\n{escaped}"""')
        top, tables = self.toml_layout()
        lines.append("")
        lines += [_toml_line(key, getattr(self, key), fmap[key].metadata["doc"]) for key in top]
        for table, keys in tables:
            lines.append("")
            if keys:  # a table of several fields
                doc = self.section_doc(table)
                entries = [_toml_line(key, getattr(self, key), fmap[key].metadata["doc"]) for key in keys]
            else:  # a "@table" field: its entries are the table
                meta = fmap[table].metadata
                doc = meta["doc"]
                entries = [_toml_line(str(k), v, meta["entry_docs"].get(k, ""))
                           for k, v in getattr(self, table).items()]
            if doc:
                lines.append(f"# {doc}")
            lines += [f"[{table}]", *entries]
        return "\n".join(lines) + "\n"

    @classmethod
    def flatten_tables(cls, data: Mapping[str, Any], *, source: str) -> dict[str, Any]:
        """Config-file layout -> flat {key: value}; a key in the wrong table is an error."""
        fmap = cls.field_map()
        sections = {f.metadata["section"] for f in fmap.values()} - {None, "@table"}
        flat: dict[str, Any] = {}
        for key, value in data.items():
            if key in META_KEYS:
                continue
            if key in sections:
                if not isinstance(value, Mapping):
                    raise ConfigError(f"{source}: [{key}] must be a table")
                for sub, v in value.items():
                    f = fmap.get(sub)
                    if f is None or f.metadata["section"] != key:
                        valid = [n for n, g in fmap.items() if g.metadata["section"] == key]
                        raise ConfigError(
                            f"{source}: unknown key {sub!r} in [{key}]; valid keys: {', '.join(valid)}"
                        )
                    flat[sub] = v
            elif key in fmap and fmap[key].metadata["section"] in (None, "@table"):
                flat[key] = value
            else:
                top = [n for n, g in fmap.items() if g.metadata["section"] in (None, "@table")]
                raise ConfigError(
                    f"{source}: unknown key or table {key!r}; valid: "
                    f"{', '.join(list(META_KEYS) + top + sorted(sections))}"
                )
        return flat


def _toml_value(value: Any) -> str:
    """One TOML value (a scalar or a list of scalars)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else
                                                         ("inf" if value > 0 else "-inf"))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigError(f"cannot write {value!r} ({type(value).__name__}) as a TOML value")


#: Column where the comment beside a key starts in a config file.
_COMMENT_COLUMN = 26


def _toml_line(key: str, value: Any, doc: str) -> str:
    assignment = f"{key} = {_toml_value(value)}"
    if not doc:
        return assignment
    return f"{assignment:<{_COMMENT_COLUMN - 2}}  # {doc}"


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Parse an architecture config file (TOML); ConfigError if it is missing or malformed."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(
            f"architecture config file {str(p)!r} does not exist; pass a registered name "
            f"(see neuroenergy.models.list_architectures()) or a path to a .toml copy of one"
        )
    try:
        with p.open("rb") as fh:
            data = _toml.load(fh)
    except _toml.TOMLDecodeError as exc:
        raise ConfigError(
            f"{p}: not valid TOML ({exc}); fix the file or copy neuroenergy/models/configs/<name>.toml again"
        ) from None
    if not isinstance(data.get("name"), str):
        raise ConfigError(f"{p}: missing 'name = \"<architecture>\"' at the top of the file")
    return data


def read_spec_file(path: str | Path) -> dict[str, Any]:
    """Deprecated name of :func:`read_config_file`."""
    warn_renamed("neuroenergy.models.config.read_spec_file", "read_config_file")
    return read_config_file(path)
