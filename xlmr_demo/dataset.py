"""Labelled data: a user's table becomes texts, labels, languages and splits, checked in plain words.

:func:`prepare_dataset` finds the text, label, language and split columns (each overridable),
drops what cannot be used and says so, refuses what cannot be trained on, detects languages when
no column gives them, and splits train/validation/test stratified by label and language with each
meaning group (see :mod:`xlmr_demo.groups`) as the unit, so that no test row has a translation or a
copy among the training rows. Groups come from a group column, else from identical texts; once the
rows are embedded, :func:`with_found_groups` adds the translations and near-copies the embeddings
show, and splits again.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np

from .columns import SPLIT_VALUES, Columns, detect_columns
from .errors import UserError
from .groups import Grouping, column_groups, find_groups, text_groups
from .languages import MIN_CONFIDENCE, UNKNOWN_LANGUAGE, detect_languages
from .limits import current as current_limits
from .limits import over_limit
from .progress import Progress
from .readers import read_table
from .table import Table, rows_text, short

MISSING = {"nan", "null", "none"}  # spreadsheet and pandas spellings of "no value" (case-insensitive)
#: What may separate several labels in one cell.
LABEL_SEPARATORS = (",", ";", "|")
#: A separator is noticed when at least this share of the label cells hold it ...
SEVERAL_LABELS_SHARE = 0.05
Split = Literal["train", "validation", "test"]


@dataclass(frozen=True)
class DataConfig:
    """Limits and choices for turning a table into a dataset."""

    min_class_rows: int = 2  # a class needs one row to learn from and one to test on
    warn_class_rows: int = 5  # below this, per-class scores are too noisy to trust
    validation_fraction: float = 0.1  # for early stopping of the heads
    test_fraction: float = 0.2  # the metrics are measured here
    seed: int = 0
    min_language_confidence: float = MIN_CONFIDENCE  # below this a detected language is "und"
    # several labels per row, separated by this in the label cells ("," ";" "|", or "auto": the one the
    # cells hold); None: one label per row
    label_separator: str | None = None

    def __post_init__(self) -> None:
        if not 0 < self.test_fraction < 1 or not 0 <= self.validation_fraction < 1:
            raise ValueError("fractions must be in (0, 1)")
        if self.validation_fraction + self.test_fraction >= 0.9:
            raise ValueError("validation and test fractions leave too little to train on")
        if self.min_class_rows < 2:
            raise ValueError("min_class_rows must be >= 2")
        if self.label_separator not in (None, "auto", *LABEL_SEPARATORS):
            raise ValueError(f"label_separator must be one of {' '.join(LABEL_SEPARATORS)}, or auto")


@dataclass
class Dataset:
    """Rows ready for training: parallel lists, one entry per usable row of the source table."""

    texts: list[str]
    labels: list[str]
    languages: list[str]
    splits: list[Split]
    rows: list[int]  # 1-based data-row numbers in the source table
    columns: Columns
    languages_detected: bool = False
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    grouping: Grouping | None = None  # meaning groups; None: every row its own (an evaluation file)
    # several labels per row: each row's labels, sorted (``labels`` then holds them joined by ", ")
    label_sets: list[tuple[str, ...]] | None = None
    splits_given: bool = False  # the splits come from the user's split column (kept when groups change)
    config: DataConfig = field(default_factory=DataConfig)  # how the splits were drawn

    @property
    def groups(self) -> list[str]:
        """One meaning-group id per row (each row its own group when none are known)."""
        return self.grouping.groups if self.grouping else [f"r{i}" for i in range(len(self.texts))]

    def leaked_test_rows(self) -> np.ndarray:
        """Test rows whose meaning group has a training or validation row: a translation or copy was learnt."""
        groups = np.asarray(self.groups, dtype=object)
        splits = np.asarray(self.splits)
        learnt = set(groups[splits != "test"].tolist())
        test = self.indices("test")
        return test[np.fromiter((g in learnt for g in groups[test]), bool, len(test))]

    @property
    def classes(self) -> list[str]:
        if self.label_sets is not None:
            return sorted({label for labels in self.label_sets for label in labels})
        return sorted(set(self.labels))

    @property
    def multi_label(self) -> bool:
        return self.label_sets is not None

    @property
    def targets(self) -> list:
        """What a head learns per row: its label, or the tuple of its labels."""
        return list(self.label_sets) if self.label_sets is not None else list(self.labels)

    def indices(self, split: Split) -> np.ndarray:
        return np.flatnonzero(np.asarray(self.splits) == split)

    def test_rows_trained_on(self) -> Dataset:
        """A copy whose test rows are training rows: when an evaluation file measures, none is held out here."""
        return replace(self, splits=["train" if s == "test" else s for s in self.splits], splits_given=True)

    def counts(self) -> dict[str, dict[str, int]]:
        """{label: {language: rows}}, for the label x language chart (a row with several labels counts for each)."""
        out: dict[str, dict[str, int]] = {}
        sets = self.label_sets if self.label_sets is not None else [(label,) for label in self.labels]
        for labels, lang in zip(sets, self.languages, strict=True):
            for label in labels:
                out.setdefault(label, {}).setdefault(lang, 0)
                out[label][lang] += 1
        return out


#: Labels longer than this are compared as written: a category name is short, and NFKC may make a text 18x longer.
LABEL_KEY_CHARS = 1_000
#: Different spellings allowed per class of the classes limit before any is normalised (a hostile file has
#: thousands of long labels; a real one a few spellings of each class).
SPELLINGS_PER_CLASS = 5


def label_key(label: str) -> str:
    """What makes two label spellings one class: equal after Unicode NFKC, case folding and collapsed spaces."""
    if len(label) > LABEL_KEY_CHARS:
        return "\0" + label  # never equal to a normalised key
    return " ".join(unicodedata.normalize("NFKC", label).casefold().split())


def merge_spellings(labels: list[str], column: str) -> tuple[list[str], list[str]]:
    """``labels`` with each class under its most frequent spelling (the first seen on a tie), and a note per merge.

    "Neutral", "neutral" and "ＮＥＵＴＲＡＬ" are one class: a spreadsheet's case or width is not a category.
    More than :data:`SPELLINGS_PER_CLASS` times the classes limit of different labels is refused first.
    """
    counts = Counter(labels)
    max_classes = current_limits().classes
    if len(counts) > SPELLINGS_PER_CLASS * max_classes:
        raise over_limit(
            f"The label column {short(column)!r} has {len(counts):,} different labels; the limit is {max_classes:,} "
            "classes.",
            "classes",
        )
    spellings: dict[str, Counter] = {}
    for label, n in counts.items():  # each distinct label once, in the order first seen
        spellings.setdefault(label_key(label), Counter())[label] = n
    canonical = {spelling: group.most_common(1)[0][0] for group in spellings.values() for spelling in group}
    notes = [
        f"Labels that differ only in case, width or spaces are one class, {short(group.most_common(1)[0][0])!r}: "
        + ", ".join(f"{short(spelling)!r} ({n:,} row{'s' * (n != 1)})" for spelling, n in group.most_common())
        + "."
        for group in spellings.values()
        if len(group) > 1
    ]
    return [canonical[label] for label in labels], notes


def several_labels(cells: list[str | None]) -> str | None:
    """The separator of a label column whose cells hold several labels ("joy, surprise"), else None.

    A separator counts when at least :data:`SEVERAL_LABELS_SHARE` of the cells hold it, every part it
    leaves is short, and the parts recur: fewer distinct parts than distinct cells (a column of sentences
    with commas fails all three).
    """
    values = [c.strip() for c in cells if not _missing(c)]
    if not values:
        return None
    for separator in LABEL_SEPARATORS:
        holding = [v for v in values if separator in v]
        if len(holding) < SEVERAL_LABELS_SHARE * len(values) or len(holding) < 2:
            continue
        parts = [p.strip() for v in values for p in v.split(separator) if p.strip()]
        if parts and max(map(len, parts)) <= 60 and len(set(parts)) < len(set(values)):
            return separator
    return None


def split_label_sets(
    cells: list[str], separator: str, column: str
) -> tuple[list[tuple[str, ...]], list[str]]:  # fmt: skip
    """Each cell's labels (split on ``separator``, spellings merged per label as :func:`merge_spellings` does),
    sorted, each once; and the notes of the merges."""
    parts = [[p.strip() for p in c.split(separator) if not _missing(p)] for c in cells]  # "a, none": a
    flat, notes = merge_spellings([p for row in parts for p in row], column)
    other = several_labels(flat)
    if other is not None:
        example = next(p for p in flat if other in p)
        notes.append(
            f"Labels such as {short(example)!r} still hold {other!r}: if that separates the labels, choose it "
            f"instead of {separator!r}."
        )
    out, k = [], 0
    for row in parts:
        out.append(tuple(sorted(set(flat[k : k + len(row)]))))
        k += len(row)
    return out, notes


def match_classes(labels: list[str], classes: list[str]) -> list[str]:
    """``labels`` (of an evaluation file) spelled as the classifier's ``classes`` where they are one class."""
    spelled = {label_key(c): c for c in classes}
    return [spelled.get(label_key(label), label) for label in labels]


