"""Classifier heads on UMSAB: quality against published figures, training speed against scikit-learn.

    python bench/heads.py

1. Quality: the four UMSAB languages' train files (plus val files as the validation split) merged
   into one CSV with a language column, the test files into another, trained with the product's
   defaults and measured on the test files, exactly as ``python -m xlmr_demo train TRAIN --eval
   TEST`` does. Reported: macro-F1 per language and their mean, and the cross-lingual transfer row
   of a head trained on English only. Published references (XLM-T paper): XLM-R-base fine-tuned
   67.3 mean, fastText 50.5.
2. Head kinds in held-out settings: the default by_language head (the MLP for the training rows'
   languages, logistic regression for others, routed by each text's detected language), the MLP
   head, the logreg head and scikit-learn's LogisticRegression (lbfgs, C=1; the peer), each trained
   on the train files of all four languages or of one language (the val files for early stopping),
   measured on its own language and, zero-shot, on the other three: once on the val files (what
   may be used to choose a default) and once on the test files (what is reported, never used for
   choosing).
3. Speed: fitting each head kind on the ~7,000 cached training embeddings, against scikit-learn's
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


def read_rows(folder: str, name: str) -> tuple[list[str], list[str]]:
    texts = (UMSAB / folder / f"{name}_text.txt").read_text(encoding="utf-8").split("\n")
    labels = (UMSAB / folder / f"{name}_labels.txt").read_text(encoding="utf-8").split("\n")
    pairs = [(t, y.strip()) for t, y in zip(texts, labels, strict=False) if y.strip()]
    return [t for t, _ in pairs], [y for _, y in pairs]


def head_kinds() -> list[str]:
    """Macro-F1 of each head kind in held-out settings, on the val files and on the test files (table lines)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    from xlmr_demo.encoders import embed
    from xlmr_demo.heads import Head, HeadConfig
    from xlmr_demo.languages import detect_languages

    data = {}
    for folder, lang in LANGS.items():
        for name in ("train", "val", "test"):
            texts, labels = read_rows(folder, name)
            data[lang, name] = (embed(texts).embeddings, np.asarray(labels, dtype=object), detect_languages(texts))

    def stack(langs: list[str], name: str):
        return tuple(np.concatenate([data[lang, name][k] for lang in langs]) for k in range(3))

    kinds = ["by_language (default)", "mlp", "logreg", "scikit-learn LogisticRegression"]
    sources = {"all four": list(LANGS.values()), **{lang: [lang] for lang in LANGS.values()}}
    rows, means = [], {(k, part): [] for k in kinds for part in ("val", "test")}
    for source, langs in sources.items():
        X, y, detected = stack(langs, "train")
        Xv, yv, _ = stack(langs, "val")
        heads = {
            kind: Head(HeadConfig(kind=kind.split()[0])).fit(X, y, Xv, yv, languages=detected) for kind in kinds[:3]
        }
        peer = LogisticRegression(max_iter=1000).fit(X, y)
        models = {
            **{k: lambda X, lang, h=h: h.predict(X, lang) for k, h in heads.items()},
            kinds[3]: lambda X, lang, peer=peer: peer.predict(X),
        }
        others = [lang for lang in LANGS.values() if lang not in langs]
        for target, measured in (("own", langs), ("other three, zero-shot", others)):
            if not measured:
                continue
            cells = []
            for part in ("val", "test"):
                for kind in kinds:
                    score = statistics.mean(
                        f1_score(
                            data[lang, part][1], models[kind](data[lang, part][0], data[lang, part][2]), average="macro"
                        )
                        for lang in measured
                    )
                    means[kind, part].append(score)
                    cells.append(f"{100 * score:.1f}")
            rows.append(f"| {source} | {target} | " + " | ".join(cells) + " |")
    mean_cells = [f"**{100 * statistics.mean(means[k, part]):.1f}**" for part in ("val", "test") for k in kinds]
    header = " | ".join(f"{part}: {k}" for part in ("val", "test") for k in kinds)
    return [
        "## Head kinds in held-out settings (macro-F1 %, mean over the languages measured)",
        "",
        "Trained on the train files of the languages named (their val files stop the MLP early), measured on",
        "the same languages or zero-shot on the other three. The val columns guided the choice of default; the",
        "test columns are reported only. by_language routes each text by its detected language (py3langid):",
        "the MLP for the training rows' languages, logistic regression for any other.",
        "",
        f"| trained on | measured on | {header} |",
        "|---|---|" + "---|" * (2 * len(kinds)),
        *rows,
        "| **mean of the settings** | | " + " | ".join(mean_cells) + " |",
    ]


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
    from xlmr_demo.heads import KINDS, Head, HeadConfig
    from xlmr_demo.languages import detect_languages
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
    detected = detect_languages([train.texts[i] for i in tr])
    speed = {
        f"{kind}{' (default)' if kind == HeadConfig.kind else ''}": timed(
            lambda kind=kind: Head(HeadConfig(kind=kind)).fit(X[tr], y, X[va], yv, languages=detected)
        )
        for kind in KINDS
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
        *head_kinds(),
        "",
        "## Fitting a head on the cached training embeddings (median of 3)",
        "",
        "| head | seconds | ratio vs scikit-learn LogisticRegression |",
        "|---|---|---|",
        *(f"| {name} | {sec:.2f} | {sec / peer:.2f} |" for name, sec in speed.items()),
        f"| scikit-learn LogisticRegression (lbfgs) | {peer:.2f} | 1.00 |",
    ]
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
