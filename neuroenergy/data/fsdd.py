"""Free Spoken Digit Dataset: 3,000 recordings of spoken digits, as log-Mel features.

Layout: ``<root>/FSDD/recordings/{digit}_{speaker}_{index}.wav`` (8 kHz mono
16-bit; 6 speakers x 10 digits x 50 recordings). Official split: recordings
with index 0-4 are the test set (300), 5-49 the training set (2,700). WAVs are
read with soundfile (torchaudio.load would need FFmpeg); features come from
``torchaudio.transforms.MelSpectrogram``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from neuroenergy.data._checksums import table
from neuroenergy.data.core import DATASETS, Built, DatasetDef
from neuroenergy.data.sources import Archive, SourceFile
from neuroenergy.errors import InvalidInputError
from neuroenergy.vocabulary import InputSpec

__all__ = ["FSDD", "log_mel"]

SAMPLE_RATE = 8000
N_FFT = 256  # 32 ms Hann window
HOP = 128  # 16 ms
N_MELS = 40
N_FRAMES = 64
N_SAMPLES = HOP * (N_FRAMES - 1)  # 8,064 samples = 1.008 s: centred STFT frames -> exactly N_FRAMES
TOP_DB = 80.0
_COMMIT = "26eb9aaf76e81b692f806f9140c2d2777410d7a1"  # the snapshot whose checksums we ship
# One archive of that snapshot from the official repository, not 3,000 requests. GitHub builds
# the zip on request (its bytes are not guaranteed stable), so no archive digest is pinned:
# every extracted recording is checked against its own sha256 instead.
_ARCHIVE = Archive(
    f"https://github.com/Jakobovski/free-spoken-digit-dataset/archive/{_COMMIT}.zip",
    f"free-spoken-digit-dataset-{_COMMIT}.zip",
)


def fit_length(wave: np.ndarray, n: int = N_SAMPLES) -> np.ndarray:
    """Zero-pad at the end, or keep the most energetic ``n``-sample stretch."""
    if len(wave) <= n:
        return np.pad(wave, (0, n - len(wave)))
    energy = np.concatenate([[0.0], np.cumsum(wave.astype(np.float64) ** 2)])
    start = int(np.argmax(energy[n:] - energy[:-n]))
    return wave[start : start + n]


def _import_torchaudio():
    """torchaudio, or one clear line when its compiled library does not match torch's release."""
    try:
        import torchaudio
        import torchaudio.transforms  # noqa: F401  (loads the compiled library)
    except (ImportError, OSError) as exc:
        import torch

        from neuroenergy.errors import InstallError

        raise InstallError(
            f"torchaudio does not load beside torch {torch.__version__} ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:160]}); install the matching release: "
            f"pip install 'torchaudio=={torch.__version__.split('+')[0]}'"
        ) from exc
    return torchaudio


def log_mel(waves: np.ndarray) -> np.ndarray:
    """``[N, N_SAMPLES]`` float waveforms -> ``[N, N_MELS, N_FRAMES]`` float32 in [0, 1].

    Mel power (HTK mel scale, 0-4 kHz) in dB relative to each utterance's
    loudest bin, clipped at -80 dB and mapped linearly: 0 = -80 dB or
    quieter (padding is silence, hence 0), 1 = the utterance's maximum.
    """
    import torch

    torchaudio = _import_torchaudio()
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=SAMPLE_RATE,
        n_fft=N_FFT,
        hop_length=HOP,
        f_min=0.0,
        f_max=SAMPLE_RATE / 2,
        n_mels=N_MELS,
        power=2.0,
        center=True,
        mel_scale="htk",
    )(torch.from_numpy(np.ascontiguousarray(waves, dtype=np.float32)))
    db = 10.0 * torch.log10(mel.clamp_min(1e-10))
    db = db - db.amax(dim=(1, 2), keepdim=True)
    return ((db.clamp_min(-TOP_DB) + TOP_DB) / TOP_DB).numpy().astype(np.float32)


