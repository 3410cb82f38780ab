"""Suspected label errors without translations: the product's confident-learning rule against cleanlab's.

    python bench/label_errors.py

Where a row has no translation in the file, the product judges its label by a model that never saw
it (out-of-fold probabilities, k-fold by meaning group). Until this comparison it used its own rule
(:func:`former_rule`: a row is suspect when another class's probability reaches that class's
average self-confidence while its own label's does not); cleanlab's ``find_label_issues``
implements confident learning (Northcutt et al. 2021) with more variants. Every method reads the
*same* out-of-fold probabilities here (``xlmr_demo.training.out_of_fold_probabilities``), so only
the rule differs. The product now calls cleanlab with the variant that did best
(``xlmr_demo.training.confident_learning_suspects``). Data with no translations, 5% of the labels
changed to another class (seeded, 3 seeds): UMSAB's training tweets in four languages, and the
SIB-200 slice with each meaning kept in one language only.

Writes ``bench/results/label_errors.md``.
"""

from __future__ import annotations

import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "bench" / "results" / "label_errors.md"
SEEDS = (0, 1, 2)
NOISE = 0.05


def umsab_rows() -> list[list[str]]:
    rows = []
    for folder, lang in {"english": "en", "spanish": "es", "french": "fr", "arabic": "ar"}.items():
        texts = (DATA / "umsab" / folder / "train_text.txt").read_text(encoding="utf-8").split("\n")
        labels = (DATA / "umsab" / folder / "train_labels.txt").read_text(encoding="utf-8").split("\n")
        rows += [[lang, y.strip(), t] for t, y in zip(texts, labels, strict=False) if y.strip()]
    return rows


def sib_single_rows() -> list[list[str]]:
    from groups import SIB_FILE_LANGUAGES, sib_rows

    rows = sib_rows(SIB_FILE_LANGUAGES)
    rng = np.random.default_rng(0)
    owner = {i: rng.choice(SIB_FILE_LANGUAGES) for i in sorted({r[1] for r in rows})}
    return [[folder[:2], cat, text] for folder, idx, cat, text in rows if owner[idx] == folder]


def former_rule(proba: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The product's own rule before this comparison (what cleanlab calls ``filter_by="confident_learning"``)."""
    rows = np.arange(len(y))
    given = proba[rows, y]
    thresholds = np.array([proba[y == k, k].mean() if (y == k).any() else 1.0 for k in range(proba.shape[1])])
    other = proba.copy()
    other[rows, y] = -1
    best_other = other.argmax(axis=1)
    return (given < thresholds[y]) & (other[rows, best_other] >= thresholds[best_other])


def scores(flagged: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    tp = int((flagged & truth).sum())
    p, r = tp / max(1, int(flagged.sum())), tp / max(1, int(truth.sum()))
    return p, r, 2 * p * r / max(1e-9, p + r)


def main() -> None:
    import platform

    from cleanlab.filter import find_label_issues as cleanlab_issues

    from xlmr_demo.dataset import load_dataset
    from xlmr_demo.encoders import embed
    from xlmr_demo.heads import HeadConfig
    from xlmr_demo.training import out_of_fold_probabilities

    started = time.perf_counter()
    methods = {
        "the product's former rule": lambda y, p: former_rule(p, y),
        "cleanlab, prune_by_noise_rate (default)": lambda y, p: cleanlab_issues(y, p),
        "cleanlab, both (the product now)": lambda y, p: cleanlab_issues(y, p, filter_by="both", n_jobs=1),
        "cleanlab, confident_learning": lambda y, p: cleanlab_issues(y, p, filter_by="confident_learning"),
    }
    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, rows in (
            ("UMSAB train, 4 languages", umsab_rows()),
            ("SIB, each meaning in one language", sib_single_rows()),
        ):
            sizes[name] = len(rows)
            classes = sorted({r[1] for r in rows})
            for seed in SEEDS:
                rng = np.random.default_rng(seed)
                changed = rng.random(len(rows)) < NOISE
                noisy = [
                    [lang, rng.choice([c for c in classes if c != label]) if flip else label, text]
                    for (lang, label, text), flip in zip(rows, changed, strict=True)
                ]
                path = Path(tmp) / f"noisy_{seed}.csv"
                with path.open("w", newline="", encoding="utf-8") as fh:
                    w = csv.writer(fh)
                    w.writerow(["language", "label", "text"])
                    w.writerows(noisy)
                dataset = load_dataset(path)
                X = embed(dataset.texts).embeddings
                proba, y, _ = out_of_fold_probabilities(X, dataset, HeadConfig(kind="mlp", seed=seed))
                truth = changed[[r - 1 for r in dataset.rows]]  # rows are 1-based data-row numbers
                for method, flag in methods.items():
                    results.setdefault((name, method), []).append(scores(np.asarray(flag(y, proba), bool), truth))
    lines = [
        "# Suspected label errors without translations: the product's rule against cleanlab",
        "",
        f"`python bench/label_errors.py`, {time.strftime('%Y-%m-%d')}, "
        f"{platform.machine()}, {time.perf_counter() - started:.0f} s. {NOISE:.0%} of the labels changed to another "
        f"class (seeds {', '.join(map(str, SEEDS))}); every method reads the same out-of-fold probabilities (5 folds, "
        "MLP head).",
        "Mean over seeds, with the lowest and highest F1.",
        "",
        "| data | method | precision | recall | F1 (min to max) |",
        "|---|---|---|---|---|",
    ]
    for (name, method), runs in results.items():
        p, r, f = (np.mean([run[k] for run in runs]) for k in range(3))
        low, high = min(run[2] for run in runs), max(run[2] for run in runs)
        lines.append(
            f"| {name} ({sizes[name]:,} rows) | {method} | {p:.3f} | {r:.3f} | {f:.3f} ({low:.3f} to {high:.3f}) |"
        )
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(RESULTS.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