def quoted(values: list[str]) -> str:
    """Values for a message: each quoted and cut to 60 characters (a label may be a whole paragraph)."""
    return ", ".join(repr(short(v)) for v in values)


def _check_label_kind(labels: list[str], column: str) -> None:
    distinct = set(labels)
    try:
        numbers = [float(v) for v in distinct]
    except ValueError:
        numbers = []
    if len(numbers) > 20 and any(not x.is_integer() for x in numbers):
        raise UserError(
            f"The label column {column!r} holds {len(distinct)} different decimal numbers: it looks like a "
            "continuous score, not categories. Group the values into categories first."
        )
    if len(labels) >= 10 and len(distinct) == len(labels):
        raise UserError(
            f"The label column {column!r} has a different value in every row: it looks like an ID, not a label. "
            "Choose the column that holds the categories."
        )


def _assign_splits(labels: list[str], languages: list[str], groups: list[str], config: DataConfig) -> list[Split]:
    """Stratified by (label, language), seeded, with meaning groups as the unit: a group's rows share a split.

    A group is stratified by its most frequent label and language (a group of translations spans
    languages; its label is the same in each unless one is wrong).
    """
    members_of: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        members_of.setdefault(g, []).append(i)
    strata: dict[tuple[str, str], list[list[int]]] = {}
    for members in members_of.values():
        label = Counter(labels[i] for i in members).most_common(1)[0][0]
        language = Counter(languages[i] for i in members).most_common(1)[0][0]
        strata.setdefault((label, language), []).append(members)
    rng = np.random.default_rng(config.seed)
    splits: list[Split] = ["train"] * len(groups)
    for key in sorted(strata):
        units = strata[key]
        order = rng.permutation(len(units))
        n_units = len(units)
        n_test = round(n_units * config.test_fraction)
        n_val = round(n_units * config.validation_fraction)
        if n_units >= 2:
            n_test = max(1, n_test)  # every stratum with two rows is tested
        if n_units - n_test - n_val < 1:
            n_val = max(0, n_units - n_test - 1)
        for rank, u in enumerate(order):
            split: Split = "test" if rank < n_test else "validation" if rank < n_test + n_val else "train"
            for i in units[u]:
                splits[i] = split
    return splits


