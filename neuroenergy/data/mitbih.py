"""MIT-BIH Arrhythmia Database: single-beat ECG windows in the five AAMI classes.

Layout: ``<root>/mitdb/<record>.{hea,dat,atr}`` (PhysioNet's files), read with
wfdb. The package knows 15 of the 48 records (the ones in the shared data,
chosen for class coverage): 100, 106, 118, 119, 200, 201, 207, 208, 209, 213,
220, 221, 222, 232, 233.

Splits (option ``split_mode``):

* ``"record"`` (default) -- inter-patient, after de Chazal et al. (2004):
  train = the DS1 records above (106, 118, 119, 201, 207, 208, 209, 220),
  test = the DS2 records (100, 200, 213, 221, 222, 232, 233). Each record is
  one patient, so no patient is in both splits. This is the honest setting,
  and the hard one: class proportions differ between the splits.
* ``"beat"`` -- all beats of all 15 records pooled and split per class,
  20 % to test (rounded half up; drawn with a fixed seed, 0, so the split
  never changes): stratified, but the same patients are in both splits,
  which inflates accuracy.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from neuroenergy.data._checksums import table
from neuroenergy.data.core import DATASETS, Built, DatasetDef
from neuroenergy.data.sources import SourceFile
from neuroenergy.errors import InvalidInputError
from neuroenergy.vocabulary import InputSpec

__all__ = ["MITBIH", "AAMI", "beat_windows"]

AAMI_CLASSES = ("N", "S", "V", "F", "Q")
AAMI = MappingProxyType(
    {
        **dict.fromkeys("NLRej", 0),  # N: normal, bundle branch blocks, escape beats
        **dict.fromkeys("aAJS", 1),  # S: supraventricular ectopic
        **dict.fromkeys("VE", 2),  # V: ventricular ectopic
        "F": 3,  # F: fusion of ventricular and normal
        **dict.fromkeys("/fQ", 4),  # Q: paced, fusion of paced and normal, unclassifiable
    }
)
"""MIT-BIH beat symbol -> AAMI class id (ANSI/AAMI EC57)."""
DS1 = ("106", "118", "119", "201", "207", "208", "209", "220")
DS2 = ("100", "200", "213", "221", "222", "232", "233")
RECORDS = tuple(sorted(DS1 + DS2))
FS = 360  # Hz
PRE = 90  # samples before the R peak (0.25 s)
POST = 166  # samples from the R peak on (0.46 s)
WINDOW = PRE + POST  # 256 samples = 0.711 s
TEST_FRACTION = 0.2  # split_mode="beat"
SPLIT_SEED = 0  # split_mode="beat": fixed so the split is the same for every run

# Beats per record and AAMI class (N, S, V, F, Q): every annotated beat of an
# AAMI symbol is kept (edge beats are padded, see beat_windows), so these are
# PhysioNet's annotation counts.
_RECORD_COUNTS = MappingProxyType(
    {
        "100": (2239, 33, 1, 0, 0),
        "106": (1507, 0, 520, 0, 0),
        "118": (2166, 96, 16, 0, 0),
        "119": (1543, 0, 444, 0, 0),
        "200": (1743, 30, 826, 2, 0),
        "201": (1635, 128, 198, 2, 0),
        "207": (1543, 107, 210, 0, 0),
        "208": (1586, 2, 992, 373, 2),
        "209": (2621, 383, 1, 0, 0),
        "213": (2641, 28, 220, 362, 0),
        "220": (1954, 94, 0, 0, 0),
        "221": (2031, 0, 396, 0, 0),
        "222": (2274, 209, 0, 0, 0),
        "232": (398, 1382, 0, 0, 0),
        "233": (2230, 7, 831, 11, 0),
    }
)
_PHYSIONET = "https://physionet.org/files/mitdb/1.0.0/"


def beat_windows(signal: np.ndarray, r_peaks: np.ndarray) -> np.ndarray:
    """Windows ``[len(r_peaks), WINDOW]`` float32 around R peaks, each z-scored.

    Window ``i`` is ``signal[r - PRE : r + POST]`` (R peak at index PRE).
    Beats closer than PRE / POST samples to the record's ends (a few per
    record) are kept by extending the signal with its first / last value.
    Each window is shifted to mean 0 and scaled to standard deviation 1
    (population std), which removes baseline offset and amplitude
    differences between patients; a flat window becomes all zeros. Hence
    every value lies in [-sqrt(WINDOW - 1), sqrt(WINDOW - 1)].
    """
    padded = np.pad(np.asarray(signal, np.float64), (PRE, POST), mode="edge")
    # In padded coordinates the window of a peak at r starts at r.
    windows = padded[np.asarray(r_peaks)[:, None] + np.arange(WINDOW)]
    windows -= windows.mean(axis=1, keepdims=True)
    std = windows.std(axis=1, keepdims=True)
    return np.divide(windows, std, out=np.zeros_like(windows), where=std > 1e-8).astype(np.float32)


class MITBIH(DatasetDef):
    """ECG beats of MIT-BIH (lead MLII), 5 AAMI classes N, S, V, F, Q -- heavily imbalanced.

    Input ``signal [1, 256]`` (0.711 s at 360 Hz, R peak at index 90): stored
    and yielded float32, each window z-scored (mean 0, std 1), so values lie
    in [-sqrt(255), sqrt(255)] ~ [-15.97, 15.97]. Default split by record
    (DS1 train 18,123 beats / DS2 test 17,894 beats); ``split_mode="beat"``
    gives a stratified 80/20 beat split (28,814 / 7,203).
    """

    name = "mitbih"
    modality = "physiological"
    class_names = AAMI_CLASSES
    storage_dtype = "float32"
    license = "Open Data Commons Attribution License v1.0 (PhysioNet)"
    citation = (
        "Moody GB, Mark RG (2001) The impact of the MIT-BIH Arrhythmia Database. IEEE EMB Mag 20(3):45-50; "
        "Goldberger et al. (2000) PhysioBank, PhysioToolkit, and PhysioNet. Circulation 101(23):e215-e220. "
        "DOI 10.13026/C2F305."
    )
    source = _PHYSIONET
    defaults = MappingProxyType({"split_mode": "record"})

    def validate(self, options: dict[str, Any]) -> None:
        if options["split_mode"] not in ("record", "beat"):
            raise InvalidInputError(
                f"mitbih: split_mode must be 'record' (inter-patient, default) or 'beat' "
                f"(stratified by beat), got {options['split_mode']!r}"
            )

    def input_spec(self, options: Mapping[str, Any]) -> InputSpec:
        return InputSpec("signal", (1, WINDOW))

    def value_range(self, options: Mapping[str, Any]) -> tuple[float, float]:
        bound = math.sqrt(WINDOW - 1)
        return (-bound, bound)

    def preprocessing(self, options: Mapping[str, Any]) -> str:
        split = (
            "split by record (de Chazal 2004 DS1 train / DS2 test; no patient in both)"
            if options["split_mode"] == "record"
            else f"all beats pooled, split per class {1 - TEST_FRACTION:.0%}/{TEST_FRACTION:.0%} (seed {SPLIT_SEED})"
        )
        return (
            f"lead MLII (channel 0, physical units) from wfdb; one window per annotated beat whose symbol maps to "
            f"an AAMI class (N={{N,L,R,e,j}}, S={{A,a,J,S}}, V={{V,E}}, F={{F}}, Q={{/,f,Q}}); non-beat "
            f"annotations (+ rhythm, ~ quality, | artefact, x non-conducted P, ! flutter wave, [ ] flutter "
            f"bounds, \" comment) are excluded; window = {WINDOW} samples ({WINDOW / FS:.3f} s), {PRE} before "
            f"the R peak; signal extended with its end values for beats near a record edge (none dropped); "
            f"each window z-scored (mean 0, population std 1; flat -> 0); {split}; beats in record, then time "
            f"order; meta['record'] gives each beat's record (index with .indices after limit)"
        )

    def _records(self, split: str, options: Mapping[str, Any]) -> tuple[str, ...]:
        if options["split_mode"] == "beat":
            return RECORDS
        return DS1 if split == "train" else DS2

    def sources(self, split: str, root: Path, cache: Path, options: Mapping[str, Any]) -> list[SourceFile]:
        known = table("mitdb")
        return [
            SourceFile(rel, *known[rel], urls=(_PHYSIONET + rel.removeprefix("mitdb/"),), group=record)
            for record in self._records(split, options)
            for rel in (f"mitdb/{record}.hea", f"mitdb/{record}.dat", f"mitdb/{record}.atr")
        ]

    def class_counts(self, split: str, root: Path, cache: Path, options: Mapping[str, Any]) -> tuple[int, ...]:
        if options["split_mode"] == "record":
            rows = [_RECORD_COUNTS[r] for r in self._records(split, options)]
            return tuple(int(sum(col)) for col in zip(*rows))
        totals = [sum(col) for col in zip(*_RECORD_COUNTS.values())]
        test = [_test_quota(n) for n in totals]
        return tuple(test) if split == "test" else tuple(n - t for n, t in zip(totals, test))

    def build(self, split: str, paths: Mapping[str, Path], options: Mapping[str, Any]) -> Built:
        with warnings.catch_warnings():
            # wfdb 4.3 trips pandas' deprecation warnings (at import and in rdann);
            # nothing a user could act on.
            warnings.filterwarnings("ignore", module=r"wfdb\b")
            import wfdb

        windows, labels, records = [], [], []
        for record in self._records(split, options):
            stem = str(paths[f"mitdb/{record}.hea"].with_suffix(""))
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", module=r"wfdb\b")
                rec = wfdb.rdrecord(stem, channels=[0])
                ann = wfdb.rdann(stem, "atr")
            if rec.sig_name[0] != "MLII":
                raise InvalidInputError(f"{stem}: channel 0 is {rec.sig_name[0]}, expected MLII")
            keep = [i for i, symbol in enumerate(ann.symbol) if symbol in AAMI]
            windows.append(beat_windows(rec.p_signal[:, 0], np.asarray(ann.sample)[keep]))
            labels.append(np.array([AAMI[ann.symbol[i]] for i in keep], np.int64))
            records.extend([int(record)] * len(keep))
        inputs = np.concatenate(windows)[:, None, :]
        targets = np.concatenate(labels)
        rows = np.arange(len(targets))
        if options["split_mode"] == "beat":
            rng = np.random.default_rng(SPLIT_SEED)
            test = np.zeros(len(targets), bool)
            for c in range(len(AAMI_CLASSES)):
                members = np.flatnonzero(targets == c)
                test[rng.permutation(members)[: _test_quota(len(members))]] = True
            rows = np.flatnonzero(test if split == "test" else ~test)
        return Built(inputs[rows], targets[rows], {"record": [records[i] for i in rows]})


def _test_quota(n: int) -> int:
    return math.floor(n * TEST_FRACTION + 0.5)


DATASETS.register(MITBIH.name, MITBIH())
