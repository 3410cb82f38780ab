"""Retake the README's screenshots: run the browser tests, then copy their screenshots into assets/
(each tab, and each step of a product manager's walk through a messy export).

    python tools/screenshots.py

Needs Debian's chromium (``apt-get install chromium``, plus ``fonts-noto-core fonts-noto-cjk`` for
non-Latin scripts) and ``pip install playwright``; it never downloads a browser.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABS = ("data", "train", "train-finetuned", "predict", "explore", "explore-finetuned", "entities", "compare", "inside")
WALK = ("1-upload", "2-check", "3-headline", "4-diagnostics", "5-predict")
MAP = ("search", "selection", "rtl-hover", "rtl-table")  # questioning the map, and right-to-left scripts


def main() -> None:
    subprocess.run([sys.executable, "-m", "pytest", "-q", "--slow", "tests/test_e2e.py"], cwd=ROOT, check=True)
    names = [f"tab-{tab}.png" for tab in TABS] + [f"walk-{step}.png" for step in WALK]
    for name in names + [f"map-{m}.png" for m in MAP] + ["finetune-live.png"]:
        shutil.copyfile(ROOT / "tests" / "_artifacts" / name, ROOT / "assets" / name)
        print(f"assets/{name}")


if __name__ == "__main__":
    main()
