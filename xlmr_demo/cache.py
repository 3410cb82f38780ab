"""Caches of sentence embeddings keyed by (encoder cache key, text).

On a laptop, a disk cache: one SQLite file per encoder cache key (model fingerprint, precision,
device) under ``<cache_dir>/embeddings/``; each row maps a 128-bit BLAKE2 digest of the text to its
float32 vector and token count. SQLite gives concurrent readers and writers across processes (app
sessions, CLI runs, workers) without a server, and a lookup of thousands of keys costs
milliseconds, so re-embedding a file already seen is nearly free.

Where visitors share a server, their texts must not reach its disk nor each other: the app gives
each session a :class:`MemoryCache` and runs the session's work inside :func:`cache_scope`; in
public mode, work outside any scope is not cached at all (:func:`open_cache`).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import numpy as np

from .limits import public_mode
from .paths import cache_dir

_CHUNK = 500  # keys per SELECT ... IN (...): below SQLite's bound-parameter limit


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class EmbeddingCache:
    """Vectors of one encoder, persisted on disk, with each text's untruncated token count."""

    def __init__(self, key: str, root: Path | None = None) -> None:
        folder = (root or cache_dir()) / "embeddings"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{key}.sqlite"
        self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS emb (k BLOB PRIMARY KEY, n INTEGER NOT NULL, v BLOB NOT NULL) WITHOUT ROWID"
        )

    def get(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """Look ``texts`` up.

        Returns ``(found, vectors, n_tokens)``: a bool mask ``(n,)``; float32 ``(n, dim)`` with zero
        rows where missing, or None when nothing was found; int64 token counts ``(n,)``, 0 where missing.
        """
        where: dict[bytes, list[int]] = {}
        for i, t in enumerate(texts):
            where.setdefault(_key(t), []).append(i)
        found = np.zeros(len(texts), dtype=bool)
        n_tokens = np.zeros(len(texts), dtype=np.int64)
        vectors: np.ndarray | None = None
        unique = list(where)
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for k, n, v in self._db.execute(f"SELECT k, n, v FROM emb WHERE k IN ({marks})", chunk):
                vec = np.frombuffer(v, dtype=np.float32)
                if vectors is None:
                    vectors = np.zeros((len(texts), vec.size), dtype=np.float32)
                rows = where[k]
                vectors[rows] = vec
                n_tokens[rows] = n
                found[rows] = True
        return found, vectors, n_tokens

    def put(self, texts: Sequence[str], vectors: np.ndarray, n_tokens: Sequence[int]) -> None:
        """Store ``vectors[i]`` and the token count ``n_tokens[i]`` for ``texts[i]``."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        rows = [(_key(t), int(n_tokens[i]), vectors[i].tobytes()) for i, t in enumerate(texts)]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO emb (k, n, v) VALUES (?, ?, ?)", rows)

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM emb").fetchone()[0]

    def close(self) -> None:
        self._db.close()


class MemoryCache:
    """Embeddings held in memory for one owner (an app session), for any number of encoders.

    :attr:`nbytes` is what it holds, so the owner's memory can be accounted for; it is freed with
    the object.
    """

    ENTRY_OVERHEAD = 200  # bytes per entry beyond the vector: dict slot, key, tuple

    def __init__(self) -> None:
        self._entries: dict[tuple[str, bytes], tuple[int, np.ndarray]] = {}
        self._lock = threading.Lock()
        self.nbytes = 0

    def view(self, key: str) -> _MemoryView:
        """The part of this cache for encoder cache key ``key``, with :class:`EmbeddingCache`'s methods."""
        return _MemoryView(self, key)


class _MemoryView:
    def __init__(self, owner: MemoryCache, key: str) -> None:
        self._owner, self._key = owner, key

    def get(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        found = np.zeros(len(texts), dtype=bool)
        n_tokens = np.zeros(len(texts), dtype=np.int64)
        vectors: np.ndarray | None = None
        entries = self._owner._entries
        for i, text in enumerate(texts):
            hit = entries.get((self._key, _key(text)))
            if hit is not None:
                if vectors is None:
                    vectors = np.zeros((len(texts), hit[1].size), dtype=np.float32)
                n_tokens[i], vectors[i] = hit
                found[i] = True
        return found, vectors, n_tokens

    def put(self, texts: Sequence[str], vectors: np.ndarray, n_tokens: Sequence[int]) -> None:
        owner = self._owner
        with owner._lock:
            for i, text in enumerate(texts):
                k = (self._key, _key(text))
                if k not in owner._entries:
                    owner.nbytes += vectors[i].nbytes + MemoryCache.ENTRY_OVERHEAD
                owner._entries[k] = (int(n_tokens[i]), np.array(vectors[i], dtype=np.float32))

    def close(self) -> None:
        pass


_SCOPE: ContextVar[MemoryCache | None] = ContextVar("xlmr_demo_embedding_cache", default=None)


@contextmanager
def cache_scope(cache: MemoryCache) -> Iterator[MemoryCache]:
    """Within this block (and threads started with its context), :func:`open_cache` answers from ``cache``."""
    token = _SCOPE.set(cache)
    try:
        yield cache
    finally:
        _SCOPE.reset(token)


def open_cache(key: str) -> EmbeddingCache | _MemoryView | None:
    """The cache for encoder cache key ``key``: the caller's scope, else none in public mode, else the disk cache."""
    scope = _SCOPE.get()
    if scope is not None:
        return scope.view(key)
    if public_mode():
        return None
    return EmbeddingCache(key)
