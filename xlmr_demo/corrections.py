"""Fixing suspected label errors: a person's decision per suspected row, applied to the data and the file.

The Train tab lists the rows whose given label the model doubts (:func:`xlmr_demo.training.find_label_issues`)
with a decision per row: :data:`KEEP` (the default), :data:`REMOVE`, or one of the classes (several, separated
as in the file, where rows hold several labels: the row's whole set of labels). The
decisions change the checked :class:`~xlmr_demo.dataset.Dataset` (to train again) and the source
table (to download). Rows are named by their 1-based data-row number in the source file.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from .dataset import Dataset, label_key
from .errors import UserError
from .table import Table, short

KEEP = "keep"
REMOVE = "remove"


def parse_decisions(
    rows: Iterable[tuple[object, object]], suspects: Iterable[int], classes: Sequence[str],
    separator: str | None = None,
) -> dict:  # fmt: skip
    """``{row: class or REMOVE}`` from (row, decision) pairs as typed; KEEP and empty decisions left out.

    A decision is a class (in any case, width or spacing: "Positive " is "positive"), "keep" or
    "remove"; with several labels per row (``separator``), the row's labels separated by it, as a sorted
    tuple. Only the ``suspects`` can be decided; anything else is a :class:`UserError` naming the row.
    """
    spelled = {label_key(c): c for c in classes}
    allowed = set(suspects)
    decisions: dict[int, str] = {}
    for row, typed in rows:
        try:
            number = int(str(row).strip())
        except ValueError:
            raise UserError(f"{short(str(row), 20)!r} is not a row number of the suspected rows.") from None
        if number not in allowed:
            raise UserError(f"Row {number} is not one of the suspected label errors listed.")
        text = str(typed or "").strip()
        key = label_key(text)
        parts = [label_key(p) for p in text.split(separator) if p.strip()] if separator else []
        if separator and key not in (KEEP, REMOVE) and parts and all(p in spelled for p in parts):
            decisions[number] = tuple(sorted({spelled[p] for p in parts}))
        elif key in spelled and not separator:  # first: a class may be called "keep" or "remove" (an empty cell keeps)
            decisions[number] = spelled[key]
        elif not text or key == KEEP:
            continue
        elif key == REMOVE:
            decisions[number] = REMOVE
        else:
            choices = ", ".join(short(c, 40) for c in list(classes)[:20])
            if separator:
                raise UserError(
                    f"Row {number}: {short(text, 40)!r} holds something that is not a label. Type the row's labels "
                    f"separated by {separator!r} (of {choices}); or keep, or remove."
                )
            raise UserError(
                f"Row {number}: {short(text, 40)!r} is not a label. Type one of {choices}; or keep, or remove."
            )
    return decisions


def corrected_dataset(dataset: Dataset, decisions: Mapping[int, str]) -> Dataset:
    """``dataset`` with each decided row relabelled or removed; every other row as it was, split included.

    Row numbers follow :func:`corrected_table`: a row after removed ones moves up by as many, so the
    next round of decisions names the rows of the corrected file.
    """
    keep = [i for i, row in enumerate(dataset.rows) if decisions.get(row) != REMOVE]
    removed = sorted(row for row, decision in decisions.items() if decision == REMOVE)

    def pick(values: list) -> list:
        return [values[i] for i in keep]

    labels = [decisions.get(dataset.rows[i], dataset.labels[i]) for i in keep]
    label_sets = None
    if dataset.label_sets is not None:
        label_sets = [decisions.get(dataset.rows[i], dataset.label_sets[i]) for i in keep]
        labels = [", ".join(s) for s in label_sets]
    return replace(
        dataset,
        texts=pick(dataset.texts),
        labels=labels,
        label_sets=label_sets,
        languages=pick(dataset.languages),
        splits=pick(dataset.splits),
        rows=[row - bisect_left(removed, row) for row in pick(dataset.rows)],
        grouping=None if dataset.grouping is None else _picked_grouping(dataset.grouping, pick),
        notes=[*dataset.notes, f"Your corrections: {describe(decisions)}."],
    )


def _picked_grouping(grouping, pick):
    """``grouping`` of the rows ``pick`` keeps (the found pairs, which index rows, are dropped)."""
    return replace(grouping, groups=pick(grouping.groups), pairs=[])


def corrected_table(
    table: Table, label_column: str, decisions: Mapping[int, str | tuple], separator: str | None = None
) -> Table:  # fmt: skip
    """The source ``table`` with the decisions made: labels rewritten (several joined by ``separator``), removed
    rows left out."""
    column = table.columns.index(label_column)
    rows = []
    for number, row in enumerate(table.rows, start=1):
        decision = decisions.get(number)
        if decision == REMOVE:
            continue
        if isinstance(decision, tuple):
            decision = f"{separator} ".join(decision)
        if decision is not None:
            row = [*row[:column], decision, *row[column + 1 :]]
        rows.append(row)
    return Table(table.columns, rows)


def describe(decisions: Mapping[int, str]) -> str:
    """What the decisions change, in words: "3 labels corrected and 1 row removed"."""
    removed = sum(d == REMOVE for d in decisions.values())
    relabelled = len(decisions) - removed
    parts = [f"{relabelled} label{'s' * (relabelled != 1)} corrected"] if relabelled else []
    parts += [f"{removed} row{'s' * (removed != 1)} removed"] if removed else []
    return " and ".join(parts) or "no change"
