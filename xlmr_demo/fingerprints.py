"""Content fingerprints of model folders: every byte of every file that shapes the vectors is hashed.

A model's fingerprint keys the embedding cache and ties saved classifiers to their encoder, so it
must change when any weight does: a copy of a model with one tensor overwritten in the middle is a
different model. Hashing a 470 MB folder takes about a second, so each file's SHA-256 is
remembered (in ``<cache>/fingerprints.json``) under its path and identity (size, modification and
change times, inode, device), and hashed again only when one of those changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

from .paths import cache_dir
from .writers import write_file_atomically

MEMO_FILE = "fingerprints.json"
#: Files that can change what a folder's model computes: configs, vocabularies, weights.
MODEL_FILES = (".json", ".txt", ".model", ".safetensors", ".bin", ".pt", ".onnx")
_LOCK = threading.Lock()


def _new_lock_after_fork() -> None:
    """A process forked while another thread fingerprinted a folder would otherwise find the lock held forever."""
    global _LOCK
    _LOCK = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_after_fork)


def _identity(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def sha256(path: Path) -> str:
    """SHA-256 of ``path``'s bytes, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_memo(memo_path: Path) -> dict:
    try:
        memo = json.loads(memo_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return memo if isinstance(memo, dict) else {}


def file_sha256(path: Path, memo_path: Path | None = None) -> str:
    """SHA-256 of ``path``'s bytes, remembered until the file's identity changes."""
    memo_path = memo_path or cache_dir() / MEMO_FILE
    key = str(path.resolve())
    identity = _identity(path)
    with _LOCK:
        known = _read_memo(memo_path).get(key)
    if isinstance(known, dict) and known.get("identity") == identity:
        return known["sha256"]
    digest = sha256(path)
    if _identity(path) != identity:  # written to while we read: do not remember a mixed hash
        return digest
    with _LOCK:
        memo = _read_memo(memo_path)
        memo[key] = {"identity": identity, "sha256": digest}
        text = json.dumps(memo, indent=0)
        write_file_atomically(memo_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return digest


def folder_fingerprint(folder: Path) -> str:
    """A 16-hex-digit digest of every model file in ``folder`` (names and contents)."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.suffix in MODEL_FILES and path.is_file():
            digest.update(f"{path.relative_to(folder).as_posix()}\0{file_sha256(path)}\n".encode())
    return digest.hexdigest()[:16]


def tensors_fingerprint(tensors) -> str:
    """SHA-256 of named arrays (a mapping of name to numpy array): names, dtypes, shapes and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        value = tensors[name]
        digest.update(f"{name}|{value.dtype.str}|{value.shape}|".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()
