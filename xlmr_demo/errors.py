"""The one exception type for problems a user can cause (files, columns, sizes, model names)."""

from __future__ import annotations


class UserError(Exception):
    """A problem with what the user gave us, explained in plain words.

    The CLI prints it as ``error: <message>`` and exits 2; the app shows it in the page.
    Anything else that escapes is a bug in xlmr_demo, not in the user's input.
    """
