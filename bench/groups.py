"""Meaning groups on real parallel data: how the thresholds were chosen, and what honest figures look like.

    python bench/groups.py

1. **Thresholds** (``xlmr_demo.groups``). Mutual nearest neighbours across languages, kept when
   their margin reaches a threshold, swept from 1.00 to 1.10. *Recall*: the share of true
   translation pairs that end in one group, on the SIB-200 slice (the same 1,004 sentences in 8
   languages, ``index_id`` gives the truth) and on Tatoeba (1,000 pairs per language with English).
   *False joins*: the share of rows joined to any other row where nothing is a translation: the SIB
   slice with each meaning kept in one language only (same topics, same style, no translations) and
   UMSAB's test tweets in four languages. The rule: the lowest margin at which false joins stay at
   or below 1% of the rows in every set with no translations (a missed translation makes a figure
   too kind; a false join only makes the split a little coarser). Near-copies within one language
   use the same sweep on the same sets with within-language pairs.
2. **Honest figures**: six SIB languages in one file with no group column (what a user uploads),
   trained with the product's defaults: the headline with the groups found, with the split the
   product used before (identical texts only), and with a split by the true meaning (``index_id``
   as the group column), each with its 95% interval. The same for ``assets/sample_parallel.csv``.
3. **Leaks said under a split column**: the same six SIB languages with the official split (by meaning:
   no test row has a translation in training, so every test row reported as having one is a false
   alarm) and with a seeded row-by-row split (most test rows have one): how many the product reports.
4. **Planted label errors**: in the same SIB file, the topic of 3% of the rows changed in that one
   language only (seeded); precision, recall and F1 of the rows the product flags, with groups
   found and given, against the model-only search the product used before (confident learning on
   out-of-fold predictions of the training and validation rows, each row its own fold unit; today's
   confident-learning rule, cleanlab's, so that only the use of translations differs). Then the
   same errors in a file with no translations at all, where found groups must not accuse more
   correct labels than the model alone.

Writes ``bench/results/groups.md``.
"""

from __future__ import annotations

import csv
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "bench" / "results" / "groups.md"
SIB_FILE_LANGUAGES = ["spa_Latn", "por_Latn", "ita_Latn", "nld_Latn", "pol_Latn", "ukr_Cyrl"]
MARGINS = [round(1.0 + 0.01 * k, 2) for k in range(11)]


def sib_rows(languages: list[str] | None = None) -> list[tuple[str, str, str, str]]:
    """(language, index_id, category, text) of every SIB row (train, dev and test files)."""
    rows = []
    for folder in sorted(p.name for p in (DATA / "sib").iterdir()):
        if languages and folder not in languages:
            continue
        for split in ("train", "dev", "test"):
            with open(DATA / "sib" / folder / f"{split}.tsv", encoding="utf-8") as fh:
                reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
                next(reader)
                rows += [(folder, idx, cat, text) for idx, cat, text in reader]
    return rows


def tatoeba(lang: str) -> tuple[list[str], list[str]]:
    base = DATA / "tatoeba"
    return (
        (base / f"tatoeba.{lang}-eng.{lang}").read_text(encoding="utf-8").splitlines(),
        (base / f"tatoeba.{lang}-eng.eng").read_text(encoding="utf-8").splitlines(),
    )


def umsab_test() -> tuple[list[str], list[str]]:
    texts, langs = [], []
    for folder in ("english", "spanish", "french", "arabic"):
        lines = (DATA / "umsab" / folder / "test_text.txt").read_text(encoding="utf-8").split("\n")
        kept = [t for t in lines if t.strip()]
        texts += kept
        langs += [folder] * len(kept)
    return texts, langs


def sweep(X: np.ndarray, languages: list[str], same_language: bool) -> list[tuple[float, list[tuple[int, int]]]]:
    """For each margin of MARGINS: the mutual-nearest-neighbour links kept (within or across languages)."""
    from xlmr_demo.groups import mutual_pairs

    pairs = [(i, j, m) for i, j, m, same in mutual_pairs(X, languages) if same == same_language]
    return [(t, [(i, j) for i, j, m in pairs if m >= t]) for t in MARGINS]


def components(n: int, links: list[tuple[int, int]]) -> np.ndarray:
    from xlmr_demo.groups import join_groups

    return np.asarray(join_groups(n, links, [f"r{i}" for i in range(n)]), dtype=object)


def pair_recall(groups: np.ndarray, truth: list[str], languages: list[str]) -> float:
    """Share of true cross-language pairs (same truth id, different languages) placed in one group."""
    by_id: dict[str, list[int]] = {}
    for i, t in enumerate(truth):
        by_id.setdefault(t, []).append(i)
    hit = total = 0
    for rows in by_id.values():
        for a in range(len(rows)):
            for b in range(a + 1, len(rows)):
                if languages[rows[a]] != languages[rows[b]]:
                    total += 1
                    hit += groups[rows[a]] == groups[rows[b]]
    return hit / max(1, total)


