"""Named clusters of a map's rows, in any language: groups found in the model's own dimensions, each named
by a few words that stand for it across its languages.

1. **Groups**: k-means on the embeddings with each language's centre removed (the map's own centring), so
   that rows group by meaning rather than by language; never on the 2D picture, whose distances mean little.
   The number of groups is the caller's, or :func:`auto_clusters` of the row count.
2. **Candidate words**: each group's words scored by how many of its rows hold them times the log of their
   lift (their share of the group's rows against their share of every group's: "the" and "que" score 0), from
   its rows in the *names language* (the interface's, or the file's most common) when it has
   :data:`NAME_ROWS` of them, else from all its rows. Scripts without spaces (Chinese, Japanese, Thai) give
   two-character pieces.
3. **Names**: each candidate is put in the sentence "This text is about <word>." and embedded; a word's
   fit to a group is its similarity to the group's centre less its mean similarity to every group's centre
   (a word close to all groups names none). Words are picked by maximal marginal relevance, so a second
   word that means the same as one already picked (its translation, its plural) loses to one that adds
   something: BERTopic's mixed-language topics repeat one word in several languages.

``bench/clusters.py`` measures how well the groups match known topics (NMI), against BERTopic's defaults.
"""

from __future__ import annotations

import math
import re
import unicodedata
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import UserError
from .table import short

NAME_WORDS = 3  # words in a cluster's name
CANDIDATES = 30  # words (best by lift) a cluster's name is picked from
NAME_ROWS = 2  # rows a cluster needs in the names language for its name to be taken from them
REPEATS_FROM = 20  # rows (in the names language) from which a naming word must be in two of them at least
MAX_CLUSTERS = 50
MAX_WORD_CHARS = 30
MAX_LANGUAGE_CHARS = 64  # a names language is a code or a name ("en", "spa_Latn", "english"), never a text
DIVERSITY = 0.5  # maximal marginal relevance: 0 picks the best-fitting words, 1 the most different
# Thai, Lao, Myanmar, Khmer, Japanese kana, Chinese characters: scripts written without spaces between words
_NO_SPACES = re.compile(
    r"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
)
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


def auto_clusters(n: int) -> int:
    """How many clusters a map of ``n`` rows gets unless told: about the square root of ``n`` / 25, 2 to 20.

    A reading rule (a handful of named groups on a small file, a couple of dozen on a large one), not a
    fit to one file: on SIB-200 the match to the topics (NMI) is within 0.04 over 7 to 20 clusters
    (``bench/results/clusters.md``).
    """
    return int(min(20, max(2, round(math.sqrt(n / 25)))))


@dataclass(frozen=True)
class Clusters:
    """Each row's cluster and each cluster's name, size and languages."""

    labels: np.ndarray  # (n,) cluster of each row, 0 the largest
    words: list[list[str]]  # each cluster's naming words, best first
    sizes: list[int]
    languages: list[dict[str, int]]  # each cluster's rows per language, most first
    names_language: str | None  # the language names were taken from where a cluster had its rows
    asked_language: str | None = None  # the language asked for (another when the file has no rows in it)

    def words_about(self) -> str:
        """How the clusters were found and named, in a sentence."""
        language = short(str(self.names_language), 40)
        named = f"named by words of its {language} rows"
        if self.asked_language and self.asked_language != self.names_language:
            named += f" (no row is in {short(self.asked_language, 40)}: {language} is the file's most common language)"
        return (
            f"{len(self.sizes)} clusters found by meaning (in the model's own dimensions, each language's centre "
            f"removed), each {named} where it has some, else by words of all its rows."
        )

    @property
    def names(self) -> list[str]:
        return [" · ".join(w) if w else f"cluster {i + 1}" for i, w in enumerate(self.words)]

    def row_names(self) -> list[str]:
        """Each row's cluster name."""
        names = self.names
        return [names[c] for c in self.labels]

    def table(self) -> tuple[list[str], list[list]]:
        """(headers, rows): cluster, name, rows, share of all rows, languages (most first)."""
        total = max(1, sum(self.sizes))
        rows = [
            [i + 1, name, size, f"{size / total:.0%}", ", ".join(f"{lang} {n}" for lang, n in mix.items())]
            for i, (name, size, mix) in enumerate(zip(self.names, self.sizes, self.languages, strict=True))
        ]
        return ["cluster", "named by", "rows", "share", "languages"], rows


def words_of(text: str) -> list[str]:
    """The words of ``text``, case-folded: letters only (no numbers, links' punctuation), three letters at
    least in spaced scripts; runs of a script written without spaces cut into two-character pieces."""
    words = []
    for word in _WORD.findall(unicodedata.normalize("NFC", text).casefold()):
        if _NO_SPACES.search(word):
            words += [word[i : i + 2] for i in range(max(1, len(word) - 1))]
        elif len(word) >= 3:
            words.append(word)
    return words


