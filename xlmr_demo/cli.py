"""Command line: ``python -m xlmr_demo embed INPUT --output OUT.npy [--model NAME] [--column COL]``.

User errors print one ``error: ...`` line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from .embedded import EMBEDDED_NAME
from .errors import UserError

EXIT_USER_ERROR = 2


def _summarise_rows(rows: list[int], limit: int = 8) -> str:
    shown = ", ".join(map(str, rows[:limit]))
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def _save_npy(path: Path, array) -> None:
    """Write atomically: a reader never sees a half-written file."""
    import numpy as np

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, array)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _progress_printer():
    from tqdm.auto import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="text", desc="embedding", file=sys.stderr, disable=not sys.stderr.isatty())
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


def cmd_embed(args: argparse.Namespace) -> None:
    from .data import read_texts
    from .encoders import embed

    output = Path(args.output)
    if output.suffix != ".npy":
        raise UserError(f"--output must name a .npy file, not {output.name!r}.")
    if not output.parent.is_dir():
        raise UserError(f"Cannot write {output}: folder {output.parent} does not exist.")
    data = read_texts(args.input, column=args.column)
    for note in data.notes:
        print(f"note: {note}", file=sys.stderr)
    if data.blank_rows:
        print(
            f"note: skipped {len(data.blank_rows)} blank row(s) ({_summarise_rows(data.blank_rows)}); "
            f"{output.name} holds the other {len(data.texts)} in input order.",
            file=sys.stderr,
        )
    if data.column is not None and args.column is None:
        print(f"note: embedding column {data.column!r} (choose another with --column).", file=sys.stderr)
    result = embed(data.texts, model=args.model, cache=not args.no_cache, progress=_progress_printer())
    if result.truncated_rows:
        rows = [data.rows[i] for i in result.truncated_rows]
        print(
            f"note: {len(rows)} text(s) longer than {result.encoder.max_length} tokens were truncated "
            f"(rows {_summarise_rows(rows)}).",
            file=sys.stderr,
        )
    _save_npy(output, result.embeddings)
    print(
        f"wrote {output}: {result.embeddings.shape[0]} x {result.embeddings.shape[1]} float32 "
        f"({result.n_cached} from cache) with {result.encoder.name}",
        file=sys.stderr,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m xlmr_demo", description="Multilingual embeddings and classifiers.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "embed",
        help="embed texts into a .npy file of L2-normalised float32 rows",
        description="Embed each text of INPUT (.txt: one per line; .csv/.tsv: one column). "
        "Blank texts are skipped and reported; OUT keeps input order.",
    )
    p.add_argument("input", help=".txt, .csv or .tsv file")
    p.add_argument("--output", "-o", required=True, help="the .npy file to write, shape (rows, dim)")
    p.add_argument("--model", default=EMBEDDED_NAME, help="'embedded' (default), a Hugging Face id, or a folder")
    p.add_argument("--column", help="the text column of a CSV/TSV (default: detected)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    p.set_defaults(run=cmd_embed)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return 0
