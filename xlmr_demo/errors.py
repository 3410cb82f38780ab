"""The one exception type for problems a user can cause (files, columns, sizes, model names), and how a
public server logs the others."""

from __future__ import annotations


class UserError(Exception):
    """A problem with what the user gave us, explained in plain words.

    The CLI prints it as ``error: <message>`` and exits 2; the app shows it in the page.
    Anything else that escapes is a bug in xlmr_demo, not in the user's input.
    """


def failure_site(exc: BaseException) -> str:
    """Where ``exc`` happened, for a public server's log: its type and the frames it passed, not its
    message (a message may quote what a visitor sent)."""
    import traceback

    return f"{type(exc).__name__} in\n" + "".join(traceback.format_tb(exc.__traceback__))
