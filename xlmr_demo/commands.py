"""Running a command-line program: a :class:`UserError` becomes one ``error:`` line and exit status 2.

Shared by ``python -m xlmr_demo`` and the ``finetune/`` programs, which need this and none of the CLI.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .errors import UserError

EXIT_USER_ERROR = 2


def run_cli(parser: argparse.ArgumentParser, argv: list[str] | None, interrupted: str = "interrupted") -> int:
    """Parse ``argv`` and call the chosen ``run``; a :class:`UserError` becomes one ``error:`` line and status 2.

    ``kill`` (SIGTERM) stops the command like Ctrl-C does, so that temporary files are removed.
    """
    args = parser.parse_args(argv)
    previous = signal.getsignal(signal.SIGTERM)
    in_main_thread = _in_main_thread()
    if in_main_thread:
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        args.run(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"error: {interrupted}", file=sys.stderr)
        return 130
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
