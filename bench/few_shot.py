"""A few labelled rows per class, in one language, tested in the others: SIB-200 topics and UMSAB sentiment.

    python bench/few_shot.py [--sib DIR] [--umsab DIR] [--seeds 5]

For k = 8, 16, 32 and 64 rows per class (all of a class's rows where it has fewer), drawn (seeded) from one
language's training file, heads are trained on
the embedded model's vectors and measured on the *other* languages' test files:

- **logistic regression**: ``Head(kind="logreg")``, scikit-learn's ``LogisticRegression`` on the embeddings,
  the peer the issue names (about 65% on SIB from English);
- **the default head** (``by_language``: the MLP for the training language, logistic regression for the others,
  which are every measured row here), what training used for any number of rows before;
- **prototypes, examples only**: each class the average of its examples, centred per language, refined on the
  texts classified (``xlmr_demo.prototypes``), label names left out;
- **prototypes (the product)**: the same with the label names as a prior where they help (``Head(kind=
  "prototypes")`` with ``names``), what training chooses at ``heads.FEW_ROWS`` rows per class or fewer;
- and, for reference, zero-shot from the names alone (k = 0) on the same rows.

SIB-200: every language folder in ``--sib`` is the training language in turn (so any folder of SIB-200
languages, such as ones kept from this repository, is measured by the same command), labels as the files spell
them; accuracy, the mean over the target languages. UMSAB: English to Spanish, French and Arabic, labels named
negative, neutral, positive; macro-F1. Mean and spread (standard deviation) over seeds x training languages.
Writes ``bench/results/few_shot.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
RESULTS = ROOT / "bench" / "results" / "few_shot.md"
SHOTS = (8, 16, 32, 64)
METHODS = ("logistic regression", "the default head", "prototypes, examples only", "prototypes (the product)")
KINDS = {"logistic regression": "logreg", "the default head": "by_language"}  # else "prototypes"


def read_split(folder: Path, lang: str, split: str, names: dict[str, str] | None = None):
    """(texts, labels, languages) of one language's split: SIB-200 (``names`` None) or UMSAB."""
    import csv

    if names is None:
        with open(folder / lang / f"{split}.tsv", encoding="utf-8") as fh:
            reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
            next(reader)
            rows = list(reader)
        texts, labels = [r[2] for r in rows], [r[1] for r in rows]
    else:
        texts = (folder / lang / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
        labels = [names[v] for v in (folder / lang / f"{split}_labels.txt").read_text(encoding="utf-8").split()]
    return texts, np.array(labels, dtype=object), np.array([lang] * len(texts), dtype=object)


def scores(
    predicted: np.ndarray, truth: np.ndarray, languages: np.ndarray, measure: str
) -> float:  # mean over target languages
    from sklearn.metrics import f1_score

    out = []
    for lang in sorted(set(languages)):
        m = languages == lang
        if measure == "accuracy":
            out.append(np.mean(predicted[m] == truth[m]))
        else:
            out.append(f1_score(truth[m], predicted[m], average="macro"))
    return float(np.mean(out))


def run_set(data: dict, sources: list[str], names: list[str], measure: str, seeds: int, encoder) -> dict:
    """{(method, k): [score per seed x source]} and the zero-shot score per source."""
    from xlmr_demo.encoders import embed
    from xlmr_demo.heads import Head, HeadConfig
    from xlmr_demo.prototypes import name_vectors
    from xlmr_demo.zero_shot import ZeroShotClassifier

    vectors = {key: embed(texts, encoder).embeddings for key, (texts, _, _) in data.items()}
    named = dict(zip(names, name_vectors(names, encoder), strict=True))
    results: dict = {}
    for source in sources:
        X_train, y_train, _ = vectors[source, "train"], data[source, "train"][1], data[source, "train"][2]
        targets = [lang for (lang, split) in data if split == "test" and lang != source]
        X_test = np.concatenate([vectors[t, "test"] for t in targets])
        y_test = np.concatenate([data[t, "test"][1] for t in targets])
        lang_test = np.concatenate([data[t, "test"][2] for t in targets])
        texts_test = [x for t in targets for x in data[t, "test"][0]]
        zero = ZeroShotClassifier(names, encoder=encoder).predict_proba(texts_test, languages=lang_test)
        results.setdefault(("zero-shot from the names", 0), []).append(
            scores(np.array(names, dtype=object)[zero.argmax(axis=1)], y_test, lang_test, measure)
        )
        for k in SHOTS:
            for seed in range(seeds):
                rng = np.random.default_rng(seed)
                pools = [np.flatnonzero(y_train == n) for n in names]
                rows = np.concatenate([rng.choice(p, min(k, len(p)), replace=False) for p in pools])
                trained_on = [source] * len(rows)
                for method in METHODS:
                    head = Head(HeadConfig(kind=KINDS.get(method, "prototypes"), seed=seed)).fit(
                        X_train[rows], y_train[rows], languages=trained_on,
                        names=named if method == "prototypes (the product)" else None,
                    )  # fmt: skip
                    predicted = head.predict(X_test, lang_test)
                    results.setdefault((method, k), []).append(scores(predicted, y_test, lang_test, measure))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sib", type=Path, default=ROOT.parent / "shared" / "data" / "sib")
    parser.add_argument("--umsab", type=Path, default=ROOT.parent / "shared" / "data" / "umsab")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    from layers import cpu_model
    from zero_shot import UMSAB_NAMES

    from xlmr_demo.encoders import load_encoder

    encoder = load_encoder("embedded")
    started = time.monotonic()
    sib_langs = sorted(p.name for p in args.sib.iterdir() if p.is_dir())
    sib = {(lang, split): read_split(args.sib, lang, split) for lang in sib_langs for split in ("train", "test")}
    umsab_langs = ("english", "spanish", "french", "arabic")
    umsab = {
        (lang, split): read_split(args.umsab, lang, split, UMSAB_NAMES)
        for lang in umsab_langs
        for split in ("train", "test")
    }
    sets = {
        f"SIB-200 topics, each of {len(sib_langs)} languages to the {len(sib_langs) - 1} others (accuracy)": (
            sib, sib_langs, sorted(set(sib[sib_langs[0], "train"][1])), "accuracy",
        ),
        "UMSAB sentiment, English to Spanish, French and Arabic (macro-F1)": (
            umsab, ["english"], list(UMSAB_NAMES.values()), "macro-F1",
        ),
    }  # fmt: skip
    lines = [
        "# A few rows per class in one language, tested in the others",
        "",
        f"`python bench/few_shot.py --seeds {args.seeds}` on {cpu_model()}, {os.cpu_count()} cores, model "
        f"`{encoder.name}` ({encoder.precision}). Rows drawn per class from the training language's train file "
        "(seeded), measured on the other languages' test files; mean ± standard deviation over seeds x training "
        "languages. Methods as in the script's docstring.",
    ]
    for title, (data, sources, names, measure) in sets.items():
        results = run_set(data, sources, names, measure, args.seeds, encoder)
        zero = results.pop(("zero-shot from the names", 0))
        lines += [
            "",
            f"## {title}",
            "",
            "| rows per class | " + " | ".join(METHODS) + " |",
            "|---|" + "---|" * len(METHODS),
        ]
        for k in SHOTS:
            cells = []
            for method in METHODS:
                values = results[method, k]
                cells.append(f"{np.mean(values):.3f} ± {np.std(values):.3f}")
            best = int(np.argmax([np.mean(results[m, k]) for m in METHODS]))
            cells[best] = f"**{cells[best]}**"
            lines.append(f"| {k} | " + " | ".join(cells) + " |")
            print(title[:20], k, cells, file=sys.stderr)
        lines += ["", f"Zero-shot from the label names alone on the same rows: {np.mean(zero):.3f}."]
    lines += ["", f"Whole run {time.monotonic() - started:.0f} s wall.", ""]
    args.output.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
