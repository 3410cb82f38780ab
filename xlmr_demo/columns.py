"""Column roles: which column of a user's table holds the text, the label, the language, the split
and the meaning group (translations, paraphrases, copies).

Training, evaluation, prediction, maps and the app all ask :func:`detect_columns` with the roles
they need; each role has one list of names (:data:`ROLE_NAMES`) and, where names say nothing, one
rule on the cells. A column named by the user must exist and is never second-guessed.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

from .errors import UserError
from .table import Table, columns_text

#: Column names that give a role away, in order of preference (compared stripped and lower-cased).
ROLE_NAMES: dict[str, tuple[str, ...]] = {
    "text": ("text", "sentence", "sentences", "content", "body", "message", "review", "tweet", "comment"),
    "label": ("label", "labels", "class", "category", "sentiment", "target", "intent", "topic", "tag", "y"),
    "language": ("language", "lang", "locale", "lng", "language_code", "lang_code"),
    "split": ("split", "set", "subset", "partition", "fold"),
    "group": (
        "group",
        "group_id",
        "pair_id",
        "pair",
        "meaning",
        "meaning_id",
        "index_id",
        "translation_id",
        "sentence_id",
        "source_id",
    ),
}
#: How a split column may spell each split (compared lower-cased).
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
#: Roles a table may have, in the order :func:`detect_columns` settles them.
ROLES = ("split", "group", "language", "text", "label")


@dataclass(frozen=True)
class Columns:
    """Which column plays which role (None: the table has no such column, or it was not asked for)."""

    text: str
    label: str | None = None
    language: str | None = None
    split: str | None = None
    group: str | None = None  # rows sharing a value are one meaning (translations, paraphrases, copies)


_LETTER = re.compile(r"[^\W\d_]")  # a letter in any script (a word character that is no digit or underscore)
_LANGUAGE_CODE = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,4})?")


def letter_share(cells: list[str | None]) -> float:
    """Mean letters per cell among the first 500 non-empty cells: high for text columns, zero for numbers and ids."""
    sample = list(itertools.islice((c for c in cells if c), 500))
    return len(_LETTER.findall("\n".join(sample))) / max(1, len(sample))


def _distinct(cells: list[str | None], accept: Callable[[str], object], limit: int) -> set[str] | None:
    """The distinct non-empty values (stripped), or None as soon as one is not ``accept``-ed or they pass ``limit``.

    Stops at the first misfit, so checking every column of a wide table costs about one pass over it.
    """
    seen: set[str] = set()
    for cell in cells:
        if cell and cell not in seen:
            if not accept(cell.strip()):
                return None
            seen.add(cell)
            if len(seen) > limit:
                return None
    return {c.strip() for c in seen}


def looks_like_split(cells: list[str | None]) -> bool:
    """Only split names (train, dev, test, ...), at least two different splits."""
    values = _distinct(cells, lambda v: v.lower() in SPLIT_VALUES, len(SPLIT_VALUES) * 4)
    return values is not None and len({v.lower() for v in values}) >= 2


def looks_like_language(cells: list[str | None]) -> bool:
    """Only language codes (en, de-CH, zh_Hans, ...), at most 60 of them."""
    values = _distinct(cells, _LANGUAGE_CODE.fullmatch, 60)
    return values is not None and 1 <= len(values) <= 60


def looks_like_group(cells: list[str | None], languages: list[str | None]) -> bool:
    """Ids that recur across languages, about once per language: what a column of translation ids looks like.

    At least a fifth of the rows share their value with another row, at least half of the values that
    recur do so in two or more languages, and a value has at most 1.2 rows per language on average (a
    label recurs across languages too, but many times within each).
    """
    per_value: dict[str, list[str]] = {}
    for cell, lang in zip(cells, languages, strict=True):
        if cell and cell.strip():
            per_value.setdefault(cell.strip(), []).append((lang or "").strip())
    recurring = [langs for langs in per_value.values() if len(langs) > 1]
    rows = sum(len(langs) for langs in recurring)
    if not recurring or rows < len(cells) / 5:
        return False
    across = sum(len(set(langs)) > 1 for langs in recurring)
    per_language = rows / sum(len(set(langs)) for langs in recurring)
    return across >= len(recurring) / 2 and per_language <= 1.2


def _looks_like_label(table: Table, candidates: list[str]) -> str | None:
    """The candidate with a few repeated values and little text: what labels look like."""
    n = len(table)
    best, best_key = None, None
    for c in candidates:
        cells = table.column(c)
        most = max(2, min(200, n // 2))
        values = _distinct(cells, bool, most)
        distinct = len(values) if values is not None else most + 1
        if 2 <= distinct <= most:
            key = (letter_share(cells) > 40, distinct)  # prefer short values, then fewer classes
            if best_key is None or key < best_key:
                best, best_key = c, key
    return best


def check_columns(table: Table, **given: str | None) -> None:
    """Each ``role=name`` given must be a column of ``table``."""
    for role, name in given.items():
        if name is not None and name not in table.columns:
            raise UserError(f"Expected a {role} column named {name!r}; found columns: {columns_text(table.columns)}.")


def detect_columns(
    table: Table,
    name: str,
    roles: tuple[str, ...] = ("text", "label", "language", "split"),
    required: tuple[str, ...] | None = None,
    **given: str | None,
) -> Columns:
    """The column of each of ``roles``: the one ``given`` by name, else one found by its name or cells.

    ``name`` is the file's name, for messages. The text role is always asked for and always
    required; so is the label when asked for, unless ``required`` leaves it out. A missing
    required column raises a :class:`UserError`. A required label is recognised by its cells too
    (few repeated short values), an optional one only by its name. Split and language columns
    are recognised by their cells too; a meaning-group column by its name when its ids repeat, or,
    where a language column is found, by ids that recur across languages (:func:`looks_like_group`).
    """
    if required is None:
        required = tuple(role for role in ("text", "label") if role in roles)
    unknown = (set(given) - set(roles)) | (set(roles) - set(ROLES))
    if unknown or "text" not in required or not set(required) <= set(roles):
        raise ValueError(f"roles {roles}, required {required} and given {sorted(given)} do not fit")
    check_columns(table, **given)
    found = {role: given.get(role) for role in roles}
    used = {c for c in found.values() if c}

    def named(role: str) -> str | None:
        lowered = {c.strip().lower(): c for c in table.columns if c not in used}
        return next((lowered[n] for n in ROLE_NAMES[role] if n in lowered), None)

    def take(role: str, column: str | None) -> None:
        found[role] = column
        used.update([column] if column else [])

    def open_role(role: str) -> bool:
        return role in roles and found[role] is None

    if open_role("split"):
        split = named("split")
        # a column named "split" is one if it holds any split name (its other values are then errors)
        if split is None or not {(c or "").strip().lower() for c in table.column(split)} & set(SPLIT_VALUES):
            split = next((c for c in table.columns if c not in used and looks_like_split(table.column(c))), None)
        take("split", split)
    if open_role("group"):
        group = named("group")
        take(
            "group", group if group and len({c for c in table.column(group) if c}) < len(table) else None
        )  # ids repeat
    if open_role("language"):
        take("language", named("language"))
    if found["text"] is None:
        rest = [c for c in table.columns if c not in used]
        if not rest:
            raise UserError(f"{name} has no column left for the text; found columns: {columns_text(table.columns)}.")
        take("text", named("text") or _most_text(table, rest, name))
    if open_role("label"):
        label = named("label")
        if label is None and "label" in required:
            label = _looks_like_label(table, [c for c in table.columns if c not in used])
        if label is None and "label" in required:
            raise UserError(
                "Expected a label column (for example 'label' or 'category'); "
                f"found columns: {columns_text(table.columns)}."
            )
        take("label", label)
    if found.get("label") is not None and found["label"] == found["text"]:
        raise UserError(f"The text and label columns are the same column ({found['label']!r}).")
    if open_role("language"):
        codes = (c for c in table.columns if c not in used and looks_like_language(table.column(c)))
        take("language", next(codes, None))
    if open_role("group") and found.get("language"):
        languages = table.column(found["language"])
        recurring = (c for c in table.columns if c not in used and looks_like_group(table.column(c), languages))
        take("group", next(recurring, None))
    group = found.get("group")
    other = next((role for role in ("label", "language", "split") if group and found.get(role) == group), None)
    if other:  # one group per label (or language, or split): nothing could be held out, or only by language
        raise UserError(
            f"The group column {group!r} is also the {other} column. A group column holds ids shared by the "
            "translations or copies of one text (such as pair_id); choose another column, or none."
        )
    return Columns(**found)


def _most_text(table: Table, candidates: list[str], name: str) -> str:
    scores = {c: letter_share(table.column(c)) for c in candidates}
    best = max(candidates, key=scores.__getitem__)
    if scores[best] == 0:
        raise UserError(f"{name} has no column that holds text; found columns: {columns_text(table.columns)}.")
    return best
