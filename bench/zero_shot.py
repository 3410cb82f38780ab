"""Zero-shot classification from label names, step by step, on SIB-200 topics and UMSAB sentiment.

    python bench/zero_shot.py [--sib DIR] [--umsab DIR] [--model NAME]

Nothing is trained and no label of the files is read except to score. For each set, every language's rows are
classified together (as the app and ``python -m xlmr_demo zero-shot`` classify a whole file) by:

1. **naive**: the label whose sentence "This text is about <label>." is most similar (cosine), both sides with
   the model's query prompt: the peer the issue names (about 65% on SIB);
2. **passage prompt on the label side** instead (the model's own prompt for the side searched): measured, not
   kept;
3. **naive + each language's centre out** (``prototypes.centred_by_language``);
4. **the product** (``ZeroShotClassifier``): 3, then one round of label centres from the texts; with the
   language column given, and with each row's language detected (py3langid) as for a file without one.

SIB-200: every language folder in ``--sib`` (default ``../shared/data/sib``; any folder of SIB-200
``{lang}/{train,dev,test}.tsv`` works, so languages kept from this repository are measured by the same command),
all 1,004 sentences a language (the splits mean nothing without training), labels as the files spell them
("science/technology", ...). UMSAB: the four test files, labels named "negative", "neutral", "positive".
Writes ``bench/results/zero_shot.md``.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
RESULTS = ROOT / "bench" / "results" / "zero_shot.md"
UMSAB_NAMES = {"0": "negative", "1": "neutral", "2": "positive"}


def read_sib(folder: Path, splits=("train", "dev", "test")) -> tuple[list[str], list[str], list[str], list[str]]:
    """(texts, labels, languages, meaning ids) of every language folder under ``folder``."""
    texts, labels, languages, ids = [], [], [], []
    for lang in sorted(p.name for p in folder.iterdir() if p.is_dir()):
        for split in splits:
            with open(folder / lang / f"{split}.tsv", encoding="utf-8") as fh:
                reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
                next(reader)
                for index_id, category, text in reader:
                    texts.append(text), labels.append(category), languages.append(lang), ids.append(index_id)
    return texts, labels, languages, ids


def read_umsab(folder: Path) -> tuple[list[str], list[str], list[str]]:
    texts, labels, languages = [], [], []
    for lang in ("arabic", "english", "french", "spanish"):
        t = (folder / lang / "test_text.txt").read_text(encoding="utf-8").splitlines()
        y = (folder / lang / "test_labels.txt").read_text(encoding="utf-8").split()
        texts += t
        labels += [UMSAB_NAMES[v] for v in y]
        languages += [lang] * len(t)
    return texts, labels, languages


def per_language(pred: np.ndarray, truth: np.ndarray, languages: np.ndarray, score: str) -> dict[str, float]:
    from sklearn.metrics import f1_score

    out = {}
    for lang in sorted(set(languages)):
        m = languages == lang
        out[lang] = (
            float(np.mean(pred[m] == truth[m]))
            if score == "accuracy"
            else float(f1_score(truth[m], pred[m], average="macro"))
        )
    return out


def steps(texts: list[str], labels: list[str], languages: list[str], names: list[str], encoder) -> dict[str, dict]:
    """Each step's per-language score (argmax over ``names``), in the order of the module docstring."""
    from xlmr_demo.encoders import Encoder, EncoderConfig, embed, read_model_json
    from xlmr_demo.prototypes import TEMPLATE, centred_by_language
    from xlmr_demo.prototypes import unit as _unit
    from xlmr_demo.zero_shot import ZeroShotClassifier

    X = embed(texts, encoder).embeddings
    classifier = ZeroShotClassifier(names, encoder=encoder)
    L = classifier.label_vectors()
    prompts = read_model_json(encoder.folder / "config_sentence_transformers.json").get("prompts", {})
    passage = Encoder(EncoderConfig(encoder.config.model, prompt=prompts.get("passage", encoder.prompt)))
    passage_side = _unit(embed([TEMPLATE.format(n) for n in names], passage).embeddings)
    centred = _unit(centred_by_language(X, languages, classifier.reference_centre()))
    scores = {
        "naive": X @ L.T,
        "passage prompt on the label side": X @ passage_side.T,
        "naive + each language's centre out": centred @ L.T,
        "the product (language column given)": classifier.predict_proba(texts, languages=languages),
    }
    started = time.monotonic()
    scores["the product (languages detected)"] = classifier.predict_proba(texts)
    scores["_seconds"] = time.monotonic() - started
    return scores


def without_guard(texts: list[str], languages: list[str], names: list[str], encoder) -> np.ndarray:
    """The product before files of one topic were guarded against: every language of 30 rows centred on its own
    average, label centres refined from the texts alone."""
    from xlmr_demo.encoders import embed
    from xlmr_demo.prototypes import centred_by_language, soft_assignment, unit
    from xlmr_demo.zero_shot import ZeroShotClassifier

    classifier = ZeroShotClassifier(names, encoder=encoder)
    X, L = embed(texts, encoder).embeddings, classifier.label_vectors()
    Xc = unit(centred_by_language(X, languages, classifier.reference_centre()))
    return Xc @ unit(soft_assignment(Xc @ L.T).T @ Xc).T


