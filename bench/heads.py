"""Classifier heads on UMSAB: quality against published figures, training speed against scikit-learn.

    python bench/heads.py

1. Quality: the four UMSAB languages' train files (plus val files as the validation split) merged
   into one CSV with a language column, the test files into another, trained with the product's
   defaults and measured on the test files, exactly as ``python -m xlmr_demo train TRAIN --eval
   TEST`` does. Reported: macro-F1 per language and their mean, and the cross-lingual transfer row
   of a head trained on English only. Published references (XLM-T paper): XLM-R-base fine-tuned
   67.3 mean, fastText 50.5.
2. Speed: fitting each head kind on the ~7,000 cached training embeddings, against scikit-learn's
   LogisticRegression (lbfgs) on the same arrays in the same run.

Writes ``bench/results/heads.md``.
"""

from __future__ import annotations

import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
UMSAB = ROOT.parent / "shared" / "data" / "umsab"
LANGS = {"english": "en", "spanish": "es", "french": "fr", "arabic": "ar"}
RESULTS = ROOT / "bench" / "results" / "heads.md"


def write_split(path: Path, splits: dict[str, str]) -> Path:
    """One CSV of every language's files ``{file split: split column value}``."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label", "language", "split"])
        for folder, lang in LANGS.items():
            for name, split in splits.items():
                texts = (UMSAB / folder / f"{name}_text.txt").read_text(encoding="utf-8").split("\n")
                labels = (UMSAB / folder / f"{name}_labels.txt").read_text(encoding="utf-8").split("\n")
                writer.writerows([t, y.strip(), lang, split] for t, y in zip(texts, labels, strict=False) if y.strip())
    return path


def timed(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    from xlmr_demo.dataset import load_dataset
    from xlmr_demo.encoders import embed
    from xlmr_demo.heads import Head, HeadConfig
    from xlmr_demo.metrics import mean_language_macro_f1
    from xlmr_demo.training import train_classifier

    with tempfile.TemporaryDirectory() as tmp:
        train_csv = write_split(Path(tmp) / "train.csv", {"train": "train", "val": "validation"})
        test_csv = write_split(Path(tmp) / "test.csv", {"test": "test"})
        train = load_dataset(train_csv)
        test = load_dataset(test_csv, purpose="evaluate", split_column=None)
    start = time.perf_counter()
    result = train_classifier(train, eval_dataset=test, label_issues=False)
    train_seconds = time.perf_counter() - start
    metrics = result.metrics
    per_lang = metrics["per_language"]
    transfer = metrics["transfer"]
    en_scores = transfer["macro_f1"][transfer["train_languages"].index("en")]
    en_row = dict(zip(transfer["eval_languages"], en_scores, strict=True))
    zero_shot = statistics.mean(en_row[lang] for lang in ("es", "fr", "ar"))

    X = embed(train.texts).embeddings
    tr, va = train.indices("train"), train.indices("validation")
    y = [train.labels[i] for i in tr]
    yv = [train.labels[i] for i in va]
    speed = {
        "mlp (default)": timed(lambda: Head(HeadConfig(kind="mlp")).fit(X[tr], y, X[va], yv)),
        "logreg": timed(lambda: Head(HeadConfig(kind="logreg")).fit(X[tr], y, X[va], yv)),
    }
    peer = timed(lambda: LogisticRegression(max_iter=1000).fit(X[tr], y))

    lines = [
        "# Classifier heads on UMSAB (`bench/heads.py`)",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; encoder `{result.classifier.encoder.name}` "
        f"({result.classifier.encoder.precision}); head defaults: {HeadConfig()}",
        f"- Train {len(tr)} rows, validation {len(va)} (UMSAB val files), test {metrics['n']} (UMSAB test files)",
        "",
        "## Macro-F1 on the UMSAB test files (%)",
        "",
        "| | ar | en | es | fr | mean |",
        "|---|---|---|---|---|---|",
        "| xlmr_demo default head, all four languages | "
        + " | ".join(f"{100 * per_lang[lang]['macro_f1']:.1f}" for lang in ("ar", "en", "es", "fr"))
        + f" | **{100 * mean_language_macro_f1(metrics):.1f}** |",
        "| xlmr_demo default head, trained on English only | "
        + " | ".join(f"{100 * en_row[lang]:.1f}" for lang in ("ar", "en", "es", "fr"))
        + f" | **{100 * zero_shot:.1f}** (es, fr, ar) |",
        "| XLM-R-base fine-tuned, all languages (XLM-T paper) | 64.3 | 68.5 | 66.0 | 70.5 | 67.3 |",
        "| fastText, monolingual (XLM-T paper) | 46.0 | 50.9 | 50.1 | 54.8 | 50.5 |",
        "",
        f"Whole `train_classifier` run (cached embeddings, training, metrics, transfer matrix): {train_seconds:.1f} s.",
        "",
        "## Fitting a head on the cached training embeddings (median of 3)",
        "",
        "| head | seconds | ratio vs scikit-learn LogisticRegression |",
        "|---|---|---|",
        *(f"| {name} | {sec:.2f} | {sec / peer:.2f} |" for name, sec in speed.items()),
        f"| scikit-learn LogisticRegression (lbfgs, no early stopping) | {peer:.2f} | 1.00 |",
    ]
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