def _splits_from_column(cells: list[str], column: str, labels: list[str], config: DataConfig) -> list[Split]:
    unknown = sorted({c for c in cells if c.strip().lower() not in SPLIT_VALUES})
    if unknown:
        raise UserError(
            f"The split column {column!r} holds {quoted(unknown[:5])}; "
            "expected train, validation (or val/dev) and test."
        )
    splits: list[Split] = [SPLIT_VALUES[c.strip().lower()] for c in cells]  # type: ignore[misc]
    if "train" not in splits:
        raise UserError(f"The split column {column!r} marks no rows as 'train'.")
    if "validation" not in splits:  # carve early-stopping rows out of train, stratified by label
        rng = np.random.default_rng(config.seed)
        train = [i for i, s in enumerate(splits) if s == "train"]
        by_label: dict[str, list[int]] = {}
        for i in train:
            by_label.setdefault(labels[i], []).append(i)
        for members in by_label.values():
            k = round(len(members) * config.validation_fraction)
            for i in rng.permutation(members)[: min(k, len(members) - 1)]:
                splits[i] = "validation"
    return splits


def _languages(cells: list[str | None] | None, texts: list[str], config: DataConfig) -> tuple[list[str], str | None]:
    """Languages from the language column's ``cells``, or detected from ``texts`` with a note saying so."""
    if cells is not None:
        return [(c or UNKNOWN_LANGUAGE).strip() for c in cells], None
    languages = detect_languages(texts, config.min_language_confidence)
    top = ", ".join(f"{lang} {n}" for lang, n in Counter(languages).most_common(6))
    return languages, f"No language column: detected the language of each row offline (py3langid): {top}."


def _missing(cell: str | None) -> bool:
    return cell is None or not cell.strip() or cell.strip().lower() in MISSING


