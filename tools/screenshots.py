"""Retake the README's screenshots: run the browser test, then copy its screenshots into assets/.

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
TABS = ("data", "train", "predict", "explore", "compare")


def main() -> None:
    subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/test_e2e.py"], cwd=ROOT, check=True)
    for tab in TABS:
        shutil.copyfile(ROOT / "tests" / "_artifacts" / f"tab-{tab}.png", ROOT / "assets" / f"tab-{tab}.png")
        print(f"assets/tab-{tab}.png")


if __name__ == "__main__":
    main()
