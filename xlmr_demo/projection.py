"""Projecting sentence embeddings to 2D/3D maps, and measuring how well languages line up.

The promise of the map is "a sentence and its translations sit together". How well a map keeps
that is measured by :func:`neighbour_rate`: the share of points whose nearest point *in another
language* is their own translation. ``bench/projection.py`` measures it on Tatoeba, 2,000 and 20,000
points (``bench/results/projection.md``): centring each language raises it in full dimensions and
far more on maps; t-SNE on centred vectors keeps about as many translations as the full dimensions,
UMAP and maps fitted on a sample far fewer, so every point is fitted.
The defaults come from that measurement: remove language identity (centre each language), then
t-SNE. 2D maps use openTSNE (Barnes-Hut below 10,000 points; FFT-accelerated and linear in the
number of points above, ``bench/results/scale.md``); above :data:`LARGE_MAP_POINTS` distinct points with
:data:`LARGE_MAP`, the fastest recipe measured there that still keeps nine tenths of the translations
that the full dimensions keep (at 20,000 and 200,000 points); 3D maps use scikit-learn's
Barnes-Hut t-SNE up to :data:`TSNE_MAX_POINTS` points (openTSNE's FFT method draws only 2D) and UMAP
with small neighbourhoods above.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

from .errors import UserError
from .limits import public_mode
from .paths import cache_dir
from .progress import Progress, ticking
from .writers import write_file_atomically

Method = Literal["auto", "umap", "tsne", "pca"]
TSNE_MAX_POINTS = 5000  # 3D maps: above this, Barnes-Hut t-SNE takes minutes on 2 cores; UMAP stays within seconds
MIN_POINTS_FOR_MANIFOLD = 15  # fewer points: neighbourhood methods are meaningless, use PCA


@dataclass(frozen=True)
class ProjectionConfig:
    """How to project; every option is seeded and part of the cache key."""

    method: Method = "auto"  # auto: t-SNE (in 3D: up to TSNE_MAX_POINTS points, UMAP above)
    dims: Literal[2, 3] = 2
    # centring: more translation neighbours in full dims, far more on t-SNE maps (bench/results/projection.md)
    center_languages: bool = True
    # the settings below: "Settings tried" in bench/results/projection.md (centred Tatoeba, 2,000 points)
    perplexity: float = 30.0  # t-SNE; 5, 10 and 30 keep about as many translations
    # UMAP: fewer neighbours than umap-learn's default 15 keep more translations (3 the most, and faster on
    # 20,000 texts): a candidate default once larger maps are measured
    n_neighbors: int = 5
    min_dist: float = 0.0  # UMAP; 0.0 beat 0.1 at every n_neighbors tried
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in ("auto", "umap", "tsne", "pca"):
            raise ValueError(f"method must be auto, umap, tsne or pca, not {self.method!r}")
        if self.dims not in (2, 3):
            raise ValueError("dims must be 2 or 3")
        if self.n_neighbors < 2 or self.perplexity <= 0:
            raise ValueError("n_neighbors must be >= 2 and perplexity > 0")


@dataclass(frozen=True)
class Projection:
    """Map coordinates, one row per input row, and what was done to get them."""

    coords: np.ndarray  # (n, dims) float32
    method: str  # the method that actually ran
    centered: bool
    notes: list[str] = field(default_factory=list)


def _check(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or len(X) == 0:
        raise UserError("There is nothing to map: expected at least one embedding.")
    bad = np.flatnonzero(~np.isfinite(X).all(axis=1))
    if bad.size:
        shown = ", ".join(str(i + 1) for i in bad[:8])
        raise UserError(f"{bad.size} embedding(s) contain NaN or infinite values (rows {shown}); re-embed them.")
    return X


def center_languages(X: np.ndarray, languages: Sequence[str]) -> np.ndarray:
    """Remove language identity: subtract each language's mean embedding, then L2-normalise rows."""
    X = np.array(X, dtype=np.float32)
    langs = np.asarray(languages, dtype=object)
    for lang in np.unique(langs):
        rows = langs == lang
        X[rows] -= X[rows].mean(axis=0)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.maximum(norms, 1e-12)


def _pca(X: np.ndarray, config: ProjectionConfig) -> np.ndarray:
    from sklearn.decomposition import PCA

    out = np.zeros((len(X), config.dims), dtype=np.float32)
    k = min(config.dims, len(X) - 1, X.shape[1])  # one point has no direction; two have one
    if k > 0:
        out[:, :k] = PCA(k, random_state=config.seed).fit_transform(X)
    return out


