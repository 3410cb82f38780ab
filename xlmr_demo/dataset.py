"""Labelled data: a user's table becomes texts, labels, languages and splits, checked in plain words.

:func:`prepare_dataset` finds the text, label, language and split columns (each overridable),
drops what cannot be used and says so, refuses what cannot be trained on, detects languages when
no column gives them, and splits train/validation/test stratified by label and language, keeping
identical texts in the same split so that test scores are not inflated by copies of training rows.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np

from .data import guess_text_column, letter_share
from .errors import UserError
from .limits import current as current_limits
from .limits import over_limit
from .tables import Table, check_columns, columns_text, read_table, rows_text, short

LABEL_COLUMN_NAMES = ("label", "labels", "class", "category", "sentiment", "target", "intent", "topic", "tag", "y")
LANGUAGE_COLUMN_NAMES = ("language", "lang", "locale", "lng", "language_code", "lang_code")
SPLIT_COLUMN_NAMES = ("split", "set", "subset", "partition", "fold")
SPLIT_VALUES = {
    "train": "train",
    "training": "train",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "dev": "validation",
    "development": "validation",
    "test": "test",
    "testing": "test",
    "eval": "test",
    "evaluation": "test",
    "holdout": "test",
}
MISSING = {"nan", "null", "none"}  # spreadsheet and pandas spellings of "no value" (case-insensitive)
Split = Literal["train", "validation", "test"]
UNKNOWN_LANGUAGE = "und"  # ISO 639-2 "undetermined"


@dataclass(frozen=True)
class DataConfig:
    """Limits and choices for turning a table into a dataset."""

    min_class_rows: int = 2  # a class needs one row to learn from and one to test on
    warn_class_rows: int = 5  # below this, per-class scores are too noisy to trust
    validation_fraction: float = 0.1  # for early stopping of the heads
    test_fraction: float = 0.2  # the metrics are measured here
    seed: int = 0
    min_language_confidence: float = 0.5  # below this a detected language is "und"

    def __post_init__(self) -> None:
        if not 0 < self.test_fraction < 1 or not 0 <= self.validation_fraction < 1:
            raise ValueError("fractions must be in (0, 1)")
        if self.validation_fraction + self.test_fraction >= 0.9:
            raise ValueError("validation and test fractions leave too little to train on")
        if self.min_class_rows < 2:
            raise ValueError("min_class_rows must be >= 2")


@dataclass(frozen=True)
class ColumnMapping:
    """Which column plays which role."""

    text: str
    label: str
    language: str | None = None
    split: str | None = None


@dataclass
class Dataset:
    """Rows ready for training: parallel lists, one entry per usable row of the source table."""

    texts: list[str]
    labels: list[str]
    languages: list[str]
    splits: list[Split]
    rows: list[int]  # 1-based data-row numbers in the source table
    mapping: ColumnMapping
    languages_detected: bool = False
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        return sorted(set(self.labels))

    def indices(self, split: Split) -> np.ndarray:
        return np.flatnonzero(np.asarray(self.splits) == split)

    def counts(self) -> dict[str, dict[str, int]]:
        """{label: {language: rows}}, for the label x language chart."""
        out: dict[str, dict[str, int]] = {}
        for label, lang in zip(self.labels, self.languages, strict=True):
            out.setdefault(label, {}).setdefault(lang, 0)
            out[label][lang] += 1
        return out


def quoted(values: list[str]) -> str:
    """Values for a message: each quoted and cut to 60 characters (a label may be a whole paragraph)."""
    return ", ".join(repr(short(v)) for v in values)


def column_named(columns: list[str], names: tuple[str, ...], exclude: set[str]) -> str | None:
    lowered = {c.strip().lower(): c for c in columns if c not in exclude}
    return next((lowered[n] for n in names if n in lowered), None)


def _distinct(cells: list[str | None], accept, limit: int) -> set[str] | None:
    """The distinct non-empty values (stripped), or None as soon as one is not ``accept``-ed or they pass ``limit``.

    Stops at the first misfit, so checking every column of a wide table costs about one pass over it.
    """
    seen: set[str] = set()
    for cell in cells:
        if cell and cell not in seen:
            value = cell.strip()
            if not accept(value):
                return None
            seen.add(cell)
            if len(seen) > limit:
                return None
    return {c.strip() for c in seen}


def _looks_like_split(cells: list[str | None]) -> bool:
    values = _distinct(cells, lambda v: v.lower() in SPLIT_VALUES, len(SPLIT_VALUES) * 4)
    return values is not None and len({v.lower() for v in values}) >= 2


_LANGUAGE_CODE = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,4})?")


def looks_like_language(cells: list[str | None]) -> bool:
    values = _distinct(cells, _LANGUAGE_CODE.fullmatch, 60)
    return values is not None and 1 <= len(values) <= 60


def detect_columns(
    table: Table,
    name: str,
    text: str | None = None,
    label: str | None = None,
    language: str | None = None,
    split: str | None = None,
) -> ColumnMapping:
    """Choose the text, label, language and split columns; a given name must exist."""
    check_columns(table, text=text, label=label, language=language, split=split)
    used = {c for c in (text, label, language, split) if c}
    if split is None:
        split = column_named(table.columns, SPLIT_COLUMN_NAMES, used)
        # a column named "split" is one if it holds any split name (its other values are then errors)
        if split is None or not {(c or "").strip().lower() for c in table.column(split)} & set(SPLIT_VALUES):
            split = next((c for c in table.columns if c not in used and _looks_like_split(table.column(c))), None)
        used |= {split} if split else set()
    if language is None:
        language = column_named(table.columns, LANGUAGE_COLUMN_NAMES, used)
        used |= {language} if language else set()
    if text is None:
        rest = [c for c in table.columns if c not in used]
        if not rest:
            raise UserError(f"{name} has no column left for the text; found columns: {columns_text(table.columns)}.")
        text = guess_text_column(table.select(rest), name)
    used.add(text)
    if label is None:
        label = column_named(table.columns, LABEL_COLUMN_NAMES, used) or _guess_label(table, used)
    if label is None:
        raise UserError(
            "Expected a label column (for example 'label' or 'category'); "
            f"found columns: {columns_text(table.columns)}."
        )
    if label == text:
        raise UserError(f"The text and label columns are the same column ({label!r}).")
    if language is None:
        language = next(
            (c for c in table.columns if c not in used | {label} and looks_like_language(table.column(c))), None
        )
    return ColumnMapping(text=text, label=label, language=language, split=split)


def _guess_label(table: Table, used: set[str]) -> str | None:
    """The remaining column with a few repeated values and little text: what labels look like."""
    n = len(table)
    best, best_key = None, None
    for c in table.columns:
        if c in used:
            continue
        cells = table.column(c)
        most = max(2, min(200, n // 2))
        values = _distinct(cells, bool, most)
        distinct = len(values) if values is not None else most + 1
        if 2 <= distinct <= most:
            key = (letter_share(cells) > 40, distinct)  # prefer short values, then fewer classes
            if best_key is None or key < best_key:
                best, best_key = c, key
    return best


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


#: Characters of a text that language identification reads: more does not change its answer, only its time.
LANGUAGE_ID_CHARS = 2_000


@lru_cache(maxsize=1)
def _language_identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_languages(texts: list[str], min_confidence: float) -> list[str]:
    """ISO 639-1 code of each text's language (py3langid, offline), "und" below ``min_confidence``."""
    identifier = _language_identifier()
    out = []
    for t in texts:
        lang, prob = identifier.classify(t[:LANGUAGE_ID_CHARS])
        out.append(lang if prob >= min_confidence else UNKNOWN_LANGUAGE)
    return out