def joined_share(groups: np.ndarray) -> float:
    sizes = Counter(groups.tolist())
    return float(np.mean([sizes[g] > 1 for g in groups]))


def thresholds() -> list[str]:
    from xlmr_demo.encoders import embed

    sib = sib_rows()
    sib_langs = [r[0] for r in sib]
    sib_ids = [r[1] for r in sib]
    X_sib = embed([r[3] for r in sib]).embeddings
    rng = np.random.default_rng(0)
    owner = {i: rng.choice(sorted(set(sib_langs))) for i in sorted(set(sib_ids))}
    alone = np.flatnonzero([owner[i] == lang for lang, i in zip(sib_langs, sib_ids, strict=True)])
    u_texts, u_langs = umsab_test()
    X_u = embed(u_texts).embeddings
    parallel = {"SIB, 8 languages": (X_sib, sib_langs, sib_ids)}
    for lang in ("deu", "fra", "spa", "cmn", "rus", "ara", "hin", "jpn"):
        foreign, english = tatoeba(lang)
        ids = [str(k) for k in range(len(foreign))] * 2
        parallel[f"Tatoeba {lang}-eng"] = (
            embed(foreign + english).embeddings,
            [lang] * len(foreign) + ["eng"] * len(english),
            ids,
        )
    unrelated = {
        "SIB, each meaning in one language": (X_sib[alone], [sib_langs[i] for i in alone]),
        "UMSAB test, 4 languages": (X_u, u_langs),
    }
    recall = {name: [pair_recall(components(len(X), links), ids, langs) for _, links in sweep(X, langs, False)]
              for name, (X, langs, ids) in parallel.items()}  # fmt: skip
    false = {name: [joined_share(components(len(X), links)) for _, links in sweep(X, langs, False)]
             for name, (X, langs) in unrelated.items()}  # fmt: skip
    copies = {name: [joined_share(components(len(X), links)) for _, links in sweep(X, langs, True)]
              for name, (X, langs) in unrelated.items()}  # fmt: skip
    youden = [
        np.mean([r[k] for r in recall.values()]) - np.mean([f[k] for f in false.values()]) for k in range(len(MARGINS))
    ]
    chosen = MARGINS[int(np.argmax(youden))]
    chosen_copy = next(t for k, t in enumerate(MARGINS) if all(v[k] <= 0.01 for v in copies.values()))
    lines = [
        "## 1. Thresholds",
        "",
        "Translations: mutual nearest neighbours in two languages, kept at a margin of at least the column's.",
        "Recall: share of true translation pairs that end in one group. False joins: share of rows joined to any",
        "other row where no row is a translation of another.",
        "",
        "| set | " + " | ".join(f"{t:.2f}" for t in MARGINS) + " |",
        "|---|" + "---|" * len(MARGINS),
    ]
    lines += [f"| recall: {n} | " + " | ".join(f"{v:.3f}" for v in r) + " |" for n, r in recall.items()]
    lines += [f"| false joins: {n} | " + " | ".join(f"{v:.3f}" for v in r) + " |" for n, r in false.items()]
    lines += [f"| near-copy joins (one language): {n} | " + " | ".join(f"{v:.3f}" for v in r) + " |"
              for n, r in copies.items()]  # fmt: skip
    lines.append("| Youden's J: mean recall - mean false joins | " + " | ".join(f"{v:.3f}" for v in youden) + " |")
    lines += [
        "",
        "Rules. For the **split** (a missed translation makes a figure too kind; a false join only coarsens the "
        f"split): the margin of the largest Youden's J, **{chosen:.2f}** (`TRANSLATION_MARGIN`). **Near-copies** in "
        "one language (nothing here measures their recall, so the rule bounds false joins): "
        f"the lowest margin at which at most 1% of the rows are joined in every set, **{chosen_copy:.2f}** "
        "(`COPY_MARGIN`; these sets hold no copies, so every join there is false).",
        "",
    ]
    return lines


