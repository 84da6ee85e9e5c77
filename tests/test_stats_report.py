"""neuroenergy.stats.report: the text tables and report.md with figures, on small hand-made cubes."""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr

from neuroenergy.errors import InvalidInputError
from neuroenergy.stats import format_tables, write_report
from neuroenergy.stats.report import FIGURES
from stats_cubes import DIMS, make_cube

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _study_cube(lams=(0.0, 1e-2), datasets=("mnist", "nmnist"), layer=False):
    """2 architectures x 2 datasets x lambdas x 3 seeds with numbers whose statistics are known.

    accuracy at lambda = 0 is 0.9 + (the hand-computed 2 x 2 design) / 100, seed 2 at
    the cell mean: architecture means 0.94 and 0.965 around 0.9525, 6 runs each, so
    SS_architecture = 6 (2 x 0.0125^2) = 18.75e-4; SS_residual = 14e-4 (seed 2 adds
    none) -> partial eta^2 = 18.75 / 32.75 = 0.573. At lambda = 1e-2: activation energy exactly 1000x lower and
    accuracy exactly 0.1 pp lower on every seed. Energy to target: 100 pJ (baseline)
    vs 80 pJ (energy-first) -> gain 20%. Seed 1 of bimodal_true on nmnist at the
    largest lambda failed.
    """
    base = np.array([[[1, 3, 2], [5, 7, 6]], [[4, 6, 5], [6, 10, 8]]], float)[:, : len(datasets)]
    acc0 = 0.9 + base / 100
    n_l = len(lams)
    acc = np.stack([acc0 - 0.001 * (k > 0) for k in range(n_l)], axis=2)
    act = np.stack([np.full(acc0.shape, 5000.0) / (1000.0 if k else 1.0) for k in range(n_l)], axis=2)
    pj = np.stack([np.full(acc0.shape, 2e6) / (2.0 if k else 1.0) for k in range(n_l)], axis=2)
    energy = np.broadcast_to(np.array([100.0, 80.0])[:, None, None, None], acc.shape).copy()
    variables = {"accuracy": acc, "activation_energy": act, "energy_pj": pj,
                 "train_energy_to_target_pj": energy, "steps_to_target": energy / 10,
                 "train_time_to_target_s": energy / 100}
    extra = None
    if layer:
        per_layer = np.broadcast_to(np.array([1e6, 5e5, 5e5]), acc.shape + (3,)).copy()
        extra = {"layer_energy_pj": (DIMS + ("layer",), per_layer)}
    return make_cube(["lif_mlp", "bimodal_true"], list(datasets), list(lams), [0, 1, 2], variables,
                     families=["baseline", "energy_first"], modalities=["vision", "neuromorphic"][: len(datasets)],
                     target_accuracy=[0.9] * len(datasets),
                     status={("bimodal_true", datasets[-1], lams[-1], 1): "failed"}, extra=extra)


