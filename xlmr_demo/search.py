"""Questioning a map: its rows found by a query (by meaning and by words) or picked out by a selection, as a
table with counts, a file, and a relabelling.

Everything here takes a :class:`~xlmr_demo.maps.MapResult` and row positions on it, and returns plain data;
the Explore tab, the ``map --search`` command and the map's offline page use it.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .corrections import KEEP, REMOVE
from .dataset import label_key
from .errors import UserError
from .maps import MapResult, similarity_to
from .table import Table, short

MEANING_TOP = 25  # rows closest in meaning that a search finds (beside every row holding its words)
SHOWN_ROWS = 500  # rows a table on the page shows; files hold all
NOTHING_SELECTED = "No point selected: drag a box or a lasso (the tools at the top right of the map) around some."


def fold(text: str) -> str:
    """``text`` for matching words: accents and case removed ("Éte" and "ete" match), widths unified."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True)
class Found:
    """The rows a search found, most similar first: ``rows`` index the map's rows."""

    query: str
    rows: np.ndarray
    by_words: np.ndarray  # (len(rows),) bool: the row holds the query's words
    by_meaning: np.ndarray  # (len(rows),) bool: among the :data:`MEANING_TOP` closest in meaning
    similarity: np.ndarray  # (len(rows),) cosine similarity to the query

    def lit(self, n: int) -> np.ndarray:
        """(n,) bool: which of the map's ``n`` rows were found (what :func:`~xlmr_demo.views.map_figure` lights)."""
        found = np.zeros(n, bool)
        found[self.rows] = True
        return found

    def words(self, markup: bool = True) -> str:
        """What was found, in a sentence: Markdown with the query escaped (it may hold HTML), or plain text."""
        words, meaning = int(self.by_words.sum()), int(self.by_meaning.sum())
        both = int((self.by_words & self.by_meaning).sum())
        query = html.escape(repr(short(self.query, 60)), quote=False) if markup else repr(short(self.query, 60))
        held = f"{words:,} row{'s' * (words != 1)} hold{'s' * (words == 1)} the words {query}"
        return (
            f"**{len(self.rows):,} rows found.** {held} (accents and case ignored); the {meaning} closest in "
            f"meaning are added ({both} of them hold the words too). Found rows are in colour on the map, the "
            "rest grey."
        )


def check_query(query: str | None) -> None:
    """A :class:`UserError` for a query with nothing to mean or match: empty, spaces, punctuation, invisible marks."""
    if not query or not any(c.isalnum() for c in query):
        raise UserError("Type words to look for on the map (in any language).")


def find_on_map(result: MapResult, query: str, top: int = MEANING_TOP) -> Found:
    """Rows of the map holding ``query``'s words (accent- and case-insensitive), and the ``top`` closest to it
    in meaning (the model's own dimensions, in any language: :func:`~xlmr_demo.maps.similarity_to`)."""
    check_query(query)
    similarity, _ = similarity_to(result, query)
    folded = re.sub(r"\s+", " ", fold(query).strip())
    by_words = np.fromiter((folded in re.sub(r"\s+", " ", fold(t)) for t in result.data.texts), bool, len(similarity))
    by_meaning = np.zeros(len(similarity), bool)
    by_meaning[np.argsort(-similarity, kind="stable")[: min(top, len(similarity))]] = True
    rows = np.flatnonzero(by_words | by_meaning)
    rows = rows[np.argsort(-similarity[rows], kind="stable")]
    return Found(query, rows, by_words[rows], by_meaning[rows], similarity[rows])