def _assign_splits(labels: list[str], languages: list[str], texts: list[str], config: DataConfig) -> list[Split]:
    """Stratified by (label, language), seeded; identical texts always share a split."""
    groups: dict[str, list[int]] = {}
    for i, t in enumerate(texts):
        groups.setdefault(t.strip().casefold(), []).append(i)
    strata: dict[tuple[str, str], list[list[int]]] = {}
    for members in groups.values():
        first = members[0]
        strata.setdefault((labels[first], languages[first]), []).append(members)
    rng = np.random.default_rng(config.seed)
    splits: list[Split] = ["train"] * len(texts)
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
    config: DataConfig = DataConfig(),
    purpose: Literal["train", "evaluate"] = "train",
) -> Dataset:
    """Turn ``table`` into a checked :class:`Dataset` (see the module docstring).

    For ``purpose="evaluate"`` every usable row is a test row, and class sizes are not checked
    (a class with one example can still be scored).
    """
    mapping = detect_columns(table, name, text_column, label_column, language_column, split_column)
    j = {c: table.columns.index(c) for c in table.columns}
    warnings: list[str] = []
    notes = list(table.notes)
    blank_text, blank_label, kept = [], [], []
    for i, row in enumerate(table.rows, start=1):
        text, label = row[j[mapping.text]], row[j[mapping.label]]
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
    texts = [table.rows[i - 1][j[mapping.text]] for i in kept]
    raw_labels = [table.rows[i - 1][j[mapping.label]] for i in kept]
    labels = [v.strip() for v in raw_labels]
    if labels != raw_labels:
        notes.append("Removed spaces around some labels (so 'pos ' and 'pos' are one class).")
    _check_label_kind(labels, mapping.label)
    language_cells = [table.rows[i - 1][j[mapping.language]] for i in kept] if mapping.language else None
    languages, language_note = _languages(language_cells, texts, config)
    notes += [language_note] if language_note else []
    result = Dataset(
        texts=texts,
        labels=labels,
        languages=languages,
        splits=["test"] * len(texts),
        rows=kept,
        mapping=mapping,
        languages_detected=language_note is not None,
        warnings=warnings,
        notes=notes,
    )
    if purpose == "evaluate":
        return result
    counts = Counter(labels)
    if len(counts) < 2:
        raise UserError(
            f"The label column {mapping.label!r} has only one class ({quoted(list(counts))}); "
            "a classifier needs at least two."
        )
    max_classes = current_limits().classes
    if len(counts) > max_classes:
        raise over_limit(
            f"The label column {mapping.label!r} has {len(counts):,} classes; the limit is {max_classes:,}.", "classes"
        )
    tiny = sorted(c for c, n in counts.items() if n < config.min_class_rows)
    if tiny:
        raise UserError(
            f"Class(es) {quoted(tiny[:10])} have fewer than {config.min_class_rows} rows; "
            "add examples or remove them."
        )
    small = sorted(c for c, n in counts.items() if n < config.warn_class_rows)
    if small:
        warnings.append(
            f"Class(es) {quoted(small[:10])} have fewer than {config.warn_class_rows} rows; "
            "their scores will be unreliable."
        )
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
    if mapping.split:
        split_cells = [table.rows[i - 1][j[mapping.split]] or "" for i in kept]
        result.splits = _splits_from_column(split_cells, mapping.split, labels, config)
    else:
        result.splits = _assign_splits(labels, languages, texts, config)
    return result


def load_dataset(
    path: str | Path,
    config: DataConfig = DataConfig(),
    purpose: Literal["train", "evaluate"] = "train",
    **columns: str | None,
) -> Dataset:
    """Read ``path`` (any format of :func:`xlmr_demo.tables.read_table`) and :func:`prepare_dataset` it."""
    path = Path(path)
    table = read_table(path)
    return prepare_dataset(table, path.name, config=config, purpose=purpose, **columns)