def test_format_tables_sections_and_numbers():
    text = format_tables(_study_cube())
    assert "cube: 24 cells = 2 architectures x 2 datasets x 2 lambdas x 3 seeds; ok 23, failed 1" in text
    assert "cost table: 45nm-fp32" in text and "not hardware readings" in text
    # the energies' caveat names the model the cube records, memory-aware or not
    memory_aware = _study_cube()
    memory_aware.attrs.update(costs="lemaire-2022", costs_description="lemaire-2022 v1: memory-aware, E_add 0.1 pJ")
    caveat = [line for line in format_tables(memory_aware).splitlines() if "cost table:" in line]
    assert caveat == ["- cost table: lemaire-2022 (energies in pJ are estimates per sample under lemaire-2022 v1: "
                      "memory-aware, E_add 0.1 pJ, not hardware readings)"]
    headings = [line for line in text.splitlines() if line and not line.startswith((" ", "-", "="))]
    assert headings[2:] == ["Paper vs this study", "1. Accuracy: factorial ANOVA and best architectures",
                            "2. Lambda sweep", "3. Training efficiency",
                            "4. Is the SNN cheaper than the same network run as an ANN?", "Definitions and thresholds"]
    architecture_row = next(line for line in text.splitlines() if line.strip().startswith("architecture  "))
    assert "0.001875" in architecture_row and "0.573" in architecture_row  # SS and partial eta^2
    sweep_rows = [line for line in text.splitlines() if re.match(r"\s+mnist\s+lif_mlp\s+0.01", line)]
    assert len(sweep_rows) == 2  # the sweep's row, then the frontier's
    frontier = sweep_rows[1].split()
    # largest equivalent lambda 0.01 over 3 pairs, E 1000x lower there, pJ 2x lower
    assert frontier[2:5] == ["0.01", "3", "1,000.0x"] and "2.0x" in frontier
    assert "1,000x" in sweep_rows[0] and "-0.10  [-0.10, -0.10]" in sweep_rows[0]
    assert sweep_rows[0].split()[-3:] == ["yes", "yes", "yes"]  # ~1000x, |change| < 0.5 pp, CI inside
    assert "+20.0%" in text  # efficiency gain, both modalities
    assert "2. lambda sweep on mnist" in text
    assert "yes: 2/2 architectures reach >= 316x" in text


def test_write_report_files_and_content(tmp_path):
    path = write_report(_study_cube(), tmp_path / "out")
    assert path == tmp_path / "out" / "report.md"
    for key, name in FIGURES.items():
        if key == "ann":  # this cube predates the ANN-equivalent: the section says so instead
            assert not (tmp_path / "out" / name).exists()
            continue
        assert (tmp_path / "out" / name).read_bytes()[:8] == PNG_SIGNATURE, name
        assert f"]({name})" in path.read_text()
    md = path.read_text()
    assert "Not available: the cube holds no `ann_ratio`" in md
    assert "## Paper vs this study" in md and "| finding | paper | this study | holds on our runs? |" in md
    assert "| architecture=bimodal_true dataset=nmnist lam=0.01 seed=1 | failed |" in md
    assert "The cube holds no per-layer energy" in md
    assert "steps to target (n = " in md and "Secondary, confounded by per-sample cost" in md


def test_cube_with_only_lambda_zero_says_there_is_no_sweep(tmp_path):
    cube = _study_cube(lams=(0.0,))
    text = format_tables(cube)
    assert "2. Lambda sweep\n  No sweep: the cube has only lambda = 0" in text
    md = write_report(cube, tmp_path).read_text()
    assert "No sweep: the cube has only lambda = 0" in md
    assert not (tmp_path / FIGURES["sweep"]).exists()
    assert (tmp_path / FIGURES["interaction"]).exists()


def test_one_dataset_cube_reports_why_the_anova_is_missing():
    text = format_tables(_study_cube(datasets=("mnist",)))
    assert "not available: factor 'dataset' has one level ('mnist')" in text


def test_per_layer_energy_is_drawn_when_the_cube_has_it(tmp_path):
    md = write_report(_study_cube(layer=True), tmp_path).read_text()
    assert "Per-layer energy (layer_energy_pj)" in md


def test_cube_from_a_file_path(tmp_path):
    file = tmp_path / "cube.h5"
    _study_cube().to_netcdf(file, engine="h5netcdf")
    assert "ok 23, failed 1" in format_tables(file)
    with pytest.raises(InvalidInputError, match="no result cube file"):
        format_tables(tmp_path / "missing.h5")


