"""``run_cell(config) -> record``: one architecture x dataset x lambda x seed run.

A cell is a pure function of its config (a :class:`~neuroenergy.protocols.spec.CellConfig`
from ``Design.cell_config``, or that config's plain-dict form), so it can
run in any process or machine; the record it returns is plain JSON-able data. Errors never escape: a cell that
raises is recorded as ``failed`` with its message, one whose loss becomes
NaN/inf as ``diverged``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import math
import time
import traceback
from typing import Any

import torch

from neuroenergy.metrics import CELL_METRICS, CURVE_METRICS, CURVE_PREFIX, curve_key, require_declared

__all__ = ["run_cell", "config_hash", "canonical_config", "record_matches_config"]


def _as_dict(config) -> dict[str, Any]:
    from neuroenergy.protocols.spec import CellConfig

    return config.to_dict() if isinstance(config, CellConfig) else config


def canonical_config(config) -> str:
    """The resolved per-cell config (``Design.cell_config``) as canonical JSON: everything
    that trains and scores the cell, plus the neuroenergy version that runs it; the
    cell's file key is left out (it is the factors, already in the config)."""
    from neuroenergy.results.store import _jsonable  # the record's own encoding of NaN/inf

    try:
        version = importlib.metadata.version("neuroenergy")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    body = {k: v for k, v in _as_dict(config).items() if k != "key"}
    return json.dumps({"config": _jsonable(body), "neuroenergy": version}, sort_keys=True, default=str)


def config_hash(config) -> str:
    """16 hex digits of the SHA-256 of :func:`canonical_config`: part of a cell's identity,
    stored in its record and the cube, so a result is never kept under a changed config."""
    return hashlib.sha256(canonical_config(config).encode("utf-8")).hexdigest()[:16]


def record_matches_config(record: dict[str, Any], config) -> bool:
    """True when ``record`` was trained with ``config`` (its stored hash; a record written
    before hashes existed is compared by its stored config, the version aside)."""
    if record.get("config_hash"):
        return record["config_hash"] == config_hash(config)
    if not isinstance(record.get("config"), dict):
        return False
    return (json.loads(canonical_config(record["config"]))["config"]
            == json.loads(canonical_config(config))["config"])


@functools.lru_cache(maxsize=8)
def _load(dataset: str, split: str, limit: int):
    # Cached per worker process: every cell of a dataset sees the same subset
    # (subset seed 0), and a worker running many cells reads it once.
    from neuroenergy import data

    return data.load(dataset, split, limit=limit or None, seed=0)


def run_cell(config) -> dict[str, Any]:
    """Train and evaluate one cell (a ``CellConfig`` or its dict form); returns its record
    (``CellRecord.to_dict()``; never raises)."""
    from neuroenergy.errors import ConfigError
    from neuroenergy.protocols.spec import CellConfig
    from neuroenergy.results.store import CellRecord

    started = time.perf_counter()
    try:
        config = CellConfig.from_dict(config)
    except ConfigError as error:  # a malformed config fails its cell, named, before any work
        given = config if isinstance(config, dict) else {}
        return CellRecord(key=str(given.get("key", "?")), architecture=given.get("architecture"),
                          dataset=given.get("dataset"), lam=given.get("lam"), seed=given.get("seed"),
                          config=given, error=f"ConfigError: {error}").to_dict()
    record = CellRecord(key=config.key, architecture=config.architecture, dataset=config.dataset,
                        lam=float(config.lam), seed=int(config.seed), config=config.to_dict(),
                        config_hash=config_hash(config))
    try:
        from neuroenergy import data, models
        from neuroenergy.train import fit

        training = config.training
        info = data.info(config.dataset)
        train = _load(config.dataset, "train", training.train_limit)
        test = _load(config.dataset, "test", training.test_limit)
        torch.manual_seed(config.seed)
        overrides = dict(config.model_overrides)
        if training.num_steps is not None:
            overrides.setdefault("num_steps", training.num_steps)
        model = models.build(config.architecture, info.input_spec, info.num_classes, **overrides)
        fit_kwargs = training.fit_kwargs()
        fit_kwargs.pop("num_steps")  # set on the model at build time above
        result = fit(model, train, test, lam=float(config.lam), energy_term=config.energy_term,
                     energy_norm=config.energy_norm, seed=config.seed, **fit_kwargs)
        record.status = result.status
        record.error = result.message
        record.device = result.device
        record.metrics = _metrics(result, float(config.target_accuracy))
        # The budget this cell actually trained with (it differs by dataset, and by architecture where set).
        record.metrics.update(train_samples=len(train.targets),
                              num_steps=int(getattr(model, "num_steps", 0)) or None)
        record.curve = _curve(result)
        if result.test_report is not None:
            record.layers = [row.to_dict() for row in result.test_report.layers]
        record.per_class_recall = result.test_per_class_recall
        # Test samples per class: the chance levels (majority share, 1/K) the report compares against.
        record.test_class_counts = ([int(sum(row)) for row in result.test_confusion]
                                    if result.test_confusion is not None else [])
        record.family = getattr(model, "family", None)
        # the parameter budget leaves the token embedding table out; it is reported on its own
        record.metrics["num_parameters"] = models.count_parameters(model)
        record.metrics["num_embedding_parameters"] = (
            models.count_parameters(model, include_embedding=True) - models.count_parameters(model))
        record.modality = info.modality
        _check_declared(record)
    except Exception as error:  # a cell must never take the study down with it
        record.status = "failed"
        record.error = f"{type(error).__name__}: {error}"
        record.traceback = traceback.format_exc(limit=8)
    record.metrics["wall_time_s"] = time.perf_counter() - started
    record.torch_threads = torch.get_num_threads()  # what the wall time was measured with
    record.provenance = _provenance(record)
    return record.to_dict()


def _provenance(record) -> dict[str, Any]:
    from neuroenergy.provenance import cell_provenance

    return cell_provenance(device=record.device or "not run", threads=record.torch_threads)


def _metrics(result, target: float) -> dict[str, float]:
    """The record's metrics that ``CELL_METRICS`` gives a ``source``: read from the run
    (``result``), its test report and the curve point where it reached ``target``;
    the ones a missing report or an unreached target cannot give are left out (NaN in the cube)."""
    reached = result.efficiency(target) if not math.isnan(target) else None
    roots = {"result": result, "report": result.test_report, "to_target": reached}
    return {metric.name: metric.read(roots) for metric in CELL_METRICS.values()
            if metric.source is not None and roots[metric.root] is not None}


def _curve(result) -> dict[str, list]:
    """The learning curve as the record keeps it: one list per ``CURVE_METRICS`` entry."""
    return {curve_key(metric): [metric.read({"point": point}) for point in result.curve]
            for metric in CURVE_METRICS.values()}


def _check_declared(record) -> None:
    """A metric or curve the declarations do not know would be dropped from the cube
    without a word; refuse to write it instead."""
    require_declared(record.metrics, CELL_METRICS, "a cell record's metrics")
    require_declared([CURVE_PREFIX + key for key in record.curve], CURVE_METRICS, "a cell record's curve")
