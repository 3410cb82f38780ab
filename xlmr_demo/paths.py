"""Where xlmr_demo keeps its on-disk state, and how it writes there safely."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

CACHE_ENV = "XLMR_DEMO_CACHE"


def cache_dir() -> Path:
    """The root of every cache (materialised models, embeddings).

    ``$XLMR_DEMO_CACHE`` when set, else ``~/.cache/xlmr_demo``. Created on first use.
    """
    root = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "xlmr_demo")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_dir_atomically(target: Path, fill: Callable[[Path], None]) -> Path:
    """Create directory ``target`` by filling a temporary sibling and renaming it into place.

    Readers therefore see either no directory or a complete one, even if the writer is killed
    half-way or two processes race (the loser's copy is discarded).
    """
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        fill(tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():  # a real failure, not a lost race
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
