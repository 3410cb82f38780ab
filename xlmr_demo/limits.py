"""What one request may ask of the server, and what public mode changes.

Every bound is checked before the work it guards starts (a file's rows before they are held in
memory, a Parquet file's size from its metadata, a classifier's width from its JSON before a
layer is built), and each has an environment variable to change it. :func:`current` reads them
at call time, so an operator (or a test) sets them without touching code.

**Public mode** is for a hosted Space that anonymous visitors share. It is on when
``XLMR_DEMO_PUBLIC=1``, or when Hugging Face sets ``SPACE_ID`` (``XLMR_DEMO_PUBLIC=0`` turns it
off there); a laptop runs without it. It adds:

- models only from an allow-list (``XLMR_DEMO_MODELS``, comma-separated; default
  :data:`DEFAULT_MODELS`), never a server folder; every refused name gets the same message, so a
  visitor cannot tell existing server paths from missing ones;
- a time limit per job, a fine-tuning budget of at most 5 minutes, a cap on map sizes, and a memory
  budget and idle time for sessions;
- embeddings and projections cached in memory only: nothing a visitor sends is written to disk
  beyond the upload itself, which the app deletes seconds after reading it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace

from .errors import UserError
from .models import EMBEDDED_ALIASES, EMBEDDED_NAME

PUBLIC_ENV = "XLMR_DEMO_PUBLIC"
MODELS_ENV = "XLMR_DEMO_MODELS"
#: The app's Model choices, and the allow-list of public mode unless XLMR_DEMO_MODELS says otherwise.
DEFAULT_MODELS = (EMBEDDED_NAME, "xlm-roberta-base", "sentence-transformers/LaBSE")


def _limit(default, env: str, what: str, public=None):
    """A bound: its default, its environment variable, what it limits, and its public-mode default if different."""
    return field(default=default, metadata={"env": env, "what": what, "public": public})


@dataclass(frozen=True)
class Limits:
    """The bounds of one request. ``None`` means unbounded (only where public mode sets a value)."""

    rows: int = _limit(200_000, "XLMR_DEMO_MAX_ROWS", "rows in a file")
    columns: int = _limit(1_000, "XLMR_DEMO_MAX_COLUMNS", "columns in a file")
    # rows x columns: 200,000 rows of 25 columns. Bounds the memory of one table (~60 bytes a cell).
    cells: int = _limit(5_000_000, "XLMR_DEMO_MAX_CELLS", "cells (rows x columns) in a file")
    cell_chars: int = _limit(100_000, "XLMR_DEMO_MAX_CELL_CHARS", "characters in one cell or line")
    # all cells together: Excel's shared strings and Parquet's dictionaries let a small file repeat a long value
    chars: int = _limit(200_000_000, "XLMR_DEMO_MAX_CHARS", "characters in a file, all cells together", 50_000_000)
    # a survey export's column may be a whole question; every page shows the names, so they stay short
    name_chars: int = _limit(1_000, "XLMR_DEMO_MAX_NAME_CHARS", "characters in a column name")
    file_mb: int = _limit(200, "XLMR_DEMO_MAX_FILE_MB", "MiB of a file on disk")
    unzipped_mb: int = _limit(
        500, "XLMR_DEMO_MAX_UNZIPPED_MB", "MiB an .xlsx, .zip or Parquet file unpacks to", public=200
    )
    zip_entries: int = _limit(1_000, "XLMR_DEMO_MAX_ZIP_ENTRIES", "files inside an .xlsx or .zip")
    json_depth: int = _limit(32, "XLMR_DEMO_MAX_JSON_DEPTH", "levels of nesting in a JSON value")
    classes: int = _limit(200, "XLMR_DEMO_MAX_CLASSES", "classes of a classifier")
    head_hidden: int = _limit(4096, "XLMR_DEMO_MAX_HEAD_HIDDEN", "width of an uploaded classifier's hidden layer")
    upload_mb: int = _limit(50, "XLMR_DEMO_MAX_UPLOAD_MB", "MiB of one upload to the app")
    # a job (train, map, predict a file) on a 2-core Space: the 384-row sample trains in ~30 s
    job_seconds: float | None = _limit(None, "XLMR_DEMO_MAX_JOB_SECONDS", "seconds one job may run", public=300)
    # fine-tuning's time budget (the page offers 1-30 minutes); one fine-tuning job runs at a time
    finetune_minutes: float | None = _limit(
        None, "XLMR_DEMO_MAX_FINETUNE_MINUTES", "minutes one fine-tuning job may train", public=5
    )
    # a 2D map is t-SNE on one core in public mode (seconds per point: bench/results/scale.md); one
    # projection cannot be stopped half-way, so this bounds the time of a map
    map_points: int | None = _limit(None, "XLMR_DEMO_MAX_MAP_POINTS", "points on one map (a seeded sample)", 10_000)
    session_mb: int | None = _limit(None, "XLMR_DEMO_SESSION_MB", "MiB of data all sessions hold", public=2_048)
    # a visitor's whole flow (upload, check, train, predict, map) is about 8 requests
    visitor_requests: int | None = _limit(
        None, "XLMR_DEMO_VISITOR_REQUESTS", "requests that start work, per visitor address and minute", public=30
    )
    visitor_mb: int | None = _limit(
        None, "XLMR_DEMO_VISITOR_MB", "MiB sent in them, per visitor address and minute", public=100
    )
    session_idle_minutes: float | None = _limit(
        None, "XLMR_DEMO_SESSION_IDLE_MINUTES", "minutes before an idle session and its files go", public=30
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and not value > 0:
                raise ValueError(f"{f.metadata['env']} must be a positive number, not {value!r}")

    @property
    def file_bytes(self) -> int:
        return self.file_mb * 2**20

    @property
    def unzipped_bytes(self) -> int:
        return self.unzipped_mb * 2**20


def public_mode() -> bool:
    """Whether this process serves anonymous visitors (see the module docstring)."""
    flag = os.environ.get(PUBLIC_ENV, "").strip()
    if flag:
        return flag not in ("0", "false", "no")
    return bool(os.environ.get("SPACE_ID"))


def current() -> Limits:
    """The limits in force: defaults, public-mode defaults in public mode, then environment overrides."""
    public = public_mode()
    values = {}
    for f in fields(Limits):
        raw = os.environ.get(f.metadata["env"], "").strip()
        if raw:
            try:
                values[f.name] = float(raw) if f.type.startswith("float") else int(raw)
            except ValueError:
                raise ValueError(f"{f.metadata['env']} must be a number, not {raw!r}") from None
        elif public and f.metadata["public"] is not None:
            values[f.name] = f.metadata["public"]
    return replace(Limits(), **values)


def over_limit(message: str, bound: str) -> UserError:
    """The refusal for :class:`Limits` field ``bound``: ``message`` (what was found, the limit), then what to do."""
    if public_mode():
        return UserError(f"{message} This public demo limits every request; run xlmr_demo on your computer for more.")
    env = next(f.metadata["env"] for f in fields(Limits) if f.name == bound)
    return UserError(f"{message} Set {env} to change the limit.")


def allowed_models() -> tuple[str, ...]:
    """The model names public mode accepts, in the order the app offers them."""
    raw = os.environ.get(MODELS_ENV, "")
    names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
    return names or DEFAULT_MODELS


def check_model(name: str) -> None:
    """In public mode, refuse any model not on the allow-list, with one message whatever the name.

    The check runs before the name is looked up anywhere, so the answer for ``~/.ssh`` is the same
    as for ``/nonexistent`` or an unknown hub id.
    """
    if not public_mode():
        return
    allowed = allowed_models()
    if name in allowed or (name in EMBEDDED_ALIASES and any(a in EMBEDDED_ALIASES for a in allowed)):
        return
    raise UserError(f"This server offers these models: {', '.join(allowed)}. Choose one of them.")


__all__ = [
    "DEFAULT_MODELS",
    "Limits",
    "allowed_models",
    "check_model",
    "current",
    "over_limit",
    "public_mode",
]
