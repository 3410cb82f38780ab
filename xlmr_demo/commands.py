"""Running a command-line program: a user's error as one ``error:`` line and status 2, the log on stderr.

A :class:`UserError` becomes one ``error:`` line and exit status 2, and the library's log
(fine-tuning's notes and epochs) goes to standard error as plain lines.

Shared by ``python -m xlmr_demo`` and the ``finetune/`` programs, which need this and none of the CLI.
Library code only logs: in the app nothing attaches a handler, so a visitor's labels never reach the
server's output.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from .errors import UserError

EXIT_USER_ERROR = 2
LOGGERS = ("finetune", "xlmr_demo")  # what a command shows of the library's log (INFO and up)


class _Stderr(logging.Handler):
    """Each record as a line on standard error as it is when the record comes (tests capture it)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(self.format(record), file=sys.stderr, flush=True)


def run_cli(parser: argparse.ArgumentParser, argv: list[str] | None, interrupted: str = "interrupted") -> int:
    """Parse ``argv`` and call the chosen ``run``; a :class:`UserError` becomes one ``error:`` line and status 2.

    ``kill`` (SIGTERM) stops the command like Ctrl-C does, so that temporary files are removed.
    """
    args = parser.parse_args(argv)
    previous = signal.getsignal(signal.SIGTERM)
    in_main_thread = _in_main_thread()
    if in_main_thread:
        signal.signal(signal.SIGTERM, _interrupt)
    handler, loggers = _Stderr(), [logging.getLogger(name) for name in LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        args.run(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"error: {interrupted}", file=sys.stderr)
        return 130
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
