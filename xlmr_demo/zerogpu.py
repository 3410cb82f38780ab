"""ZeroGPU Spaces: the heavy work borrows a GPU for the length of one call; everything else stays on the CPU.

On a Hugging Face Space with ZeroGPU hardware (``SPACES_ZERO_GPU=true``) a GPU exists only inside a call
made through the ``spaces`` package's ``@spaces.GPU``. That call runs in a process forked for it, gets its
arguments pickled and hands back only what it yields, pickled. In the server's own process torch is
patched to look as if CUDA were there, and real CUDA work fails. So:

- :func:`gpu_here` says whether this process may use a GPU: the encoders' default device is the CPU in the
  server's process and CUDA inside a borrowed call;
- :func:`stages` and :func:`call` run fine-tuning, entity training and large embedding jobs in a borrowed
  call whose duration is fitted to the job. Their progress reaches the caller as it happens. A
  :class:`~xlmr_demo.jobs.Stopped` raised by the caller's progress (Stop, the time limit) is passed on,
  so the work keeps what it keeps on a stop anywhere else (fine-tuning: the best weights so far). Their
  results come back as plain data: encoders and taggers pickle as how to build them again, so they arrive
  on the server's CPU;
- anywhere else (a laptop, a CPU Space, a Space with a GPU of its own) both run the work right here, and
  the ``spaces`` package is never imported.
"""

from __future__ import annotations

import functools
import itertools
import os
import pickle
import queue
import threading
import time
from collections.abc import Callable, Iterator

from .errors import UserError
from .jobs import Stopped
from .progress import Progress

#: texts to embed at once from which an embedding job borrows a GPU: fewer take seconds on a Space's CPU,
#: less than the borrowed call's own start (a process forked, the weights moved to the GPU)
BORROW_TEXTS = 2_000
#: the longest call ZeroGPU grants a signed-in visitor (not documented: its refusals name 300 s); on slower GPUs
#: ``spaces`` asks for more than the duration it is given (its ``duration_factor``), so less may be asked there
MAX_SECONDS = 300
#: a borrowed call stops its work this long before its duration ends, so that what is done still comes back
GRACE_SECONDS = 15.0
#: the borrowed call's duration for embedding: its start, and texts a second at the least on a ZeroGPU slice
START_SECONDS, GPU_TEXTS_PER_SECOND = 30.0, 1_000.0
#: texts embedded in one borrowed call: more take several calls, each within MAX_SECONDS on the slower GPUs
BORROW_CHUNK = int((MAX_SECONDS / 1.5 - START_SECONDS) * GPU_TEXTS_PER_SECOND)
#: stop flags shared with the forked calls: one slot per call, reused after this many; a stop's message
_SLOTS, _MESSAGE_BYTES = 64, 512

_inside = False  # set in a borrowed call's process
_calls = itertools.count(1)


def on_zero_gpu() -> bool:
    """Whether this server runs on a ZeroGPU Space."""
    return os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")


def gpu_here() -> bool:
    """Whether this process may use a GPU: anywhere but a ZeroGPU Space's server process (it may inside a
    borrowed call)."""
    return _inside or not on_zero_gpu()


def borrowing() -> bool:
    """Whether heavy work here should borrow a GPU: in a ZeroGPU Space's server process."""
    return not _inside and on_zero_gpu()


def embedding_seconds(texts: int) -> float:
    """The duration to ask for when embedding ``texts`` texts on a borrowed GPU."""
    return START_SECONDS + texts / GPU_TEXTS_PER_SECOND


def call(fn: Callable, *args, seconds: float, progress: Progress | None = None, **kwargs):
    """``fn(*args, progress=progress, **kwargs)``, on a borrowed GPU for at most ``seconds`` where
    :func:`borrowing`, else right here."""
    if not borrowing():
        return fn(*args, progress=progress, **kwargs)
    [result] = stages(_once, fn, *args, seconds=seconds, progress=progress, **kwargs)
    return result


def stages(fn: Callable[..., Iterator], *args, seconds: float, progress: Progress | None = None, **kwargs) -> Iterator:
    """What the generator ``fn(*args, progress=progress, **kwargs)`` yields, computed on a borrowed GPU for
    at most ``seconds`` where :func:`borrowing`, else right here.

    Borrowed: each item arrives as soon as it exists. ``progress`` gets each step in this process; when it
    raises :class:`Stopped`, the work sees a stop at its next step and goes on as a stop makes it go on
    (its further items still arrive); the caller then gets that same exception, with its own message,
    wherever the work would have raised its own.
    """
    if not borrowing():
        yield from fn(*args, progress=progress, **kwargs)
        return
    number = next(_calls)
    _stops()  # the flags exist before the call's process is forked
    stopped: Stopped | None = None
    ended = False
    # pickled here and unpickled there once it knows it has the GPU (encoders among them then load on it).
    # Pickle only between this server process and the call's process forked from it: never bytes from a visitor
    # or from disk (saved artifacts stay safetensors + JSON); spaces itself pickles whatever crosses the same way
    replies = _borrowed()(pickle.dumps((fn, args, kwargs)), number, seconds)
    try:
        for data in replies:
            kind, value = pickle.loads(data)  # our own forked call's bytes; rebuilt in this thread: failures raise here
            if kind == "item":
                yield value
            elif kind == "step":
                if progress is not None and stopped is None:
                    try:
                        progress(value)
                    except Stopped as exc:
                        stopped = exc
                        _flag(number, str(exc))
            elif kind == "end":
                ended = True
            else:
                raise _raised(value, stopped)
    finally:
        replies.close()  # also when this caller stops listening: the borrowed call ends at its next step
    if not ended:
        raise RuntimeError("The borrowed GPU call ended before its work did, and handed back no reason.")