def selected_rows(result: MapResult, typed: str | Sequence) -> np.ndarray:
    """The map rows named by a selection (its points' row positions, as numbers or as text separated by spaces
    or commas), in map order, each once; numbers that are not rows of this map are a :class:`UserError`."""
    n = len(result.data.texts)
    if isinstance(typed, str) and len(typed) > 8 * n + 100:  # a row number and a space each, with room to spare
        raise UserError("The selection is longer than this map's points could make. Select again on the map.")
    parts = {str(p).strip() for p in (re.split(r"[\s,]+", typed) if isinstance(typed, str) else typed)} - {""}
    if len(parts) > n:
        raise UserError(f"The selection names {len(parts):,} points; this map has {n:,}. Draw the map again.")
    if not all(re.fullmatch(r"[0-9]{1,12}", p) for p in parts):  # plain digits: no "+3", "1_0", "٣" or 10**30
        raise UserError("The selection is not a list of points of this map. Select again on the map.")
    rows = np.unique(np.asarray(sorted(int(p) for p in parts), dtype=np.int64))
    if len(rows) and rows[-1] >= n:
        raise UserError("The selection holds points of another map. Draw the map again, then select.")
    return rows


def rows_table(result: MapResult, rows: Sequence[int], found: Found | None = None, limit: int | None = None) -> Table:
    """The given map rows (the first ``limit``) as a table: the file's row number, language, the map's columns
    (label first), each row's cluster, its similarity and how it was found where ``found`` (of these rows)
    says, and the text."""
    data = result.data
    rows = list(rows)[:limit]
    columns = ["row", "language"]
    cells = [[str(data.rows[i]) if data.rows else str(i + 1) for i in rows], [data.languages[i] for i in rows]]
    for name in sorted(data.columns, key=lambda c: c != data.label):
        columns.append(name)
        cells.append([data.columns[name][i] for i in rows])
    if result.clusters is not None:
        names = result.clusters.row_names()
        columns.append("found cluster")
        cells.append([names[i] for i in rows])
    if found is not None:
        pairs = zip(found.by_words[: len(rows)], found.by_meaning[: len(rows)], strict=True)
        how = ["words and meaning" if w and m else "words" if w else "meaning" for w, m in pairs]
        columns += ["similarity", "found by"]
        cells += [[f"{s:.3f}" for s in found.similarity[: len(rows)]], how]
    columns.append("text")
    cells.append([data.texts[i] for i in rows])
    return Table(columns, [list(r) for r in zip(*cells, strict=True)] if rows else [])


def counts_words(result: MapResult, rows: Sequence[int]) -> str:
    """How many rows, and how many of them by label and by language, in one Markdown paragraph."""
    data = result.data
    rows = list(rows)
    if not rows:
        return NOTHING_SELECTED

    def counted(values: Sequence[str]) -> str:
        common = Counter(values).most_common()
        shown = ", ".join(f"{short(str(v), 30)} {n}" for v, n in common[:12])
        return shown + (f" and {len(common) - 12} more" if len(common) > 12 else "")

    parts = [f"**{len(rows):,} row{'s' * (len(rows) != 1)} selected.**"]
    if data.label:
        parts.append(f"By {short(data.label, 30)}: {counted([data.columns[data.label][i] for i in rows])}.")
    parts.append(f"By language: {counted([data.languages[i] for i in rows])}.")
    if result.clusters is not None:
        names = result.clusters.row_names()
        parts.append(f"By cluster: {counted([names[i] for i in rows])}.")
    return " ".join(parts)


def relabel_decisions(result: MapResult, rows: Sequence[int], label: str) -> dict[int, str]:
    """``{file row number: label}`` for the selected ``rows``: what :mod:`xlmr_demo.corrections` applies."""
    if result.data.rows is None:
        raise UserError("This map's rows are not a file's: load the file in the Data tab and draw the map again.")
    label = " ".join(str(label or "").split())
    if not label:
        raise UserError("Type the label to give the selected rows.")
    if label_key(label) in (KEEP, REMOVE):  # the corrections' own words: "remove" would delete the rows
        raise UserError(
            f"{label!r} is a word the corrections use ('keep' a row, 'remove' it), so it cannot be a label here. "
            "Choose another label; to leave rows out, remove them from your file."
        )
    if not len(rows):
        raise UserError("Select rows on the map first (a box or a lasso around them).")
    return {result.data.rows[i]: label for i in rows}