def _umap(X: np.ndarray, config: ProjectionConfig) -> np.ndarray:
    # umap-learn compiles with numba on import (~15 s here): keep it off start-up paths, and cache
    # the compiled code on disk so that only the first import on a machine pays
    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir() / "numba"))
    import warnings

    try:
        import umap
    except ImportError as exc:  # pragma: no cover - umap-learn is a requirement
        raise UserError("UMAP needs the umap-learn package: pip install umap-learn") from exc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "n_jobs overridden by setting random_state": intended
        reducer = umap.UMAP(
            n_components=config.dims,
            n_neighbors=min(config.n_neighbors, len(X) - 1),
            min_dist=config.min_dist,
            metric="cosine",
            random_state=config.seed,
        )
        return reducer.fit_transform(X)


@dataclass(frozen=True)
class TsneRecipe:
    """How a 2D t-SNE map is computed with openTSNE (FFT-accelerated above 10,000 points).

    The default is openTSNE's own: cosine neighbours in all dimensions, PCA start, 250 steps of early
    exaggeration (12) and 500 more. Each other setting is one of the speed-ups measured at 20,000 and 200,000
    points in ``bench/results/scale.md`` ("Faster maps").
    """

    pca_dims: int | None = None  # PCA to this many dimensions before the neighbour search (None: all, cosine)
    neighbors: Literal["auto", "exact", "annoy", "pynndescent"] = "auto"  # openTSNE's nearest-neighbour search
    perplexity: float | None = None  # None: ProjectionConfig.perplexity
    exaggeration_iter: int = 250  # early exaggeration steps (exaggeration 12)
    n_iter: int = 500  # steps after them

    def __post_init__(self) -> None:
        if self.pca_dims is not None and self.pca_dims < 2:
            raise ValueError("pca_dims must be None or >= 2")
        if min(self.exaggeration_iter, self.n_iter) < 0:
            raise ValueError("step counts must be >= 0")


#: 2D maps of more distinct points than this use :data:`LARGE_MAP` (bench/results/scale.md, "Faster maps": at 20,000
#: points openTSNE as it comes takes 50 s and keeps the most translations, LARGE_MAP 11 s; at 200,000 LARGE_MAP takes
#: 79 s and keeps as many as openTSNE as it comes did in 239-440 s)
LARGE_MAP_POINTS = 20_000
LARGE_MAP = TsneRecipe(pca_dims=128, neighbors="annoy", perplexity=10, exaggeration_iter=60, n_iter=120)


def tsne_affinities(X: np.ndarray, recipe: TsneRecipe = TsneRecipe(), perplexity: float = 30.0, seed: int = 0,
                    n_jobs: int = -1, verbose: bool = False) -> tuple[np.ndarray, object]:  # fmt: skip
    """The rows of ``X`` (n, d) as ``recipe`` searches their neighbours (PCA-reduced, or as they are) and their
    openTSNE affinities."""
    from openTSNE import affinity

    perplexity = min(recipe.perplexity or perplexity, (len(X) - 1) / 3)  # t-SNE needs perplexity < n / 3
    Z, metric = X, "cosine"
    if recipe.pca_dims is not None and recipe.pca_dims < min(X.shape):
        from sklearn.decomposition import PCA

        # rows are unit vectors: euclidean distances in their principal components rank neighbours as cosine
        # does in all dimensions, and a search in 128 dimensions instead of 384 is about three times faster
        Z = PCA(recipe.pca_dims, random_state=seed).fit_transform(X).astype(np.float32)
        metric = "euclidean"
    A = affinity.PerplexityBasedNN(
        Z, perplexity, method=recipe.neighbors, metric=metric, n_jobs=n_jobs, random_state=seed, verbose=verbose
    )
    return Z, A


def tsne_optimise(start: np.ndarray, A, phases: list[tuple[int, float]], seed: int = 0, n_jobs: int = -1,
                  verbose: bool = False) -> np.ndarray:  # fmt: skip
    """A t-SNE map optimised from ``start`` on the affinities ``A``: ``phases`` of (steps, exaggeration)."""
    from openTSNE import TSNEEmbedding

    embedding = TSNEEmbedding(start, A, n_jobs=n_jobs, random_state=seed)
    for steps, exaggeration in phases:
        if steps:
            embedding.optimize(steps, exaggeration=exaggeration, momentum=0.8, inplace=True, verbose=verbose)
    return np.asarray(embedding)


