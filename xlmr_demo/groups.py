"""Meaning groups: rows that say the same thing (translations, paraphrases, copies) and must share a split.

A test row whose translation was trained on is, in effect, a training row: a head that learnt "the
match ended 2-1" in German knows the French sentence too. So every figure the product shows is
measured on groups the model never saw, and the groups come from one of two places:

- **given**: a group column (``pair_id``, ``index_id``, ...): rows sharing a value are one meaning;
- **found** (:func:`find_groups`), from the embeddings training computes anyway: two rows in
  different languages are translations when each is the other's nearest neighbour in that language
  (a *mutual* nearest neighbour) and their *margin* is at least :data:`TRANSLATION_MARGIN`; two rows
  in one language are near-copies when they are mutual nearest neighbours with a margin of at least
  :data:`COPY_MARGIN`. Rows with the same text (case and spaces aside) are always one group.

For the split, a missed translation makes a figure too kind while a false join only makes the
split a little coarser: :data:`TRANSLATION_MARGIN` maximises recall minus false joins (Youden's J)
over the sets below. The same groups are the label-error search's evidence (a row whose translations
carry another label); a stricter margin for that evidence found fewer planted errors on parallel
data and no fewer false ones on data without translations (``bench/results/groups.md``).

The margin (Artetxe & Schwenk 2019, used to mine parallel sentences for LASER) is a pair's cosine
divided by the mean cosine of each side's :data:`MARGIN_NEIGHBOURS` nearest neighbours on the other
side. Unlike a raw cosine it means the same on every model: the embedded model scores unrelated
sentences around 0.7, mean-pooled ``xlm-roberta-base`` around 0.95, and both put a translation
well above its own neighbourhood. The two thresholds were chosen with ``python bench/groups.py``
on ``../shared/data`` (Tatoeba and the SIB-200 slice for translations; SIB split in halves, and
UMSAB tweets in four languages, for same-topic rows that are not translations): see
``bench/results/groups.md`` for the figures and the rule used to choose them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .progress import Progress, Step

#: Neighbours whose mean similarity a pair's cosine is divided by (LASER's k).
MARGIN_NEIGHBOURS = 4
#: Margin above which mutual nearest neighbours in two languages share a split (bench/results/groups.md).
TRANSLATION_MARGIN = 1.02
#: Margin above which mutual nearest neighbours in one language are near-copies (bench/results/groups.md).
COPY_MARGIN = 1.06
#: Similarities held at once (float32): a block of rows against one language's rows stays within ~100 MB.
BLOCK_CELLS = 25_000_000


@dataclass
class Grouping:
    """One group id per row (``groups``), how they were found and a few of the pairs that made them."""

    groups: list[str]
    source: str  # "column": a group column; "found": from the embeddings; "text": identical texts only
    column: str | None = None
    pairs: list[tuple[int, int, float]] = field(default_factory=list)  # (row index, row index, margin), best first

    @property
    def grouped_rows(self) -> int:
        """Rows that share their group with at least one other row."""
        sizes = Counter(self.groups)
        return int(sum(sizes[g] > 1 for g in self.groups))

    @property
    def multi_row_groups(self) -> int:
        return int(sum(n > 1 for n in Counter(self.groups).values()))


def group_codes(groups) -> np.ndarray:
    """Group ids as integers 0..k-1, one per row (for bincount, fold splitting and resampling)."""
    return np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)[1]


def text_key(text: str) -> str:
    """What makes two texts copies without a model: equal after case folding and collapsed spaces."""
    return " ".join(text.casefold().split())


def text_groups(texts: list[str]) -> list[str]:
    """A group id per row: rows with the same :func:`text_key` share one."""
    first: dict[str, int] = {}
    return [f"t{first.setdefault(text_key(t), i)}" for i, t in enumerate(texts)]


def column_groups(cells: list[str | None], texts: list[str]) -> list[str]:
    """A group id per row from a group column's ``cells``; a row with an empty cell is grouped with its copies only."""
    copies = text_groups(texts)
    return [f"c{c.strip()}" if c and c.strip() else copies[i] for i, c in enumerate(cells)]


