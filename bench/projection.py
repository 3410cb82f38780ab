"""Embedding maps: how much cross-lingual structure each projection keeps, and how fast it is.

    python bench/projection.py

1. Quality on Tatoeba: English + deu/fra/cmn/ara, the first 250 pairs of each file (2,000 points).
   For every method, with and without removing language identity: the translation-neighbour
   rate (share of points whose nearest other-language point is their own translation) and
   trustworthiness at 10 neighbours (scikit-learn; 1.0 = no false neighbours on the map).
2. Speed on 20,000 distinct texts (Tatoeba and UMSAB): the product's default UMAP and PCA against
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


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    import umap
    from sklearn.decomposition import PCA
    from sklearn.manifold import trustworthiness

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
        "Default (no `--method`): centred; t-SNE up to 5,000 points, UMAP with the product settings above.",
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