def find_clusters(
    X: np.ndarray, languages: Sequence[str], texts: Sequence[str], model, k: int | None = None,
    names_language: str | None = "en", seed: int = 0,
) -> Clusters:  # fmt: skip
    """Cluster the rows (embeddings ``X`` of ``texts`` by ``model``) and name each cluster; see the module."""
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.exceptions import ConvergenceWarning

    from .projection import center_languages

    n = len(X)
    k = cluster_count(k, n)
    langs = np.asarray([str(v) for v in languages], dtype=object)
    C = center_languages(X, langs)
    many = n > 50_000  # mini-batches: a million rows in seconds rather than minutes
    kmeans = (MiniBatchKMeans if many else KMeans)(k, n_init=3, random_state=seed)
    with warnings.catch_warnings():  # identical rows: fewer distinct clusters than asked, dropped below
        warnings.simplefilter("ignore", ConvergenceWarning)
        found = kmeans.fit_predict(C)
    order = np.argsort(-np.bincount(found, minlength=k), kind="stable")  # cluster 0 the largest
    labels = np.argsort(order)[found]
    k = int(labels.max()) + 1  # identical rows can leave a cluster empty: the empty ones (last) are dropped
    asked = names_language
    if names_language not in set(langs.tolist()):
        names_language = Counter(langs.tolist()).most_common(1)[0][0]
    words = _names(np.asarray(X, dtype=np.float32), labels, k, langs, texts, model, names_language)
    sizes = np.bincount(labels, minlength=k).tolist()
    mixes = [dict(Counter(langs[labels == c].tolist()).most_common()) for c in range(k)]
    return Clusters(labels, words, sizes, mixes, names_language, asked)


def check_names_language(language: str | None) -> None:
    """A :class:`UserError` for a names language that cannot be a language (a paste, not a code or a name)."""
    if language is not None and len(language) > MAX_LANGUAGE_CHARS:
        raise UserError(f"Name clusters in a language code or name ({MAX_LANGUAGE_CHARS} characters at most).")


def cluster_count(k: int | str | None, n: int) -> int:
    """The number of clusters ``n`` rows get when ``k`` is asked ("auto" or None: :func:`auto_clusters`); a
    :class:`UserError` when it is not a whole number from 2 to :data:`MAX_CLUSTERS` or the rows are too few."""
    if k is None or k == "auto":
        return auto_clusters(n)
    try:
        count = int(k) if float(k) == int(float(k)) else None
    except (TypeError, ValueError, OverflowError):
        count = None
    if count is None or not 2 <= count <= MAX_CLUSTERS:
        raise UserError(f"Choose a whole number of clusters from 2 to {MAX_CLUSTERS} (asked for {str(k)[:20]!r}).")
    if n < 2 * count:
        raise UserError(f"{n} rows are too few for {count} clusters: each needs 2 rows at least. Choose fewer.")
    return count


def _names(X, labels, k, langs, texts, model, names_language) -> list[list[str]]:
    """Each cluster's :data:`NAME_WORDS` words: candidates by lift, then fit and diversity by meaning."""
    from .encoders import embed
    from .prototypes import TEMPLATE, unit

    in_names = langs == names_language
    named = [int((in_names & (labels == c)).sum()) >= NAME_ROWS for c in range(k)]
    counts, rows_of = [], []
    for c in range(k):  # rows holding each word, in the rows a cluster's name is taken from
        rows = np.flatnonzero((labels == c) & (in_names if named[c] else True))
        counts.append(Counter(w for i in rows for w in set(words_of(texts[i]))))
        rows_of.append(len(rows))
    candidates = []
    for c, counted in enumerate(counts):
        # the same rows across all clusters: a word's share of them that is this cluster's, against the
        # cluster's share of rows (its lift); a word as common everywhere ("the", "que") has a lift of 1
        pool = [d for d in range(k) if named[d] == named[c]]
        total_rows = sum(rows_of[d] for d in pool)
        everywhere = Counter()
        for d in pool:
            everywhere.update(counts[d])
        least = 2 if rows_of[c] >= REPEATS_FROM else 1  # a small cluster's telling words come once each
        scored = {}
        for w, m in counted.items():
            if len(w) > MAX_WORD_CHARS:  # a run of letters longer than any word ("aaaa…", a joined hashtag)
                continue
            lift = (m / rows_of[c]) / (everywhere[w] / total_rows)
            if m >= least and lift > 1:
                scored[w] = m * math.log(lift)
        candidates.append(sorted(scored, key=lambda w: (-scored[w], w))[:CANDIDATES])
    vocabulary = sorted({w for c in candidates for w in c})
    if not vocabulary:
        return [[] for _ in range(k)]
    vectors = dict(zip(vocabulary, embed([TEMPLATE.format(w) for w in vocabulary], model).embeddings, strict=True))
    centres = unit(np.stack([X[labels == c].mean(axis=0) for c in range(k)]).astype(np.float64))
    names = []
    for c, words in enumerate(candidates):
        if not words:
            names.append([])
            continue
        W = unit(np.stack([vectors[w] for w in words]).astype(np.float64))
        near = W @ centres.T  # (words, clusters)
        fit = _standard(near[:, c] - near.mean(axis=1)) + _standard(np.log1p(np.arange(len(words), 0, -1)))
        picked: list[int] = []
        while len(picked) < min(NAME_WORDS, len(words)):
            redundancy = (W @ W[picked].T).max(axis=1) if picked else np.zeros(len(words))
            score = (1 - DIVERSITY) * _standard(fit) - DIVERSITY * _standard(redundancy)
            score[picked] = -np.inf
            picked.append(int(np.argmax(score)))
        names.append([words[i] for i in picked])
    return names


def _standard(values: np.ndarray) -> np.ndarray:
    """``values`` on one scale (mean 0, spread 1), so that fit and sameness weigh as :data:`DIVERSITY` says."""
    spread = values.std()
    return (values - values.mean()) / spread if spread > 0 else values * 0.0