def longest_call() -> float:
    """The longest duration a borrowed call may ask for here, in seconds (less where ``spaces`` counts the GPU
    slower)."""
    return MAX_SECONDS / _duration_factor()


def prepare() -> None:
    """Declare the borrowed call to ``spaces`` on a ZeroGPU Space: it must be known before the server starts."""
    if on_zero_gpu():
        _borrowed()
        _stops()


@functools.cache
def _stops():
    """The stop flags, in memory the forked calls share (made before any call is forked): each slot's call
    number and the stop's message."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    return context.RawArray("q", _SLOTS), context.RawArray("c", _SLOTS * _MESSAGE_BYTES)


def _flag(number: int, message: str) -> None:
    """Stop call ``number`` at its next step, with ``message``."""
    numbers, messages = _stops()
    start = number % _SLOTS * _MESSAGE_BYTES
    messages[start : start + _MESSAGE_BYTES] = message.encode()[: _MESSAGE_BYTES - 1].ljust(_MESSAGE_BYTES, b"\0")
    numbers[number % _SLOTS] = number


def _flagged(number: int) -> str | None:
    """The message call ``number`` was stopped with, or None."""
    numbers, messages = _stops()
    if numbers[number % _SLOTS] != number:
        return None
    start = number % _SLOTS * _MESSAGE_BYTES
    return messages[start : start + _MESSAGE_BYTES].rstrip(b"\0").decode(errors="ignore")


@functools.cache
def _borrowed():
    """:func:`_borrowed_call` under ``@spaces.GPU``, its duration the ``seconds`` it is given."""
    import spaces  # on a ZeroGPU Space only: the package patches torch when imported there

    return spaces.GPU(_borrowed_call, duration=_duration)


def _duration(payload: bytes, number: int, seconds: float) -> int:
    """The borrowed call's duration in whole seconds: ``seconds``, within :func:`longest_call`."""
    return int(min(longest_call(), seconds + 1))


@functools.cache
def _duration_factor() -> float:
    """How much more than a call's duration ``spaces`` asks ZeroGPU for on this Space's GPUs (1.5 on the slower)."""
    try:
        from spaces.zero import config

        return max(1.0, float(config.get_config()["duration_factor"]))
    except Exception:  # another version of the package, or none: count as it did when this was written
        return 1.0


def _borrowed_call(payload: bytes, number: int, seconds: float) -> Iterator[bytes]:
    """In the borrowed process: the work's progress steps and items, then its end or its error, each pickled
    here as ``("step" | "item" | "end" | "error", value)``. The work runs in a thread so that its steps arrive
    while it works; it pickles each item itself, so nothing changes an item while it is pickled. It sees a
    stop at its next step when the server says so, or :data:`GRACE_SECONDS` before the call's duration ends."""
    global _inside
    _inside = True
    import torch

    torch.set_num_threads(1)  # the server's OpenMP threads do not survive the fork (a CPU op would hang)
    deadline = time.monotonic() + _duration(payload, number, seconds) - GRACE_SECONDS
    out: queue.Queue = queue.Queue()

    def report(step) -> None:
        message = _flagged(number)
        if message is None and time.monotonic() > deadline:
            message = "Stopped: the time this Space lends its GPU for was nearly up."
            _flag(number, message)
        if message is not None:
            raise Stopped(message)
        out.put(pickle.dumps(("step", step)))

    def work() -> None:
        try:
            fn, args, kwargs = pickle.loads(payload)  # the server's own bytes, from the process this one forked from
            for item in fn(*args, progress=report, **kwargs):
                out.put(pickle.dumps(("item", item)))
            out.put(pickle.dumps(("end", None)))
        except Exception as exc:  # handed over as plain words: the server raises its own exception
            kind = "stopped" if isinstance(exc, Stopped) else "user" if isinstance(exc, UserError) else "other"
            out.put(pickle.dumps(("error", (kind, str(exc) if kind != "other" else f"{type(exc).__name__}: {exc}"))))
        finally:
            out.put(None)

    thread = threading.Thread(target=work, name="borrowed GPU call", daemon=True)
    thread.start()
    try:
        while (reply := out.get()) is not None:
            yield reply
    finally:
        if _flagged(number) is None:  # closed early: the work stops at its next step
            _flag(number, "Stopped: nobody was waiting for the result.")
        thread.join()


def _once(fn, *args, progress=None, **kwargs) -> Iterator:
    yield fn(*args, progress=progress, **kwargs)


def _raised(error: tuple[str, str], stopped: Stopped | None) -> Exception:
    kind, message = error
    if kind == "stopped":
        return stopped or Stopped(message)
    if kind == "user":
        return UserError(message)
    return RuntimeError(f"The work on the borrowed GPU failed: {message}")


__all__ = [
    "BORROW_CHUNK",
    "BORROW_TEXTS",
    "MAX_SECONDS",
    "borrowing",
    "call",
    "embedding_seconds",
    "gpu_here",
    "longest_call",
    "on_zero_gpu",
    "prepare",
    "stages",
]
