"""The table every reader returns and every writer takes, and the short forms messages use for its parts.

Pure Python: importing it loads nothing else of the package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property


@dataclass
class Table:
    """A rectangular table of optional strings with its column names, as read from a file."""

    columns: list[str]
    rows: list[list[str | None]]
    notes: list[str] = field(default_factory=list)  # what the reader decided on the user's behalf

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {c: j for j, c in enumerate(self.columns)}

    @cached_property
    def _by_column(self) -> list[tuple[str | None, ...]]:
        # one transpose in C, then every column() is a copy: column detection reads each column several times
        return list(zip(*self.rows, strict=True)) if self.rows else [() for _ in self.columns]

    def column(self, name: str) -> list[str | None]:
        """The cells of column ``name``, top to bottom. Tables are not changed after reading."""
        return list(self._by_column[self._positions[name]])

    def __len__(self) -> int:
        return len(self.rows)


def short(text: str, limit: int = 60) -> str:
    """``text`` for a message: at most ``limit`` characters, cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def columns_text(columns: list[str], limit: int = 30) -> str:
    """Column names for a message: "id, text, label" (the first ``limit``, long names cut, then how many more)."""
    shown = ", ".join(map(short, columns[:limit]))
    return shown + (f" and {len(columns) - limit:,} more" if len(columns) > limit else "")


def rows_text(rows: list[int], limit: int = 8) -> str:
    """Row numbers for a message: "3, 7, 9 and 12 more"."""
    shown = ", ".join(map(str, rows[:limit]))
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")
