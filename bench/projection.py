"""Embedding maps: how much cross-lingual structure each projection keeps, and how fast it is.

    python bench/projection.py

1. Quality on Tatoeba: English + deu/fra/cmn/ara, the first 250 pairs of each file (2,000 points).
   For every method, with and without removing language identity: the translation-neighbour
   rate (share of points whose nearest other-language point is their own translation) and
   trustworthiness at 10 neighbours (scikit-learn; 1.0 = no false neighbours on the map).
2. Quality at 20,000 points: all eight Tatoeba languages with English (16,000 sentences) and UMSAB
   tweets, centred: the product's t-SNE (openTSNE) against UMAP settings, scikit-learn's t-SNE, and
   fitting on a seeded sample and placing the other points (openTSNE's transform; the weighted mean
   of the 10 nearest sample points), the ways to make a huge map cheaper.
3. Speed on 20,000 distinct texts (Tatoeba and UMSAB): the product's default UMAP and PCA against
   umap-learn's default settings and scikit-learn's PCA in the same run, UMAP warm (compiled).

Writes ``bench/results/projection.md``.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "bench" / "results" / "projection.md"


def tatoeba_parallel(n: int = 250) -> tuple[list[str], list[str], list[str]]:
    texts, langs, groups = [], [], []
    for lang in ("deu", "fra", "cmn", "ara"):
        base = DATA / "tatoeba" / f"tatoeba.{lang}-eng"
        foreign = Path(f"{base}.{lang}").read_text(encoding="utf-8").splitlines()[:n]
        english = Path(f"{base}.eng").read_text(encoding="utf-8").splitlines()[:n]
        texts += foreign + english
        langs += [lang] * n + ["eng"] * n
        groups += [f"{lang}{i}" for i in range(n)] * 2
    return texts, langs, groups


def many_texts(n: int) -> list[str]:
    texts = [
        line for path in sorted((DATA / "tatoeba").iterdir()) for line in path.read_text(encoding="utf-8").splitlines()
    ]
    for path in sorted((DATA / "umsab").glob("*/*_text.txt")):
        texts += path.read_text(encoding="utf-8").splitlines()
    return list(dict.fromkeys(t for t in texts if t.strip()))[:n]


def twenty_thousand() -> tuple[list[str], list[str], list[str | None]]:
    """Every Tatoeba pair (8 languages x 1,000, with English) and UMSAB training tweets: 20,000 texts."""
    texts, langs, groups = [], [], []
    for lang in ("deu", "fra", "spa", "cmn", "rus", "ara", "hin", "jpn"):
        base = DATA / "tatoeba" / f"tatoeba.{lang}-eng"
        foreign = Path(f"{base}.{lang}").read_text(encoding="utf-8").splitlines()
        english = Path(f"{base}.eng").read_text(encoding="utf-8").splitlines()
        texts += foreign + english
        langs += [lang] * len(foreign) + ["eng"] * len(english)
        groups += [f"{lang}{i}" for i in range(len(foreign))] * 2
    for folder, code in (("english", "en"), ("spanish", "es"), ("french", "fr"), ("arabic", "ar")):
        tweets = (DATA / "umsab" / folder / "train_text.txt").read_text(encoding="utf-8").splitlines()[:1000]
        texts += tweets
        langs += [code] * len(tweets)
        groups += [None] * len(tweets)
    return texts[:20_000], langs[:20_000], groups[:20_000]


def placed(centred, sample: int, how: str):
    """A map fitted (openTSNE) on a seeded sample of the rows, the others placed into it."""
    import numpy as np
    import openTSNE
    from sklearn.neighbors import NearestNeighbors

    rows = np.random.default_rng(0).permutation(len(centred))
    fit, rest = rows[:sample], rows[sample:]
    embedding = openTSNE.TSNE(metric="cosine", n_jobs=-1, random_state=0).fit(centred[fit])
    coords = np.zeros((len(centred), 2), np.float32)
    coords[fit] = embedding
    if how == "transform":
        coords[rest] = embedding.transform(centred[rest])
    else:
        neighbours = NearestNeighbors(n_neighbors=10, metric="cosine").fit(centred[fit])
        distance, nearest = neighbours.kneighbors(centred[rest])
        weight = 1 / np.maximum(distance, 1e-6)
        coords[rest] = (np.asarray(embedding)[nearest] * (weight / weight.sum(1, keepdims=True))[..., None]).sum(1)
    return coords


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    import umap
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE, trustworthiness

    from xlmr_demo.encoders import embed
    from xlmr_demo.projection import ProjectionConfig, center_languages, neighbour_rate, project

    warnings.simplefilter("ignore")
    texts, langs, groups = tatoeba_parallel()
    X = embed(texts).embeddings
    centred = center_languages(X, langs)
    settings = {
        "PCA": ProjectionConfig(method="pca"),
        "t-SNE (perplexity 30)": ProjectionConfig(method="tsne"),
        "UMAP, umap-learn defaults (15 neighbours, min_dist 0.1)": ProjectionConfig(
            method="umap", n_neighbors=15, min_dist=0.1
        ),
        "UMAP, product settings (5 neighbours, min_dist 0)": ProjectionConfig(method="umap"),
    }
    rows = [
        f"| full 384 dimensions | {neighbour_rate(X, langs, groups):.1%} | "
        f"{neighbour_rate(centred, langs, groups):.1%} | | |"
    ]
    for name, config in settings.items():
        cells = []
        for centre in (False, True):
            cfg = ProjectionConfig(**{**config.__dict__, "center_languages": centre})
            coords = project(X, cfg, langs, cache=False).coords
            reference = centred if centre else X
            cells.append((neighbour_rate(coords, langs, groups), trustworthiness(reference, coords, n_neighbors=10,
                                                                                  metric="cosine")))  # fmt: skip
        rows.append(f"| {name} | {cells[0][0]:.1%} | {cells[1][0]:.1%} | {cells[0][1]:.3f} | {cells[1][1]:.3f} |")

    # the settings behind the defaults: translation-neighbour rate of centred maps
    sweep = {f"t-SNE, perplexity {p:g}": ProjectionConfig(method="tsne", perplexity=p) for p in (5, 10, 30)}
    sweep |= {
        f"UMAP, {k} neighbours, min_dist {d:g}": ProjectionConfig(method="umap", n_neighbors=k, min_dist=d)
        for k in (3, 5, 15)
        for d in (0.0, 0.1)
    }
    sweep_rows = [
        f"| {name} | {neighbour_rate(project(X, config, langs, cache=False).coords, langs, groups):.1%} |"
        for name, config in sweep.items()
    ]

    texts20, langs20, groups20 = twenty_thousand()
    X20 = embed(texts20).embeddings
    centred20 = center_languages(X20, langs20)
    full20, full20_centred = neighbour_rate(X20, langs20, groups20), neighbour_rate(centred20, langs20, groups20)
    candidates = {
        "t-SNE, openTSNE (the product's 2D default)": lambda: (
            project(X20, ProjectionConfig(), langs20, cache=False).coords
        ),
        "t-SNE, scikit-learn Barnes-Hut (perplexity 30)": lambda: TSNE(
            2, metric="cosine", init="pca", random_state=0
        ).fit_transform(centred20),
        "UMAP, 5 neighbours, min_dist 0 (the default above 5,000 before)": lambda: (
            project(X20, ProjectionConfig(method="umap"), langs20, cache=False).coords
        ),
        "UMAP, 3 neighbours, min_dist 0": lambda: (
            project(X20, ProjectionConfig(method="umap", n_neighbors=3), langs20, cache=False).coords
        ),
        "openTSNE on a seeded 5,000, the rest placed by openTSNE's transform": lambda: placed(
            centred20, 5000, "transform"
        ),
        "openTSNE on a seeded 10,000, the rest placed by openTSNE's transform": lambda: placed(
            centred20, 10000, "transform"
        ),
        "openTSNE on a seeded 10,000, the rest at their 10 nearest sample points": lambda: placed(
            centred20, 10000, "knn"
        ),
    }
    rows20 = []
    for name, make in candidates.items():
        started = time.perf_counter()
        coords = make()
        took = time.perf_counter() - started
        rate = neighbour_rate(coords, langs20, groups20)
        rows20.append(f"| {name} | {rate:.1%} | {rate / full20:.0%} | {rate / full20_centred:.0%} | {took:.0f} |")

    big = embed(many_texts(20_000)).embeddings
    # compile numba code first, nearest-neighbour descent included (umap-learn uses it above 4,096 points)
    umap.UMAP(n_neighbors=5, metric="cosine").fit_transform(big[:5000])
    ours_umap = seconds(lambda: project(big, ProjectionConfig(method="umap", center_languages=False), cache=False))
    umap_3 = seconds(
        lambda: project(big, ProjectionConfig(method="umap", n_neighbors=3, center_languages=False), cache=False)
    )
    peer_umap = seconds(lambda: umap.UMAP(metric="cosine", random_state=0).fit_transform(big))
    ours_pca = seconds(lambda: project(big, ProjectionConfig(method="pca", center_languages=False), cache=False))
    peer_pca = seconds(lambda: PCA(2, random_state=0).fit_transform(big))
    tsne_5k = seconds(lambda: project(big[:5000], ProjectionConfig(method="tsne", center_languages=False), cache=False))

    lines = [
        "# Embedding maps (`bench/projection.py`)",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; embedded model; 2D maps; seed 0",
        "",
        "## What a 2D map keeps: Tatoeba, English + deu/fra/cmn/ara, 250 pairs each (2,000 points)",
        "",
        "Translation-neighbour rate: share of points whose nearest other-language point is their own",
        "translation. Trustworthiness@10: scikit-learn's measure of false neighbours on the map (1 = none),",
        "against the embeddings the map was made from.",
        "",
        "| method | rate, raw | rate, language centred | trust@10, raw | trust@10, centred |",
        "|---|---|---|---|---|",
        *rows,
        "",
        "Default (no `--method`): centred; t-SNE (openTSNE) in 2D at every size; in 3D scikit-learn's t-SNE up",
        "to 5,000 points and UMAP with the product settings above.",
        "",
        f"## Maps of 20,000 points: {sum(g is not None for g in groups20):,} Tatoeba sentences (8 languages and "
        "English) among UMSAB tweets, centred",
        "",
        f"Full dimensions: {full20:.1%} of the translated sentences have a translation as their nearest "
        f"other-language neighbour ({full20_centred:.1%} once each language's mean is removed). Kept: the map's rate "
        "as a share of those. Seconds: the whole projection, 2 cores.",
        "",
        "| method | rate on the map | kept of full dims | kept of full dims, centred | seconds |",
        "|---|---|---|---|---|",
        *rows20,
        "",
        "## Settings tried: centred maps of the same 2,000 points",
        "",
        "| setting | translation-neighbour rate |",
        "|---|---|",
        *sweep_rows,
        "",
        f"## Speed: {len(big):,} distinct texts (Tatoeba + UMSAB), 2D",
        "",
        "| projection | seconds | ratio vs peer | peer | peer seconds |",
        "|---|---|---|---|---|",
        f"| UMAP, product settings (warm) | {ours_umap:.1f} | {ours_umap / peer_umap:.2f} | umap-learn defaults "
        f"| {peer_umap:.1f} |",
        f"| PCA (product: duplicates removed first) | {ours_pca:.2f} | {ours_pca / peer_pca:.2f} "
        f"| scikit-learn PCA | {peer_pca:.2f} |",
        f"| t-SNE, first 5,000 texts | {tsne_5k:.1f} | | | |",
        f"| UMAP, 3 neighbours (not the default) | {umap_3:.1f} | {umap_3 / ours_umap:.2f} | UMAP, product settings "
        f"| {ours_umap:.1f} |",
    ]
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