def _parse(relpath: str) -> tuple[int, str, int]:
    digit, speaker, index = Path(relpath).stem.split("_")
    return int(digit), speaker, int(index)


class FSDD(DatasetDef):
    """Spoken digits 0-9 (6 speakers): 2,700 train / 300 test, 10 balanced classes.

    Input ``audio [40, 64]`` (mel bands x 16 ms frames, 1.008 s): stored and
    yielded float32 in [0, 1] (log-Mel power relative to the utterance's
    maximum, -80 dB -> 0, maximum -> 1; every sample's maximum is exactly 1).
    """

    name = "fsdd"
    modality = "audio"
    class_names = tuple(str(d) for d in range(10))
    storage_dtype = "float32"
    license = "CC BY-SA 4.0"
    citation = "Jackson Z. et al., Free Spoken Digit Dataset (FSDD), github.com/Jakobovski/free-spoken-digit-dataset."
    source = f"https://github.com/Jakobovski/free-spoken-digit-dataset (commit {_COMMIT})"

    def input_spec(self, options: Mapping[str, Any]) -> InputSpec:
        return InputSpec("audio", (N_MELS, N_FRAMES))

    def value_range(self, options: Mapping[str, Any]) -> tuple[float, float]:
        return (0.0, 1.0)

    def preprocessing(self, options: Mapping[str, Any]) -> str:
        return (
            f"WAV (8 kHz mono, read with soundfile as float in [-1, 1]) fitted to {N_SAMPLES} samples "
            f"({N_SAMPLES / SAMPLE_RATE:.3f} s): shorter ones zero-padded at the end, longer ones (the ~1% over "
            f"1 s) cropped to their most energetic {N_SAMPLES}-sample stretch; torchaudio MelSpectrogram "
            f"(n_fft={N_FFT} = 32 ms Hann, hop={HOP} = 16 ms, centred, {N_MELS} HTK mel bands 0-4 kHz, power) "
            f"-> [{N_MELS}, {N_FRAMES}]; dB relative to the utterance's maximum, clipped at -{TOP_DB:g} dB, "
            f"mapped to [0, 1] (x = (dB + {TOP_DB:g}) / {TOP_DB:g}); official split by recording index "
            "(0-4 test, 5-49 train); samples ordered by digit, speaker, index"
        )

    def _files(self, split: str) -> list[tuple[str, str, int]]:
        test = split == "test"
        rows = [(rel, sha, size) for rel, (sha, size) in table("FSDD").items() if (_parse(rel)[2] < 5) == test]
        return sorted(rows, key=lambda row: _parse(row[0]))

    def sources(self, split: str, root: Path, cache: Path, options: Mapping[str, Any]) -> list[SourceFile]:
        return [
            SourceFile(rel, sha, size, archive=_ARCHIVE, member=rel.removeprefix("FSDD/"))
            for rel, sha, size in self._files(split)
        ]

    def class_counts(self, split: str, root: Path, cache: Path, options: Mapping[str, Any]) -> tuple[int, ...]:
        digits = [_parse(rel)[0] for rel, _, _ in self._files(split)]
        return tuple(np.bincount(digits, minlength=10).tolist())

    def build(self, split: str, paths: Mapping[str, Path], options: Mapping[str, Any]) -> Built:
        import soundfile

        files = self._files(split)
        waves = np.zeros((len(files), N_SAMPLES), np.float32)
        for i, (rel, _, _) in enumerate(files):
            wave, rate = soundfile.read(paths[rel], dtype="float32", always_2d=False)
            if rate != SAMPLE_RATE or wave.ndim != 1:
                raise InvalidInputError(f"{paths[rel]}: expected 8 kHz mono, got {rate} Hz, shape {wave.shape}")
            waves[i] = fit_length(wave)
        labels = np.array([_parse(rel)[0] for rel, _, _ in files], np.int64)
        speakers = [_parse(rel)[1] for rel, _, _ in files]
        return Built(log_mel(waves), labels, {"speakers": speakers})


DATASETS.register(FSDD.name, FSDD())
