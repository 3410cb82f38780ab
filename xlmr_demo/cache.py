"""A disk cache of sentence embeddings keyed by (encoder cache key, text).

One SQLite file per encoder cache key (model fingerprint, precision, device) under
``<cache_dir>/embeddings/``; each row maps a 128-bit BLAKE2 digest of the text to its float32
vector and token count. SQLite gives concurrent readers and writers across processes (app
sessions, CLI runs, workers) without a server, and a lookup of thousands of keys costs
milliseconds, so re-embedding a file already seen is nearly free.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

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