def tsne_2d(X: np.ndarray, recipe: TsneRecipe = TsneRecipe(), perplexity: float = 30.0, seed: int = 0,
            n_jobs: int = -1, verbose: bool = False) -> np.ndarray:  # fmt: skip
    """A 2D t-SNE map (n, 2) of the rows of ``X`` (n, d), computed as ``recipe`` says from a PCA start; seeded.
    ``verbose``: openTSNE prints the time of each stage and of every 50 steps."""
    from openTSNE import initialization

    Z, A = tsne_affinities(X, recipe, perplexity, seed, n_jobs, verbose)
    start = initialization.pca(Z, random_state=seed)
    return tsne_optimise(start, A, [(recipe.exaggeration_iter, 12), (recipe.n_iter, 1)], seed, n_jobs, verbose)


def _tsne(X: np.ndarray, config: ProjectionConfig) -> np.ndarray:
    perplexity = min(config.perplexity, (len(X) - 1) / 3)  # t-SNE needs perplexity < n / 3
    if config.dims == 2:
        import openTSNE

        # every visitor of a public server gets one core: one map cannot slow the others down
        n_jobs = 1 if public_mode() else -1
        if len(X) > LARGE_MAP_POINTS:
            return tsne_2d(X, LARGE_MAP, config.perplexity, config.seed, n_jobs)
        tsne = openTSNE.TSNE(
            n_components=2, perplexity=perplexity, metric="cosine", n_jobs=n_jobs, random_state=config.seed
        )
        return np.asarray(tsne.fit(X))
    from sklearn.manifold import TSNE

    return TSNE(
        n_components=config.dims, perplexity=perplexity, metric="cosine", init="pca", random_state=config.seed
    ).fit_transform(X)


#: Part of every cached projection's key: raised when what a setting computes changes (2: t-SNE in 2D became
#: openTSNE, and "auto" t-SNE above 5,000 points; 3: the large-map recipe), so that no map made the old way is
#: served for the new
CACHE_VERSION = 3


def _cache_path(X: np.ndarray, languages: Sequence[str] | None, config: ProjectionConfig):
    digest = hashlib.sha256(np.ascontiguousarray(X).tobytes())
    settings = sorted(asdict(config).items())
    if config.dims == 2 and config.method in ("auto", "tsne"):  # which t-SNE recipe runs, and above how many points
        settings.append(("large_map", (LARGE_MAP_POINTS, sorted(asdict(LARGE_MAP).items()))))
    digest.update(repr((CACHE_VERSION, list(languages) if languages is not None else None, settings)).encode())
    folder = cache_dir() / "projections"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{digest.hexdigest()[:24]}.npz"


#: Rough seconds per point on 2 cores (bench/results/projection.md: UMAP 20,000 points in 4.2 s, 2D t-SNE
#: (openTSNE) 20,000 in 40 s, 3D t-SNE (scikit-learn) 5,000 in 41 s), for a progress bar that moves while a
#: projection that reports nothing runs.
SECONDS_PER_POINT = {("umap", 2): 2.1e-4, ("umap", 3): 3.2e-4, ("tsne", 2): 2.0e-3, ("tsne", 3): 8.3e-3}
UMAP_IMPORT_SECONDS = 15.0  # numba compiles umap-learn on its first import in a process (cached on disk after)


#: The same for 2D t-SNE above LARGE_MAP_POINTS (LARGE_MAP: 200,000 points in 79 s, bench/results/scale.md)
LARGE_MAP_SECONDS_PER_POINT = 4.0e-4


def expected_seconds(method: str, points: int, dims: int) -> float:
    """About how long :func:`project` takes with ``method`` on ``points`` distinct points (an estimate)."""
    if (method, dims) not in SECONDS_PER_POINT:
        return 0.0
    per_point = SECONDS_PER_POINT[method, dims]
    if (method, dims) == ("tsne", 2) and points > LARGE_MAP_POINTS:
        per_point = LARGE_MAP_SECONDS_PER_POINT
    seconds = 1.0 + points * per_point
    if method == "umap" and "umap" not in sys.modules:
        seconds += UMAP_IMPORT_SECONDS
    return seconds


def auto_method(points: int, dims: int) -> str:
    """The projection ``method="auto"`` uses for ``points`` distinct points in ``dims`` dimensions."""
    return "tsne" if dims == 2 or points <= TSNE_MAX_POINTS else "umap"