def test_report_shows_snn_over_ann_energy(tmp_path):
    cube = _study_cube()
    # SNN / ANN energy: 0.25 for the first architecture, 2 for the second, on every dataset and seed.
    ratio = xr.ones_like(cube["accuracy"]) * xr.DataArray([0.25, 2.0], dims="architecture")
    cube["ann_ratio"] = ratio.where(cube["status"] == "ok")
    md = write_report(cube, tmp_path / "out").read_text()
    assert (tmp_path / "out" / FIGURES["ann"]).read_bytes()[:8] == PNG_SIGNATURE
    section = md.split("## 5. Is the SNN cheaper")[1].split("##")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "architecture" not in line]
    assert [row.split(" | ")[1:] for row in rows] == [["0.25", "0.25 |"], ["2", "2 |"]]
    assert "whole kernel per input spike" not in section  # said only under the memory-aware model
    cube.attrs["costs"] = "lemaire-2022"
    md = write_report(cube, tmp_path / "memory-aware").read_text()
    assert "whole kernel per input spike" in md.split("## 5. Is the SNN cheaper")[1].split("##")[0]


def _paper_rows(text: str) -> dict[str, str]:
    """finding -> 'holds on our runs?' of the text's paper section (first row of each finding)."""
    lines = text.split("Paper vs this study\n")[1].split("\n\n")[0].splitlines()
    rows: dict[str, str] = {}
    for k, line in enumerate(lines):
        if not line.startswith("    "):
            verdict = lines[k + 3].split(":", 1)[1].strip()
            rows.setdefault(line.strip(), verdict)
    return rows


def test_verdicts_follow_the_thresholds_in_paper(monkeypatch):
    from dataclasses import replace

    from neuroenergy.stats import paper

    cube = _study_cube()
    before = _paper_rows(format_tables(cube))
    # partial eta^2 of the architecture 0.573, energy 1000x lower with -0.1 pp at lambda 1e-2, gain +20%.
    assert before["1a. architecture main effect on accuracy (partial eta^2)"] == "no: larger than 0.01"
    assert before["2. lambda sweep on mnist"] == "yes: 2/2 architectures reach >= 316x with |change| < 0.5 pp"
    assert before["3. training efficiency, modality vision (vs all baselines)"] == \
        "yes: within the paper's range; CI excludes 0"

    monkeypatch.setattr(paper, "ANOVA", replace(paper.ANOVA, main_effect_small=paper.Bound("<", 0.6)))
    monkeypatch.setattr(paper, "SWEEP", replace(paper.SWEEP, energy_reduction=paper.Bound(">=", 2000.0)))
    monkeypatch.setattr(paper, "EFFICIENCY", replace(paper.EFFICIENCY, gain_range=(0.25, 0.5)))
    text = format_tables(cube)
    after = _paper_rows(text)
    assert after["1a. architecture main effect on accuracy (partial eta^2)"] == "small (< 0.6)"
    assert after["2. lambda sweep on mnist"] == "no: 0/2 architectures reach >= 2000x with |change| < 0.5 pp"
    assert after["3. training efficiency, modality vision (vs all baselines)"] == \
        "no: smaller than 25%; CI excludes 0"
    # The tables' flags and column names read the same thresholds.
    sweep_row = next(line for line in text.splitlines() if re.match(r"\s+mnist\s+lif_mlp\s+0.01", line))
    assert sweep_row.split()[-3:] == ["no", "yes", "yes"]
    assert "in 25-50%?" in text and "reduction >= 2000x" in text


def test_accuracy_margin_in_paper_sets_the_sweep_flags_and_headers(monkeypatch):
    from dataclasses import replace

    from neuroenergy.stats import paper

    # Every change is -0.10 pp: inside +-0.5 pp, outside +-0.05 pp.
    monkeypatch.setattr(paper, "SWEEP", replace(paper.SWEEP, accuracy_change_pp=paper.Bound("<", 0.05)))
    text = format_tables(_study_cube())
    assert "|d|<0.05pp?" in text and "CI in +-0.05pp?" in text
    sweep_row = next(line for line in text.splitlines() if re.match(r"\s+mnist\s+lif_mlp\s+0.01", line))
    assert sweep_row.split()[-3:] == ["yes", "no", "no"]
    assert _paper_rows(text)["2. lambda sweep on mnist"] == \
        "no: 0/2 architectures reach >= 316x with |change| < 0.05 pp"
