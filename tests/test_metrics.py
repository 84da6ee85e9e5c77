"""Each metric is declared once (neuroenergy.metrics); the energy report, the cell record,
the cube and the statistics take its name, units and long name from there."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from neuroenergy import metrics
from neuroenergy.energy import UNITS, LayerEnergy
from neuroenergy.energy import report as energy_report
from neuroenergy.errors import UnknownNameError
from neuroenergy.metrics import CELL_METRICS, CURVE_METRICS, LAYER_METRICS, Metric
from neuroenergy.protocols import cell, load_spec
from neuroenergy.results.cube import build_cube, load_cube, write_cube
from neuroenergy.results.schema import CELL_VARIABLES, CURVE_VARIABLES
from neuroenergy.results.store import CellRecord
from neuroenergy.stats.efficiency import EFFICIENCY_METRICS
from neuroenergy.train.result import CurvePoint, TrainResult
from tiny_specs import tiny_spec_text

# The cube's variables, dims, units and long names as the code wrote them before the
# declarations existed (tests/data/cube_schema.json, taken from the cube _cube_of builds).
SCHEMA = Path(__file__).parent / "data" / "cube_schema.json"

# A target of 0 is reached at the first evaluation, so the *_to_target metrics are written too.
SPEC = tiny_spec_text(name="declared", description="every declared metric in one real cell", lam="[0.1]",
                      seeds="[0]", num_evals=3, target=0.0)


def _cube_of(records: list[dict], tmp_path: Path):
    cube = build_cube(records, architectures=["mlp"], datasets=["mnist"], lams=[0.1], seeds=[0],
                      families={"mlp": "baseline"}, modalities={"mnist": "vision"}, targets={"mnist": 0.0},
                      attrs={"protocol": "declared"}, num_classes={"mnist": 10})
    return load_cube(write_cube(cube, tmp_path / "cube.h5"))


@pytest.fixture(scope="module")
def record(tmp_path_factory) -> dict:
    """The record of one real cell (MNIST, mlp, a few steps)."""
    path = tmp_path_factory.mktemp("spec") / "declared.toml"
    path.write_text(SPEC)
    design = load_spec(str(path)).design("smoke")
    result = cell.run_cell(design.cell_config(next(iter(design.cells()))))
    assert result["status"] == "ok", result["error"]
    return result


def test_cube_schema_is_what_it_was_before_the_declarations(tmp_path: Path) -> None:
    record = {"architecture": "mlp", "dataset": "mnist", "lam": 0.1, "seed": 0, "status": "ok",
              "metrics": {name: 1.0 for name in CELL_VARIABLES},
              "curve": {"step": [10], "accuracy": [0.5], "ce": [0.7], "energy": [3.0],
                        "train_energy_pj": [5.0], "train_time_s": [1.0]},
              "per_class_recall": [0.5, 0.5], "test_class_counts": [3, 4],
              "layers": [{"name": "fc", "kind": "synapse", "module_type": "Linear", "energy_pj": 2.0}]}
    cube = _cube_of([record], tmp_path)
    now = {name: [list(cube[name].dims), cube[name].attrs.get("units"), cube[name].attrs.get("long_name")]
           for name in cube.variables}
    assert now == json.loads(SCHEMA.read_text())


def test_every_declared_metric_is_in_the_record_and_the_cube_with_its_units(record: dict,
                                                                           tmp_path: Path) -> None:
    # The record writes exactly the declared metrics and curves: none left out, none extra.
    assert set(record["metrics"]) == set(CELL_METRICS)
    assert {metrics.CURVE_PREFIX + key for key in record["curve"]} == set(CURVE_METRICS)
    assert record["metrics"]["steps_to_target"] == record["curve"]["step"][0] == 0  # target 0: reached at once
    assert record["metrics"]["epochs"] == pytest.approx(1.0)
    assert record["metrics"]["spikes"] > 0 and record["metrics"]["energy_pj"] > 0
    cube = _cube_of([record], tmp_path)
    for metric in [*CELL_METRICS.values(), *CURVE_METRICS.values()]:
        var = cube[metric.name]
        assert var.attrs["units"] == metric.units and var.attrs["long_name"] == metric.long_name
    for name, value in record["metrics"].items():
        expected = math.nan if value is None else float(value)
        np.testing.assert_equal(float(cube[name].squeeze()), expected, err_msg=name)
    np.testing.assert_allclose(cube["curve_accuracy"].squeeze().values[: len(record["curve"]["accuracy"])],
                               record["curve"]["accuracy"])
    # The record's cube figures are the report's totals, under the names the cube gives them.
    assert record["metrics"]["synops_effective_ac"] == pytest.approx(
        sum(row["effective_acs"] for row in record["layers"]))


def test_a_new_declaration_with_a_source_reaches_the_record(monkeypatch) -> None:
    result = TrainResult(
        status="ok", lam=0.0, energy_term="activation", seed=0, device="cpu", steps=4, samples=128, epochs=1.0,
        curve=(CurvePoint(4, 128, 1.0, 0.7, 3.0, 0.5, 10.0, 46.0, 0.1, 0.2),), test_accuracy=0.5, test_ce=0.7,
        test_energy=3.0, test_report=None, train_synops=10.0, train_energy_pj=46.0, train_time_s=0.1,
        wall_time_s=0.2, num_parameters=100, readout="mean")
    samples = Metric("train_samples_seen", "1", "training samples seen", "run", "result.samples")
    monkeypatch.setattr(cell, "CELL_METRICS", {**CELL_METRICS, samples.name: samples})
    values = cell._metrics(result, 0.4)
    assert values["train_samples_seen"] == 128
    # without a report the report's metrics are left out (NaN in the cube), not written as None
    assert "energy_pj" not in values and values["accuracy"] == 0.5 and values["steps_to_target"] == 4
    assert "steps_to_target" not in cell._metrics(result, 0.6)  # never reached


def test_the_cell_record_is_typed_where_it_is_made_and_where_it_is_stored(tmp_path: Path) -> None:
    from neuroenergy.errors import ConfigError
    from neuroenergy.results.store import RunStore

    record = CellRecord("mlp__mnist__lam0.0__seed0", "mlp", "mnist", 0.0, 0, status="ok")
    with pytest.raises(AttributeError):
        record.metrix = {}  # a misspelt field fails where it is written
    data = record.to_dict()
    assert "layers" not in data and data["metrics"] == {} and CellRecord.from_dict(data) == record
    store = RunStore(tmp_path)
    store.write(data)
    assert store.read(record.key) == data
    for bad, message in (({**data, "metrix": {}}, "unknown key 'metrix'"),
                         ({k: v for k, v in data.items() if k != "seed"}, "missing key 'seed'"),
                         ({**data, "status": "done"}, "status 'done' is not one of ok, failed, diverged")):
        with pytest.raises(ConfigError, match=message):
            store.write(bad)
    assert store.keys() == {record.key}  # nothing bad reached the disk


def test_an_undeclared_metric_is_a_clear_error_where_it_is_written(monkeypatch, tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match=r"'accuracyy' not declared in neuroenergy\.metrics"):
        cell._check_declared(CellRecord("k", "mlp", "mnist", 0.0, 0, metrics={"accuracy": 1.0, "accuracyy": 0.5},
                                        curve={"step": []}))
    with pytest.raises(UnknownNameError, match=r"a cell record's curve: 'curve_lr'"):
        cell._check_declared(CellRecord("k", "mlp", "mnist", 0.0, 0, curve={"step": [], "lr": [1e-3]}))
    # A cell whose code writes an undeclared metric fails with that line instead of losing the value.
    real = cell._metrics
    monkeypatch.setattr(cell, "_metrics", lambda result, target: {**real(result, target), "energy_uj": 1.0})
    path = tmp_path / "declared.toml"
    path.write_text(SPEC)
    design = load_spec(str(path)).design("smoke")
    failed = cell.run_cell(design.cell_config(next(iter(design.cells()))))
    assert failed["status"] == "failed"
    assert failed["error"].startswith("UnknownNameError: a cell record's metrics: 'energy_uj' not declared")


def test_a_layer_field_without_declaration_is_refused() -> None:
    @dataclass(frozen=True)
    class WithExtra(LayerEnergy):
        synapse_reads: float = 0.0

    with pytest.raises(TypeError, match="synapse_reads not declared in neuroenergy.metrics.LAYER_METRICS"):
        energy_report._check_declarations(WithExtra)
    energy_report._check_declarations(LayerEnergy)  # the real one matches its declarations


def test_a_declaration_says_its_units_in_udunits() -> None:
    with pytest.raises(ValueError, match="units 'pJ per sample' is not one of"):
        Metric("energy", "pJ per sample", "inference energy", "sum")
    with pytest.raises(ValueError, match="reduce 'average' is not one of"):
        Metric("energy", "pJ", "inference energy", "average")
    with pytest.raises(ValueError, match="source 'train.steps'"):
        Metric("steps", "1", "optimizer steps", "run", "train.steps")


def test_the_derived_tables_agree_with_the_declarations() -> None:
    # the cube's figures read from the report's total keep the units of the layer count they read
    for metric in CELL_METRICS.values():
        if metric.source and metric.source.startswith("report.total."):
            assert LAYER_METRICS[metric.source.removeprefix("report.total.")].units == metric.units, metric.name
    assert dict(UNITS) == {m.name: m.display_units for m in LAYER_METRICS.values()}
    assert UNITS["energy_pj"] == "pJ per sample" and UNITS["read_in_bytes"] == "bytes per sample"
    assert CELL_VARIABLES["energy_pj"] == ("pJ", CELL_METRICS["energy_pj"].long_name)
    assert list(CURVE_VARIABLES) == list(CURVE_METRICS)
    assert EFFICIENCY_METRICS["steps_to_target"] == ("optimizer steps", "curve_step")
    assert EFFICIENCY_METRICS["train_energy_to_target_pj"][0] == CELL_METRICS["train_energy_to_target_pj"].units
    with pytest.raises(TypeError):
        CELL_METRICS["x"] = CELL_METRICS["accuracy"]  # read-only