def prepare_dataset(
    table: Table,
    name: str,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    language_column: str | None = None,
    split_column: str | None = None,
    group_column: str | None = None,
    config: DataConfig = DataConfig(),
    purpose: Literal["train", "evaluate"] = "train",
) -> Dataset:
    """Turn ``table`` into a checked :class:`Dataset` (see the module docstring).

    For ``purpose="evaluate"`` every usable row is a test row, and class sizes are not checked
    (a class with one example can still be scored).
    """
    found = detect_columns(
        table, name, ("text", "label", "language", "split", "group"),
        text=text_column, label=label_column, language=language_column, split=split_column, group=group_column,
    )  # fmt: skip
    j = {c: table.columns.index(c) for c in table.columns}
    warnings: list[str] = []
    notes = list(table.notes)
    blank_text, blank_label, kept = [], [], []
    for i, row in enumerate(table.rows, start=1):
        text, label = row[j[found.text]], row[j[found.label]]
        if _missing(text):
            blank_text.append(i)
        elif _missing(label):
            blank_label.append(i)
        else:
            kept.append(i)
    if blank_text:
        warnings.append(f"Skipped {len(blank_text)} row(s) with an empty or NaN text (rows {rows_text(blank_text)}).")
    if blank_label:
        warnings.append(
            f"Skipped {len(blank_label)} row(s) with an empty or NaN label (rows {rows_text(blank_label)})."
        )
    if not kept:
        raise UserError(f"{name} has no row with both a text and a label.")
    texts = [table.rows[i - 1][j[found.text]] for i in kept]
    raw_labels = [table.rows[i - 1][j[found.label]] for i in kept]
    labels = [v.strip() for v in raw_labels]
    if labels != raw_labels:
        notes.append("Removed spaces around some labels (so 'pos ' and 'pos' are one class).")
    label_sets, hint = None, ""
    if config.label_separator == "auto":
        found_separator = several_labels(labels) or ("," if purpose == "evaluate" else None)  # one label each
        if found_separator is None:
            raise UserError(
                f"No cell of the label column {short(found.label)!r} holds several labels separated by "
                f"{' '.join(LABEL_SEPARATORS)}: give the separator, or train with one label per row."
            )
        config = replace(config, label_separator=found_separator)
        notes.append(f"Several labels per row, separated by {found_separator!r}.")
    if config.label_separator is not None:
        label_sets, merges = split_label_sets(labels, config.label_separator, found.label)
        empty = [kept[k] for k, s in enumerate(label_sets) if not s]
        if empty:
            raise UserError(f"Row(s) {rows_text(empty)} hold only separators in the label column {found.label!r}.")
        labels = [", ".join(s) for s in label_sets]
    else:
        labels, merges = merge_spellings(labels, found.label)
        separator = several_labels(labels)
        if separator is not None:
            hint = (
                f"Some cells of the label column {short(found.label)!r} hold several labels separated by "
                f"{separator!r} (such as {short(next(v for v in labels if separator in v))!r}): tick 'Several "
                f"labels per row' (command line: --multi-label) to learn each label, or each cell is one class."
            )
            notes.append(hint)
    notes += merges
    if label_sets is None:
        _check_label_kind(labels, found.label)
    language_cells = [table.rows[i - 1][j[found.language]] for i in kept] if found.language else None
    languages, language_note = _languages(language_cells, texts, config)
    notes += [language_note] if language_note else []
    if found.group:
        grouping = Grouping(
            column_groups([table.rows[i - 1][j[found.group]] for i in kept], texts), "column", found.group
        )
    else:
        grouping = Grouping(text_groups(texts), "text")
    result = Dataset(
        texts=texts,
        labels=labels,
        languages=languages,
        splits=["test"] * len(texts),
        rows=kept,
        columns=found,
        languages_detected=language_note is not None,
        warnings=warnings,
        notes=notes,
        grouping=grouping,
        config=config,
        label_sets=label_sets,
    )
    if purpose == "evaluate":
        return result
    counts = Counter(labels) if label_sets is None else Counter(x for s in label_sets for x in s)
    if len(counts) < 2:
        raise UserError(
            f"The label column {found.label!r} has only one class ({quoted(list(counts))}); "
            "a classifier needs at least two."
        )
    max_classes = current_limits().classes
    if len(counts) > max_classes:
        raise over_limit(
            f"The label column {found.label!r} has {len(counts):,} classes; the limit is {max_classes:,}.", "classes"
        )
    tiny = sorted(c for c, n in counts.items() if n < config.min_class_rows)
    if tiny:
        raise UserError(
            (hint + " " if hint else "") + f"Class(es) {quoted(tiny[:10])} have fewer than {config.min_class_rows} "
            "rows; add examples or remove them."
        )
    small = sorted(c for c, n in counts.items() if n < config.warn_class_rows)
    if small:
        warnings.append(
            f"Class(es) {quoted(small[:10])} have fewer than {config.warn_class_rows} rows; "
            "their scores will be unreliable."
        )
    if label_sets is not None:  # each label must also be missing from some rows, or there is nothing to learn
        everywhere = sorted(c for c, n in counts.items() if n == len(labels))
        if everywhere:
            raise UserError(f"The label(s) {quoted(everywhere[:10])} are on every row: there is nothing to learn.")
    by_text: dict[str, set[str]] = {}
    for t, label in zip(texts, labels, strict=True):
        by_text.setdefault(t.strip().casefold(), set()).add(label)
    conflicts = [(t, sorted(ls)) for t, ls in by_text.items() if len(ls) > 1]
    if conflicts:
        example = conflicts[0]
        warnings.append(
            f"{len(conflicts)} text(s) appear with different labels, e.g. {short(example[0])!r}: "
            f"{quoted(example[1][:10])}. Check them; the model cannot get both right."
        )
    if found.split:
        split_cells = [table.rows[i - 1][j[found.split]] or "" for i in kept]
        result.splits = _splits_from_column(split_cells, found.split, strata_of(result), config)
        result.splits_given = True
    else:
        result.splits = _assign_splits(strata_of(result), languages, grouping.groups, config)
    return result


