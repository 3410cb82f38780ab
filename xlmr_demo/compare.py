"""Compare sentences across languages: pairwise cosine similarity of their embeddings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .encoders import embed
from .errors import UserError
from .models import EMBEDDED_NAME

MAX_SENTENCES = 50  # a heatmap larger than 50 x 50 stops being readable


@dataclass(frozen=True)
class Similarity:
    """Cosine similarities between sentences; ``matrix[i, j]`` compares ``texts[i]`` and ``texts[j]``."""

    texts: list[str]
    matrix: np.ndarray  # (n, n) float32 in [-1, 1], symmetric, ones on the diagonal

    def most_similar_pairs(self, k: int = 5) -> list[tuple[str, str, float]]:
        """The ``k`` most similar pairs of different sentences, best first."""
        i, j = np.triu_indices(len(self.texts), k=1)
        order = np.argsort(-self.matrix[i, j], kind="stable")[:k]
        return [(self.texts[i[o]], self.texts[j[o]], float(self.matrix[i[o], j[o]])) for o in order]


def parse_sentences(block: str) -> list[str]:
    """One sentence per line; blank lines ignored."""
    return [line.strip() for line in block.splitlines() if line.strip()]


def similarity(texts: list[str], model: str = EMBEDDED_NAME) -> Similarity:
    """Embed ``texts`` and return their pairwise cosine similarities."""
    if len(texts) < 2:
        raise UserError("Enter at least two sentences, one per line, to compare them.")
    if len(texts) > MAX_SENTENCES:
        raise UserError(f"Compare at most {MAX_SENTENCES} sentences at a time; found {len(texts)}.")
    vectors = embed(texts, model=model).embeddings
    matrix = np.clip(vectors @ vectors.T, -1.0, 1.0)
    return Similarity(texts=list(texts), matrix=matrix.astype(np.float32))
