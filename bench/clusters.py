"""Named clusters against known topics, and against BERTopic's defaults, on the same rows and vectors.

    python bench/clusters.py [--sib DIR] [--umsab DIR] [--no-bertopic]

For each set every row is embedded once by the embedded model, and both methods get those vectors:

- **the product** (``xlmr_demo.clusters.find_clusters``): k-means on each language's rows with its centre
  removed, as many clusters as ``auto_clusters`` gives (the app's default), then again at other counts to show
  how much the figure depends on the count;
- **BERTopic** 0.17 with its defaults (``BERTopic(language="multilingual")``: UMAP to 5 dimensions, HDBSCAN with
  10 rows a topic at least, class-TF-IDF words), given the same vectors; its outliers (topic -1) count as one
  more group, as its users see them, and the figure on the rows it did place is given too.

Scores: normalised mutual information (NMI, 0 = independent of the topics, 1 = the same partition) and adjusted
Rand index with the set's own labels; how many groups; how many of the names mix languages (no one language's
rows hold all of the name's words: "submarinos · jerman · guerra"); seconds. BERTopic is not a
dependency of the product: ``pip install bertopic==0.17.4`` into the environment to compare (``--no-bertopic``
skips it). SIB-200: every language folder under ``--sib`` (default ``../shared/data/sib``; folders of other
SIB-200 languages are measured by the same command), all 1,004 sentences a language, 7 topics. UMSAB: the four
test files, 3 sentiments. Writes ``bench/results/clusters.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
RESULTS = ROOT / "bench" / "results" / "clusters.md"


def word_languages(texts, languages) -> dict[str, set[str]]:
    """Each word's languages: those whose rows hold it."""
    from xlmr_demo.clusters import words_of

    seen: dict[str, set[str]] = defaultdict(set)
    for text, lang in zip(texts, languages, strict=True):
        for w in set(words_of(text)):
            seen[w].add(lang)
    return seen


def mixed_names(names: list[list[str]], languages_of: dict[str, set[str]]) -> int:
    """How many names no one language could have written: no language's rows hold all of the name's words."""
    every = set().union(*languages_of.values())
    return sum(not set.intersection(every, *(languages_of.get(w, set()) for w in words)) for words in names if words)


def scores(truth, found) -> tuple[float, float]:
    return normalized_mutual_info_score(truth, found), adjusted_rand_score(truth, found)


def product(X, texts, labels, languages, counts, names_language):
    from xlmr_demo.clusters import auto_clusters, find_clusters
    from xlmr_demo.models import EMBEDDED_NAME

    rows = []
    for k in [auto_clusters(len(X)), *counts]:
        started = time.perf_counter()
        found = find_clusters(X, languages, texts, EMBEDDED_NAME, k=k, names_language=names_language)
        seconds = time.perf_counter() - started
        rows.append((k, found, seconds))
    return rows


def bertopic(X, texts):
    from bertopic import BERTopic

    started = time.perf_counter()
    model = BERTopic(language="multilingual")
    topics, _ = model.fit_transform(texts, X)
    seconds = time.perf_counter() - started
    topics = np.asarray(topics)
    names = [[w for w, _ in model.get_topic(t)[:3]] for t in sorted(set(topics.tolist())) if t >= 0]
    return topics, names, seconds


def measure(name, texts, labels, languages, counts, names_language, with_bertopic, lines):
    from xlmr_demo.encoders import embed

    X = embed(texts).embeddings
    languages_of = word_languages(texts, languages)
    lines += [
        f"### {name}: {len(texts):,} rows, {len(set(labels))} labels, {len(set(languages))} languages", "",
        "| method | groups | NMI | ARI | names mixing languages | seconds |", "|---|---|---|---|---|---|",
    ]  # fmt: skip
    made = product(X, texts, labels, languages, counts, names_language)
    for k, found, seconds in made:
        nmi, ari = scores(labels, found.labels)
        mixed = mixed_names(found.words, languages_of)
        how = "as many as the rows suggest" if found is made[0][1] else "clusters"
        lines.append(f"| product, {k} {how} | {k} | {nmi:.3f} | {ari:.3f} | {mixed} of {k} | {seconds:.1f} |")
        print(lines[-1], flush=True)
    shown = made[0][1]  # the app's default count
    if with_bertopic:
        topics, names, seconds = bertopic(X, texts)
        nmi, ari = scores(labels, topics)
        placed = topics >= 0
        nmi_placed, _ = scores(np.asarray(labels)[placed], topics[placed])
        groups = len(names)
        lines.append(
            f"| BERTopic defaults (outliers one group; {1 - placed.mean():.0%} of rows) | {groups} + outliers | "
            f"{nmi:.3f} | {ari:.3f} | {mixed_names(names, languages_of)} of {groups} | {seconds:.1f} |"
        )
        lines.append(f"| BERTopic defaults, its placed rows only | {groups} | {nmi_placed:.3f} | | | |")
        print(*lines[-2:], sep="\n", flush=True)
        lines += ["", "BERTopic's first ten topics (3 words each):", ""]
        lines += [f"- {' · '.join(words)}" for words in names[:10]]
    lines += ["", f"The product's names at {len(shown.sizes)} clusters (named in {shown.names_language}):", ""]
    headers, rows = shown.table()
    lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    lines.append("")


def main() -> None:
    from layers import cpu_model
    from zero_shot import read_sib, read_umsab

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sib", type=Path, default=ROOT.parent / "shared" / "data" / "sib")
    parser.add_argument("--umsab", type=Path, default=ROOT.parent / "shared" / "data" / "umsab")
    parser.add_argument("--no-bertopic", action="store_true")
    args = parser.parse_args()
    lines = [
        "# Named clusters against known topics, and against BERTopic's defaults",
        "",
        f"`python bench/clusters.py` on {cpu_model()} ({os.cpu_count()} cores), {time.strftime('%Y-%m-%d')}. "
        "The same vectors (the embedded model) for both methods; see the script's docstring for the scores. "
        "BERTopic's UMAP is not seeded by default, so its topics differ a little from run to run (244 to 247 topics "
        "on SIB in three runs). On UMSAB the labels are sentiments, which clusters of meaning do not follow (both "
        "methods are near 0.1): it shows that neither method is fooled into grouping by language.",
        "",
    ]
    texts, labels, languages, _ = read_sib(args.sib)
    measure("SIB-200, every language together", texts, labels, languages, [7, 12, 20], "spa_Latn",
            not args.no_bertopic, lines)  # fmt: skip
    texts, labels, languages = read_umsab(args.umsab)
    measure("UMSAB test, four languages", texts, labels, languages, [3, 8, 20], "english", not args.no_bertopic, lines)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
