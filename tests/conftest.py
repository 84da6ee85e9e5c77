"""Test-session defaults: the real data root and no network.

``.venv/bin/python -m pytest`` from the README works without any variable
set: the data root falls back to ``../shared/data`` beside the checkout (the
layout of CI and of the developers' machines), and tests never download.
Variables already set win.
"""

import os
from pathlib import Path

_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if "NEUROENERGY_DATA" not in os.environ and _SHARED.is_dir():
    os.environ["NEUROENERGY_DATA"] = str(_SHARED)
os.environ.setdefault("NEUROENERGY_OFFLINE", "1")