def strata_of(dataset: Dataset) -> list[str]:
    """What the split is stratified by: each row's label, or, with several labels, its rarest one (so every
    label, rare ones too, is tested)."""
    if dataset.label_sets is None:
        return dataset.labels
    counts = Counter(x for s in dataset.label_sets for x in s)
    return [min(s, key=lambda x: (counts[x], x)) for s in dataset.label_sets]


def with_found_groups(dataset: Dataset, X: np.ndarray, progress: Progress | None = None) -> Dataset:
    """``dataset`` with the translations and near-copies that its embeddings ``X`` show grouped
    (:func:`xlmr_demo.groups.find_groups`) and, unless a split column gave them, its splits drawn
    again with those groups as the unit. A dataset whose groups came from a group column is
    returned as it is: the user said what belongs together; so is one whose groups were found already (a
    corrected dataset keeps the split it was measured on)."""
    if dataset.grouping is not None and dataset.grouping.source in ("column", "found"):
        return dataset
    grouping = find_groups(X, dataset.texts, dataset.languages, progress)
    splits = dataset.splits if dataset.splits_given else _assign_splits(
        strata_of(dataset), dataset.languages, grouping.groups, dataset.config
    )  # fmt: skip
    return replace(dataset, grouping=grouping, splits=splits)


def grouping_summary(dataset: Dataset, examples: int = 5) -> dict:
    """How the rows were grouped by meaning, for the report: source, counts and a few found pairs."""
    grouping = dataset.grouping
    if grouping is None:
        return {"source": "none"}
    pairs = [
        {
            "texts": [dataset.texts[i], dataset.texts[j]],
            "languages": [dataset.languages[i], dataset.languages[j]],
            "rows": [dataset.rows[i], dataset.rows[j]],
            "margin": round(m, 3),
        }
        for i, j, m in grouping.pairs[:examples]
    ]  # the surest (pairs are sorted by margin)
    summary = {
        "source": grouping.source,
        "column": grouping.column,
        "rows": len(dataset.texts),
        "grouped_rows": grouping.grouped_rows,
        "groups": grouping.multi_row_groups,
        "examples": pairs,
    }
    if dataset.columns.split is not None:  # the user's split column, which may straddle groups
        summary["leaked_test_rows"] = len(dataset.leaked_test_rows())
    return summary


def load_dataset(
    path: str | Path,
    config: DataConfig = DataConfig(),
    purpose: Literal["train", "evaluate"] = "train",
    **columns: str | None,
) -> Dataset:
    """Read ``path`` (any format of :func:`xlmr_demo.readers.read_table`) and :func:`prepare_dataset` it."""
    path = Path(path)
    table = read_table(path)
    return prepare_dataset(table, path.name, config=config, purpose=purpose, **columns)
