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


def output_file(path: str | Path, suffixes: tuple[str, ...], what: str) -> Path:
    """Check, before any work, that ``path`` can be written as a ``what`` file with one of ``suffixes``."""
    from .errors import UserError

    path = Path(path)
    if path.suffix.lower() not in suffixes:
        wanted = " or ".join(suffixes)
        raise UserError(
            f"{what} is written as {wanted}, not {path.suffix or 'a file without extension'} ({path.name})."
        )
    if not path.parent.is_dir():
        raise UserError(f"Cannot write {path}: folder {path.parent} does not exist.")
    return path


def write_file_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """Write ``path`` through a temporary sibling renamed into place: readers never see half a file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; a saved model or table is an ordinary file
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
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