def _neighbours(X: np.ndarray, rows: np.ndarray, targets: np.ndarray, k: int, same: bool, tick=None):
    """For each of ``rows``: its nearest row among ``targets`` (index into X), that cosine, and the mean of its
    ``k`` best cosines among ``targets`` (fewer when there are fewer). ``same``: rows and targets are one set
    and a row is never its own neighbour. ``tick(share)`` after each block: a chance to stop."""
    best = np.empty(len(rows), dtype=np.int64)
    best_sim = np.empty(len(rows), dtype=np.float32)
    mean_k = np.empty(len(rows), dtype=np.float32)
    T = X[targets]
    k = min(k, len(targets) - (1 if same else 0))
    step = max(1, BLOCK_CELLS // len(targets))
    for start in range(0, len(rows), step):
        block = rows[start : start + step]
        S = X[block] @ T.T
        if same:
            S[np.arange(len(block)), start + np.arange(len(block))] = -np.inf
        top = np.argpartition(-S, k - 1, axis=1)[:, :k]
        top_sims = np.take_along_axis(S, top, axis=1)
        arg = top[np.arange(len(block)), top_sims.argmax(axis=1)]
        best[start : start + len(block)] = targets[arg]
        best_sim[start : start + len(block)] = S[np.arange(len(block)), arg]
        mean_k[start : start + len(block)] = top_sims.mean(axis=1)
        if tick:
            tick((start + len(block)) / len(rows))
    return best, best_sim, mean_k


def mutual_pairs(
    X: np.ndarray, languages: list[str], progress: Progress | None = None
) -> list[tuple[int, int, float, bool]]:
    """Every pair of rows that are each other's nearest neighbour in the other's language: (i, j, margin,
    same_language), i < j. ``X``: unit-length embeddings, one row per text."""
    X = np.asarray(X, dtype=np.float32)
    langs = np.asarray(languages, dtype=object)
    by_language = {lang: np.flatnonzero(langs == lang) for lang in sorted(set(languages))}
    names = list(by_language)
    todo = [(a, b) for ia, a in enumerate(names) for b in names[ia:]]
    pairs = []
    for step, (a, b) in enumerate(todo):

        def tick(share: float, step: int = step) -> None:
            if progress:
                progress(Step("finding translations", step + share, len(todo)))

        tick(0.0)
        rows_a, rows_b = by_language[a], by_language[b]
        same = a == b
        if len(rows_b) < 2 if same else min(len(rows_a), len(rows_b)) < 1:
            continue
        nn_ab, sim_ab, mean_a = _neighbours(X, rows_a, rows_b, MARGIN_NEIGHBOURS, same, tick)
        if same:
            nn_ba, mean_b = nn_ab, mean_a
            position = {int(r): p for p, r in enumerate(rows_a)}
        else:
            nn_ba, _, mean_b = _neighbours(X, rows_b, rows_a, MARGIN_NEIGHBOURS, False)
            position = {int(r): p for p, r in enumerate(rows_b)}
        for p, i in enumerate(rows_a):
            j = int(nn_ab[p])
            q = position[j]
            if int(nn_ba[q]) != i or (same and j < i):
                continue
            margin = float(sim_ab[p]) / max(1e-6, (float(mean_a[p]) + float(mean_b[q])) / 2)
            pairs.append((min(int(i), j), max(int(i), j), margin, same))
    if progress:
        progress(Step("finding translations", len(todo), len(todo)))
    return pairs


def join_groups(n: int, links: list[tuple[int, int]], start: list[str]) -> list[str]:
    """Group ids after joining rows that ``start`` already groups and every pair in ``links`` (union-find)."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(i: int, j: int) -> None:
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)

    first: dict[str, int] = {}
    for i, g in enumerate(start):
        join(first.setdefault(g, i), i)
    for i, j in links:
        join(i, j)
    return [f"g{root(i)}" for i in range(n)]


def find_groups(
    X: np.ndarray,
    texts: list[str],
    languages: list[str],
    progress: Progress | None = None,
    translation_margin: float = TRANSLATION_MARGIN,
    copy_margin: float = COPY_MARGIN,
    start: list[str] | None = None,
) -> Grouping:
    """Translations and near-copies found from the embeddings ``X`` (see the module docstring), joined to the
    groups ``start`` already makes (None: identical texts)."""
    pairs = [
        (i, j, m)
        for i, j, m, same in mutual_pairs(X, languages, progress)
        if m >= (copy_margin if same else translation_margin)
    ]
    pairs.sort(key=lambda p: -p[2])
    groups = join_groups(len(texts), [(i, j) for i, j, _ in pairs], start or text_groups(texts))
    return Grouping(groups=groups, source="found", pairs=pairs)