def one_topic_files(sib: tuple, encoder) -> list[str]:
    """Each SIB language's rows of one topic (science/technology) alone, and with half as many other rows: what the
    product and the unguarded product find."""
    from xlmr_demo.zero_shot import ZeroShotClassifier

    texts, labels, languages, _ = (np.array(v, dtype=object) for v in sib)
    names = sorted(set(labels.tolist()))
    rng = np.random.default_rng(0)
    lines = [
        "",
        "## Files of mostly one topic (SIB-200, each language alone)",
        "",
        "A language's own average is that of its topics; where one topic dominates, taking it out takes out what the "
        "texts say. The product keeps a language's own centre only where no label draws more than half-way from an "
        "even spread to all rows (as the texts lean from the package's own sentences' centre). Accuracy, mean over "
        "the languages:",
        "",
        "| file | naive | without the guard | the product |",
        "|---|---|---|---|",
    ]
    for title, share in (("science/technology rows only", 1.0), ("science/technology, 2/3 of the rows", 2 / 3)):
        found = {"naive": [], "without the guard": [], "the product": []}
        for lang in sorted(set(languages.tolist())):
            rows = np.flatnonzero(languages == lang)
            science = rows[labels[rows] == "science/technology"]
            other = rows[labels[rows] != "science/technology"]
            extra = rng.choice(other, round(len(science) * (1 - share) / share), replace=False)
            picked = np.concatenate([science, extra])
            t, y, lg = texts[picked].tolist(), labels[picked], languages[picked].tolist()
            classifier = ZeroShotClassifier(names, encoder=encoder)
            from xlmr_demo.encoders import embed

            naive = embed(t, encoder).embeddings @ classifier.label_vectors().T
            for key, S in (
                ("naive", naive), ("without the guard", without_guard(t, lg, names, encoder)),
                ("the product", classifier.predict_proba(t, languages=lg)),
            ):  # fmt: skip
                found[key].append(np.mean(np.array(names, dtype=object)[S.argmax(axis=1)] == y))
        lines.append(f"| {title} | " + " | ".join(f"{np.mean(v):.3f}" for v in found.values()) + " |")
        print(title, {k: round(float(np.mean(v)), 3) for k, v in found.items()}, file=sys.stderr)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sib", type=Path, default=ROOT.parent / "shared" / "data" / "sib")
    parser.add_argument("--umsab", type=Path, default=ROOT.parent / "shared" / "data" / "umsab")
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    from layers import cpu_model

    from xlmr_demo.encoders import load_encoder
    from xlmr_demo.metrics import share_interval
    from xlmr_demo.prototypes import SHOWN_TEMPERATURE

    encoder = load_encoder(args.model)
    started = time.monotonic()
    sets = {}
    texts, labels, languages, ids = read_sib(args.sib)
    sets["SIB-200 topics (accuracy)"] = (texts, labels, languages, ids, sorted(set(labels)), "accuracy")
    texts, labels, languages = read_umsab(args.umsab)
    sets["UMSAB sentiment (macro-F1)"] = (texts, labels, languages, None, list(UMSAB_NAMES.values()), "macro-F1")
    lines = [
        "# Zero-shot classification from label names",
        "",
        f"`python bench/zero_shot.py` on {cpu_model()}, {os.cpu_count()} cores, model `{encoder.name}` "
        f"({encoder.precision}). Nothing trained; each file's labels read only to score. Steps as in the "
        "script's docstring; the last two rows are what the app and `python -m xlmr_demo zero-shot` do.",
    ]
    for title, (texts, labels, languages, ids, names, score) in sets.items():
        scores = steps(texts, labels, languages, names, encoder)
        seconds = scores.pop("_seconds")
        truth, langs = np.array(labels, dtype=object), np.array(languages, dtype=object)
        columns = sorted(set(languages))
        lines += [
            "",
            f"## {title}: {len(texts):,} rows, {len(columns)} languages, labels {', '.join(names)}",
            "",
            "| step | mean over languages | " + " | ".join(columns) + " |",
            "|---|---|" + "---|" * len(columns),
        ]
        for step, S in scores.items():
            pred = np.array(names, dtype=object)[S.argmax(axis=1)]
            per = per_language(pred, truth, langs, "accuracy" if score == "accuracy" else "f1")
            mean = np.mean(list(per.values()))
            lines.append(f"| {step} | **{mean:.3f}** | " + " | ".join(f"{per[c]:.3f}" for c in columns) + " |")
            print(f"{title} {step}: {mean:.3f}", file=sys.stderr)
        shares = scores["the product (languages detected)"]
        pred = np.array(names, dtype=object)[shares.argmax(axis=1)]
        ci = share_interval(pred == truth, ids)
        confidence = shares.max(axis=1)
        lines += [
            "",
            f"The product with languages detected: accuracy over all rows {np.mean(pred == truth):.3f} "
            f"(95% interval {ci[0]:.3f} to {ci[1]:.3f}, {'meaning groups' if ids else 'rows'} resampled); "
            f"{seconds:.1f} s for the {len(texts):,} rows with their vectors cached (language detection, "
            "centres, refinement).",
            "",
            f"Shown confidence (the top label's share at temperature {SHOWN_TEMPERATURE}) against how often the "
            f"top label was right: mean {confidence.mean():.3f} against {np.mean(pred == truth):.3f}; "
            + ", ".join(
                f"rows at {lo:.1f}-{lo + 0.2:.1f}: {np.mean((pred == truth)[m]):.3f} right ({m.sum():,} rows)"
                for lo in (0.2, 0.4, 0.6, 0.8)
                if (m := (confidence >= lo) & (confidence < lo + 0.2 + (lo == 0.8))).any()
            )
            + ".",
        ]
    lines += one_topic_files(read_sib(args.sib), encoder)
    lines += ["", f"Whole run {time.monotonic() - started:.0f} s wall.", ""]
    args.output.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