def project(X: np.ndarray, config: ProjectionConfig = ProjectionConfig(), languages: Sequence[str] | None = None,
            cache: bool = True, progress: Progress | None = None) -> Projection:  # fmt: skip
    """Project embeddings ``X`` (n, d) to ``config.dims`` dimensions; cached on disk, except in public mode.

    ``progress`` gets a "projecting" stage: t-SNE and UMAP report nothing, so it moves with the time
    they are expected to take (:func:`expected_seconds`).
    """
    X = _check(X)
    if languages is not None and len(languages) != len(X):
        raise ValueError("languages must have one entry per row")
    path = _cache_path(X, languages, config) if cache and not public_mode() else None  # visitors' data: no disk
    if path is not None and path.is_file():
        with np.load(path, allow_pickle=False) as saved:
            return Projection(saved["coords"], str(saved["method"]), bool(saved["centered"]), list(saved["notes"]))
    notes: list[str] = []
    centered = False
    if config.center_languages and languages is not None:
        if len(set(languages)) >= 2:
            X = center_languages(X, languages)
            centered = True
            notes.append(
                "Each language's average position was taken out first, so texts group by what they say rather "
                "than by the language they are in."
            )
        else:
            notes.append("Only one language: nothing to centre.")
    # identical vectors (the same text twice) get one position: they would overlap anyway, and
    # scikit-learn's Barnes-Hut t-SNE slows down by orders of magnitude on exact duplicates
    unique, inverse = np.unique(X, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    if len(unique) < len(X):
        notes.append(f"{len(X) - len(unique)} duplicate row(s) share the position of their first copy.")
    method = config.method
    if method == "auto":
        method = auto_method(len(unique), config.dims)
    if method != "pca" and len(unique) < MIN_POINTS_FOR_MANIFOLD:
        notes.append(f"Only {len(unique)} distinct points: used PCA instead of {method.upper()}, which needs more.")
        method = "pca"
    if method == "tsne" and config.dims == 2 and len(unique) > LARGE_MAP_POINTS:
        notes.append(
            f"More than {LARGE_MAP_POINTS:,} distinct points: t-SNE took the path for large maps (PCA to "
            f"{LARGE_MAP.pca_dims} dimensions before an approximate search for fewer neighbours, fewer steps), "
            "several times faster and measured to keep at least nine tenths of the translations the full "
            "dimensions keep together."
        )
    run = {"pca": _pca, "umap": _umap, "tsne": _tsne}[method]
    with ticking(progress, f"projecting ({method.upper()})", expected_seconds(method, len(unique), config.dims)):
        coords = np.asarray(run(unique, config), dtype=np.float32)[inverse]
    result = Projection(coords, method, centered, notes)
    if path is not None:

        def write(tmp) -> None:
            with tmp.open("wb") as fh:  # a file object: np.savez would append .npz to a path
                np.savez(fh, coords=coords, method=method, centered=centered, notes=np.array(notes, dtype=str))

        write_file_atomically(path, write)
    return result


#: Rows with a translation measured by :func:`alignment`; above this, a seeded sample of them (each is
#: compared with every row: a million-point map would otherwise take hours)
MEASURED_ROWS = 20_000


def _nearest_other_language(X: np.ndarray, languages: np.ndarray, metric: str, rows: np.ndarray) -> np.ndarray:
    """Index of each of ``rows``' nearest row in another language (``languages``: an integer code per row), by
    cosine in embedding space, else euclidean (map coordinates: a k-d tree of each language's others)."""
    if metric == "euclidean":
        from scipy.spatial import cKDTree

        nearest = np.empty(len(rows), dtype=np.int64)
        for code in np.unique(languages[rows]):
            mine, others = languages[rows] == code, np.flatnonzero(languages != code)
            nearest[mine] = others[cKDTree(X[others]).query(X[rows[mine]])[1]]
        return nearest
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    if not np.allclose(norms, 1, atol=1e-4):  # embeddings come normalised; centred ones do not
        X = X / np.maximum(norms, 1e-12)
    # the similarities of blocks of rows with chunks of all rows, the best so far kept: matrix products at the
    # machine's full speed (a million rows: 20,000 measured in about 2 minutes on 2 cores, 3.5x sklearn's)
    queries, codes = X[rows], languages[rows]
    best, nearest = np.full(len(rows), -np.inf, np.float32), np.zeros(len(rows), np.int64)
    for start in range(0, len(X), _CHUNK_ROWS):
        chunk, chunk_codes = X[start : start + _CHUNK_ROWS], languages[start : start + _CHUNK_ROWS]
        for first in range(0, len(rows), _QUERY_ROWS):
            block = slice(first, first + _QUERY_ROWS)
            similarity = queries[block] @ chunk.T
            similarity[codes[block, None] == chunk_codes[None, :]] = -np.inf
            found = similarity.argmax(axis=1)
            value = similarity[np.arange(len(found)), found]
            better = value > best[block]
            best[block][better], nearest[block][better] = value[better], found[better] + start
    return nearest


_QUERY_ROWS, _CHUNK_ROWS = 2_048, 32_768  # a block's similarities: 256 MB


def _translation_hits(X: np.ndarray, languages: Sequence[str], groups: Sequence[str | None]):
    """For the rows with a translation in another language (at most :data:`MEASURED_ROWS`, seeded): is their
    nearest other-language row one of them? Returns (hits, those rows' languages)."""
    langs = np.asarray(languages, dtype=object)
    ids = np.asarray([g if g not in (None, "") else None for g in groups], dtype=object)
    group_languages: dict[str, set[str]] = {}
    for g, lang in zip(ids, langs, strict=True):
        if g is not None:
            group_languages.setdefault(g, set()).add(lang)
    has = np.array([g is not None and bool(group_languages[g] - {lang}) for g, lang in zip(ids, langs, strict=True)])
    rows = np.flatnonzero(has)
    if len(rows) > MEASURED_ROWS:
        rows = np.sort(np.random.default_rng(0).choice(rows, MEASURED_ROWS, replace=False))
    if not len(rows):
        return np.zeros(0, bool), langs[rows]
    X = np.asarray(X, dtype=np.float32)
    codes = np.unique(langs.astype(str), return_inverse=True)[1].reshape(-1)  # integers compare fast
    nearest = _nearest_other_language(X, codes, "cosine" if X.shape[1] > 3 else "euclidean", rows)
    return ids[nearest] == ids[rows], langs[rows]


def neighbour_rate(X: np.ndarray, languages: Sequence[str], groups: Sequence[str | None]) -> float | None:
    """Share of rows with a translation whose nearest other-language row is one of their translations.

    ``groups`` holds a pair/group id per row (None: no translation known). ``X`` may be
    embeddings (cosine) or map coordinates (euclidean). None when no row has a translation.
    """
    return alignment(X, languages, groups)[0]


def alignment(
    X: np.ndarray, languages: Sequence[str], groups: Sequence[str | None]
) -> tuple[float | None, dict[str, float]]:
    """:func:`neighbour_rate` overall and per language (languages without translated rows left out)."""
    hits, langs = _translation_hits(X, languages, groups)
    if not len(hits):
        return None, {}
    per_language = {str(lang): float(hits[langs == lang].mean()) for lang in sorted(set(langs.tolist()))}
    return float(hits.mean()), per_language


def centroid_similarity(X: np.ndarray, languages: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Cosine similarity between the mean embeddings of each pair of languages: (languages, (k, k))."""
    langs = np.asarray(languages, dtype=object)
    names = sorted(set(langs.tolist()))
    centroids = np.stack([np.asarray(X, dtype=np.float32)[langs == lang].mean(axis=0) for lang in names])
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    return names, np.clip(centroids @ centroids.T, -1, 1)


def separability(X: np.ndarray, values: Sequence[str], k: int = 10) -> dict[str, float] | None:
    """How predictable ``values`` (languages, labels) are from each row's ``k`` nearest neighbours.

    Returns ``{"accuracy": leave-one-out k-NN accuracy, "chance": share of the commonest value}``;
    near chance, the map's neighbourhoods ignore these values; near 1, they are organised by them.
    None with fewer than two distinct values or too few rows.
    """
    from sklearn.neighbors import NearestNeighbors

    vals = np.asarray(values, dtype=object)
    distinct, counts = np.unique(vals, return_counts=True)
    if len(distinct) < 2 or len(vals) <= k:
        return None
    X = np.asarray(X, dtype=np.float32)
    metric = "cosine" if X.shape[1] > 3 else "euclidean"
    _, idx = NearestNeighbors(n_neighbors=k + 1, metric=metric).fit(X).kneighbors(X)
    votes = vals[idx[:, 1:]]  # drop the row itself
    predicted = [max(set(row), key=list(row).count) for row in votes]
    return {
        "accuracy": float(np.mean(np.asarray(predicted, dtype=object) == vals)),
        "chance": float(counts.max() / len(vals)),
    }