def write_csv(path: Path, rows: list[list[str]], header: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def honest(tmp: Path) -> list[str]:
    from xlmr_demo.dataset import load_dataset
    from xlmr_demo.groups import Grouping, text_groups
    from xlmr_demo.metrics import ci_text
    from xlmr_demo.training import train_classifier

    sib = sib_rows(SIB_FILE_LANGUAGES)
    lang = {f: f[:2] for f in SIB_FILE_LANGUAGES}
    plain = write_csv(tmp / "sib6.csv", [[lang[r[0]], r[2], r[3]] for r in sib], ["language", "category", "text"])
    grouped = write_csv(tmp / "sib6_grouped.csv", [[r[1], lang[r[0]], r[2], r[3]] for r in sib],
                        ["index_id", "language", "category", "text"])  # fmt: skip
    sample = ROOT / "assets" / "sample_parallel.csv"
    with sample.open(encoding="utf-8") as fh:
        table = list(csv.reader(fh))
    no_ids = write_csv(tmp / "sample_no_ids.csv", [r[1:] for r in table[1:]], table[0][1:])

    def run(path: Path, old: bool = False, **columns):
        dataset = load_dataset(path, **columns)
        if old:  # the split before meaning groups: identical texts only, and no group is found later
            from xlmr_demo.dataset import _assign_splits

            dataset.grouping = Grouping(text_groups(dataset.texts), "column", "(identical texts)")
            dataset.splits = _assign_splits(dataset.labels, dataset.languages, dataset.groups, dataset.config)
        started = time.perf_counter()
        result = train_classifier(dataset, transfer=False, label_issues=False)
        m = result.metrics
        g = result.training["groups"]
        return [
            f"{ci_text(m['macro_f1'], m['macro_f1_ci'])}",
            f"{ci_text(m['accuracy'], m['accuracy_ci'])}",
            f"{m['n']:,}",
            f"{g.get('grouped_rows', 0):,} rows in {g.get('groups', 0):,} groups",
            f"{time.perf_counter() - started:.1f} s",
        ]

    lines = [
        "## 2. Honest figures",
        "",
        "Trained with the product's defaults (`train_classifier`, by_language head, seed 0); the figure is macro-F1 on",
        "the test split with its 95% bootstrap interval over meaning groups. 'Before' is the split the product",
        "used until now (stratified by label and language, identical texts kept together, nothing else).",
        "",
        "| file | split | macro-F1 (95%) | accuracy (95%) | test rows | groups | time |",
        "|---|---|---|---|---|---|---|",
    ]
    cases = [
        ("SIB, 6 languages, no group column", "before: identical texts only", plain, {"old": True}),
        ("SIB, 6 languages, no group column", "now: groups found from the embeddings", plain, {}),
        ("SIB, 6 languages, `index_id` column", "by true meaning (the group column)", grouped, {}),
        ("sample, `pair_id` removed", "before: identical texts only", no_ids, {"old": True}),
        ("sample, `pair_id` removed", "now: groups found from the embeddings", no_ids, {}),
        ("sample, with `pair_id`", "by true meaning (the group column)", sample, {}),
    ]
    for name, split, path, options in cases:
        lines.append(f"| {name} | {split} | " + " | ".join(run(path, **options)) + " |")
    return [*lines, ""]


def leaks(tmp: Path) -> list[str]:
    from xlmr_demo.dataset import grouping_summary, load_dataset, with_found_groups
    from xlmr_demo.encoders import embed

    rows = []
    for folder in SIB_FILE_LANGUAGES:
        for split in ("train", "dev", "test"):
            with open(DATA / "sib" / folder / f"{split}.tsv", encoding="utf-8") as fh:
                reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
                next(reader)
                rows += [[idx, folder[:2], cat, text, split] for idx, cat, text in reader]
    rng = np.random.default_rng(0)
    shuffled = [[*r[:4], "test" if rng.random() < 0.2 else "train"] for r in rows]
    lines = [
        "## 3. Leaks said under a split column",
        "",
        "Six SIB languages, no group column, a split column. 'Truly leaked': test rows whose `index_id` has a",
        "training or validation row. 'Said': what the product reports (`leaked_test_rows`).",
        "",
        "| split column | test rows | truly leaked | said | said and true | said, not true |",
        "|---|---|---|---|---|---|",
    ]
    for name, table in (("official (by meaning)", rows), ("row by row, seeded", shuffled)):
        path = write_csv(tmp / "sib_split.csv", [r[1:] for r in table], ["language", "category", "text", "split"])
        dataset = load_dataset(path)
        dataset = with_found_groups(dataset, embed(dataset.texts).embeddings)
        said = set(dataset.leaked_test_rows().tolist())
        ids = np.array([r[0] for r in table], dtype=object)
        splits = np.asarray(dataset.splits)
        learnt = set(ids[splits != "test"].tolist())
        test = dataset.indices("test")
        true = {int(i) for i in test if ids[i] in learnt}
        assert grouping_summary(dataset)["leaked_test_rows"] == len(said)
        lines.append(
            f"| {name} | {len(test):,} | {len(true):,} | {len(said):,} | {len(said & true):,} | {len(said - true):,} |"
        )
    return [*lines, ""]


def planted(tmp: Path) -> list[str]:
    from xlmr_demo.dataset import load_dataset, with_found_groups
    from xlmr_demo.encoders import embed
    from xlmr_demo.heads import HeadConfig
    from xlmr_demo.training import find_label_issues

    sib = sib_rows(SIB_FILE_LANGUAGES)
    topics = sorted({r[2] for r in sib})
    rng = np.random.default_rng(1)
    changed = set(rng.choice(len(sib), size=round(0.03 * len(sib)), replace=False).tolist())
    rows = []
    for k, (folder, idx, cat, text) in enumerate(sib):
        if k in changed:
            cat = rng.choice([t for t in topics if t != cat])
        rows.append([idx, folder[:2], cat, text])
    path = write_csv(tmp / "sib6_planted.csv", rows, ["index_id", "language", "category", "text"])
    bare = write_csv(tmp / "sib6_planted_bare.csv", [r[1:] for r in rows], ["language", "category", "text"])
    truth = {k + 1 for k in changed}  # data-row numbers

    def score(found: set[int], searched: set[int]) -> str:
        planted_here = truth & searched
        tp = len(found & planted_here)
        p, r = tp / max(1, len(found)), tp / max(1, len(planted_here))
        return f"{p:.3f} | {r:.3f} | {2 * p * r / max(1e-9, p + r):.3f} | {len(found):,} | {len(planted_here):,}"

    lines = [
        "## 4. Planted label errors",
        "",
        f"SIB, 6 languages ({len(sib):,} rows): the topic of {len(truth)} rows (3%, seeded) changed in that one",
        "language only. Flagged: the rows marked suspect. Planted: those among the rows searched.",
        "",
        "| search | precision | recall | F1 | flagged | planted |",
        "|---|---|---|---|---|---|",
    ]
    config = HeadConfig(kind="mlp")
    given = load_dataset(path)
    X = embed(given.texts).embeddings
    issues = find_label_issues(X, given, config, limit=len(given.texts))
    everything = set(given.rows)
    lines.append(
        "| now, `index_id` as the group column | "
        + score({i["row"] for i in issues if i["suspect"]}, everything)
        + " |"
    )
    found = with_found_groups(load_dataset(bare), X)
    issues = find_label_issues(X, found, config, limit=len(found.texts))
    lines.append(
        "| now, groups found from the embeddings | "
        + score({i["row"] for i in issues if i["suspect"]}, everything)
        + " |"
    )
    # before: confident learning on out-of-fold predictions of the training and validation rows, each row alone
    from dataclasses import replace

    alone = replace(found, grouping=None)
    issues = find_label_issues(X, alone, config, limit=len(alone.texts))
    searched = {r for r, s in zip(alone.rows, alone.splits, strict=True) if s != "test"}
    flagged = {i["row"] for i in issues if i["suspect"] and i["row"] in searched}
    lines.append(
        "| before: model only (each row alone), training and validation rows searched | "
        + score(flagged, searched)
        + " |"
    )
    # the same errors in a file with no translations (each meaning kept in one language): found groups must not
    # accuse correct labels more than the model alone does
    rng = np.random.default_rng(0)
    owner = {i: rng.choice(SIB_FILE_LANGUAGES)[:2] for i in sorted({r[0] for r in rows})}
    kept = [k for k, r in enumerate(rows) if owner[r[0]] == r[1]]
    single = write_csv(tmp / "sib6_single.csv", [rows[k][1:] for k in kept], ["language", "category", "text"])
    truth = {n + 1 for n, k in enumerate(kept) if k in changed}
    dataset = load_dataset(single)
    X = embed(dataset.texts).embeddings
    found = with_found_groups(dataset, X)
    for name, data in (("now, groups found", found), ("model only (each row alone)", replace(found, grouping=None))):
        issues = find_label_issues(X, data, config, limit=len(data.texts))
        flagged = {i["row"] for i in issues if i["suspect"]}
        lines.append(f"| no translations ({len(kept):,} rows), {name} | " + score(flagged, set(data.rows)) + " |")
    return [*lines, ""]


def main() -> None:
    import platform
    import tempfile

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        body = thresholds() + honest(Path(tmp)) + leaks(Path(tmp)) + planted(Path(tmp))
    head = [
        "# Meaning groups: thresholds, honest figures, label errors",
        "",
        f"`python bench/groups.py`, {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
        f"{time.perf_counter() - started:.0f} s in all. Data: `../shared/data` (SIB-200 slice, Tatoeba, UMSAB).",
        "",
    ]
    RESULTS.write_text("\n".join(head + body) + "\n", encoding="utf-8")
    print(RESULTS.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
