"""What the app keeps for each visitor: their data, results and files, one job at a time, within a budget.

A :class:`Session` holds one visitor's table, checked dataset, training result, classifier, map
and embedding cache, in memory only; the files handed to them (a classifier .zip, predictions)
live in a folder of their own that goes when the session does. The :class:`SessionStore` runs
at most one job per session (a second is refused with a message, so one visitor never holds two
workers), ends sessions that stay idle too long, and when the sessions together hold more memory
than the budget, ends the least recently used ones first. Limits come from :mod:`xlmr_demo.limits`.

Plain Python: the app maps each browser or API session to a session id; tests use any string.
"""

from __future__ import annotations

import atexit
import glob
import hashlib
import logging
import shutil
import sys
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .cache import MemoryCache
from .errors import UserError
from .jobs import Job
from .limits import Limits
from .limits import current as current_limits
from .progress import Progress

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, so leftover folders are not cleaned up at start
    fcntl = None

_log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from .classifier import BaseClassifier
    from .dataset import Dataset
    from .maps import MapResult
    from .table import Table
    from .training import TrainResult

OWNER_FILE = ".owner"
POINTER = 8
# one visitor (address) may hold at most this share of the memory budget across their sessions, so that
# a visitor opening many sessions ends their own oldest ones, not other visitors'
CLIENT_SHARE = 0.5


def table_bytes(table: Table) -> int:
    """How much memory ``table`` holds: a pointer per cell plus each string's own size (4 bytes a character
    for emoji and other characters beyond U+FFFF). Strings shared by many cells count each time."""
    total = POINTER * len(table.columns) * (len(table) + 1)
    for row in table.rows:
        total += sum(map(sys.getsizeof, filter(None, row)))
    return total


@dataclass
class Session:
    """One visitor's state: what they loaded and made, and the job they are running."""

    id: str
    folder: Path  # this session's files; removed when the session ends
    client: str = ""  # the visitor's address (sessions of one address share a part of the memory budget)
    # why an earlier session of this id was ended (idle, memory), said when its data is asked for
    ended_because: str | None = None
    table: Table | None = None
    table_name: str | None = None
    dataset: Dataset | None = None
    result: TrainResult | None = None
    classifier: BaseClassifier | None = None
    map: MapResult | None = None
    map_table: Table | None = None  # the table the map was drawn from (None: the sample)
    entities: object | None = None  # the Entities tab's tagger and its measurements (finetune's EntityResult)
    entity_files: dict = field(default_factory=dict)  # upload path -> its corpus, read once (the upload then goes)
    cache: MemoryCache = field(default_factory=MemoryCache)
    last_used: float = field(default_factory=time.monotonic)
    job: Job | None = None
    _table_bytes: int = 0

    def set_table(self, table: Table, name: str) -> None:
        """A newly loaded table replaces everything derived from the previous one."""
        self.table, self.table_name, self._table_bytes = table, name, table_bytes(table)
        self.dataset = self.result = self.map = self.map_table = None

    def correct_table(self, table: Table) -> None:
        """A corrected version of the loaded table (label fixes): what was trained on it stays."""
        self.table, self._table_bytes = table, table_bytes(table)

    def nbytes(self) -> int:
        """About how much memory this session holds (tables, embeddings, maps); counted against the budget."""
        total = self._table_bytes + self.cache.nbytes
        if self.dataset is not None:
            total += 6 * POINTER * len(self.dataset.texts)
        if self.map is not None:
            points = len(self.map.embeddings)
            total += 2 * self.map.embeddings.nbytes + 600 * points  # vectors, centred copy, the rows it maps
        total += sum(60 * sum(map(len, c.words)) for c in self.entity_files.values())  # ~60 bytes a word and tag
        # fine-tuned models: the weights each holds of its own (the rest is shared with the server's model)
        models = {id(m): m for m in (self.classifier, self.result and self.result.classifier, self.entities) if m}
        return total + sum(getattr(m, "nbytes", 0) for m in models.values())

    def new_file(self, name: str) -> Path:
        """A path for a file to hand to the visitor, in a fresh folder of its own (unguessable URL).

        The session's earlier file of the same name goes: a visitor who trains ten times holds one
        classifier .zip, not ten.
        """
        if self.folder.is_dir():
            for old in self.folder.glob(f"*/{glob.escape(name)}"):
                shutil.rmtree(old.parent, ignore_errors=True)
        folder = self.folder / uuid.uuid4().hex
        folder.mkdir(parents=True)
        return folder / name


class SessionStore:
    """Sessions by id, with the limits of :func:`xlmr_demo.limits.current` (read at each call)."""

    def __init__(
        self, parent: Path | Callable[[], Path], limits: Callable[[], Limits] = current_limits,
        waiting: Callable[[str], int] = lambda session_id: 0, clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        """``waiting(session_id)``: how many of the session's requests wait in the web server's queue
        (a session waiting for a worker is not idle, however long the wait). ``clock``: seconds, for idleness."""
        self.waiting = waiting
        self.clock = clock
        self._parent = parent
        self._root: Path | None = None
        self._owner = None  # the open, locked file that marks root as this process's
        self._limits = limits
        self._sessions: dict[str, Session] = {}
        self._ended: OrderedDict[str, str] = OrderedDict()  # recently ended ids and why (the newest 10,000)
        self._lock = threading.RLock()

    @property
    def parent(self) -> Path:
        """The folder that holds each server process's session folders."""
        return self._parent() if callable(self._parent) else self._parent

    @property
    def root(self) -> Path:
        """This process's folder of session folders (see :meth:`claim`)."""
        return self._root if self._root is not None else self.parent / "unclaimed"

    def claim(self) -> Path:
        """Make a fresh folder of this process's own the root, after removing those no live process owns.

        Sessions live in memory, so the files of a server that crashed or restarted belong to nobody:
        each server holds a lock on a file in its root for as long as it runs, and a root whose lock
        can be taken is left over.
        """
        parent = self.parent
        parent.mkdir(parents=True, exist_ok=True)
        for folder in parent.iterdir():
            if folder.is_dir() and not _owned(folder):
                shutil.rmtree(folder, ignore_errors=True)
        root = parent / uuid.uuid4().hex
        root.mkdir()
        self._owner = _lock(root / OWNER_FILE)
        self._root = root
        atexit.register(shutil.rmtree, root, ignore_errors=True)  # a server that stops cleanly leaves nothing
        return root

    def get(self, session_id: str, client: str = "") -> Session:
        """The session ``session_id`` of the visitor at address ``client``, created on first use; marks it used."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                digest = hashlib.sha256(session_id.encode()).hexdigest()[:24]
                because = self._ended.pop(session_id, None)
                session = Session(id=session_id, folder=self.root / digest, client=client, ended_because=because)
                self._sessions[session_id] = session
            session.last_used = self.clock()
        self.sweep(keep=session_id)
        return session

    def start(
        self, session_id: str, what: str, report: Progress | None = None, client: str = "", stoppable: bool = True,
        extra_seconds: float = 0.0,
    ) -> tuple[Session, Job]:  # fmt: skip
        """Begin job ``what`` in the session, or refuse if it already runs one.

        ``stoppable=False`` marks short work that reports no progress (reading a file: seconds at most).
        ``extra_seconds``: added to the job time limit, for work with a time budget of its own (fine-tuning).
        """
        session = self.get(session_id, client)
        with self._lock:
            if session.job is not None:
                raise UserError(
                    f"{session.job.what} is still running. Wait for it to finish, or press Stop, then try again."
                )
            seconds = self._limits().job_seconds
            session.job = Job(what, None if seconds is None else seconds + extra_seconds, report, stoppable)
            return session, session.job

    def finish(self, session: Session, job: Job) -> None:
        """The job ended (finished, failed or stopped): the session may start another."""
        with self._lock:
            if session.job is job:
                session.job = None
            session.last_used = self.clock()
        self.sweep(keep=session.id)

    @contextmanager
    def task(
        self, session_id: str, what: str, report: Progress | None = None, client: str = ""
    ) -> Iterator[tuple[Session, Job]]:
        """``with store.task(id, "Check data") as (session, job):`` short work (not stoppable) around a block."""
        session, job = self.start(session_id, what, report, client, stoppable=False)
        try:
            yield session, job
        finally:
            self.finish(session, job)

    def stop(self, session_id: str) -> Job | None:
        """Stop the session's running job, if any, and return it."""
        with self._lock:
            session = self._sessions.get(session_id)
            job = session.job if session else None
        if job is not None:
            job.stop()
        return job

    def end(self, session_id: str, because: str | None = None) -> None:
        """Forget the session and remove its files (its running job, if any, is stopped).

        ``because`` is said to the visitor if the same session comes back (the page was left open).
        """
        with self._lock:
            session = self._sessions.pop(session_id, None)
            if because is not None:
                self._ended[session_id] = because
                while len(self._ended) > 10_000:
                    self._ended.popitem(last=False)
        if session is not None:
            if session.job is not None:
                session.job.stop()
            shutil.rmtree(session.folder, ignore_errors=True)

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._sessions

    def nbytes(self) -> int:
        with self._lock:
            return sum(s.nbytes() for s in self._sessions.values())

    def sweep(self, keep: str | None = None) -> list[str]:
        """End idle sessions, then over the memory budget the least recently used; their ids.

        First a visitor whose sessions together hold more than :data:`CLIENT_SHARE` of the budget
        loses their own oldest ones; then, while all sessions hold more than the budget, anyone's
        oldest go. Sessions running a job or waiting for one, and ``keep`` (the one asking), are never
        ended here.
        """
        bound = self._limits()
        now = self.clock()
        with self._lock:
            idle = sorted((s for s in self._sessions.values()
                           if s.job is None and s.id != keep and not self.waiting(s.id)),
                          key=lambda s: s.last_used)  # fmt: skip
            ended: dict[str, str] = {}
            if bound.session_idle_minutes is not None:
                for s in idle:
                    if now - s.last_used > 60 * bound.session_idle_minutes:
                        ended[s.id] = f"it was idle for more than {bound.session_idle_minutes:g} minutes"
            if bound.session_mb is not None:
                budget = bound.session_mb * 2**20
                sizes = {s.id: s.nbytes() for s in self._sessions.values() if s.id not in ended}
                held: dict[str, int] = {}
                for s in self._sessions.values():
                    held[s.client] = held.get(s.client, 0) + sizes.get(s.id, 0)
                for s in idle:
                    if s.id not in ended and held[s.client] > CLIENT_SHARE * budget:
                        ended[s.id] = "your other sessions held more memory than this server keeps for one visitor"
                        held[s.client] -= sizes[s.id]
                total = sum(sizes[i] for i in sizes if i not in ended)
                for s in idle:
                    if total <= budget:
                        break
                    if s.id not in ended:
                        ended[s.id] = "the server needed its memory for other visitors"
                        total -= sizes[s.id]
        for session_id, because in ended.items():
            self.end(session_id, because)
        return list(ended)

    def sweep_every(self, seconds: float, *also: Callable[[], object]) -> threading.Thread:
        """Sweep in a daemon thread every ``seconds`` (so idle sessions go even when nobody asks anything),
        then call each of ``also``."""

        def loop() -> None:
            while True:
                time.sleep(seconds)
                for task in (self.sweep, *also):
                    try:
                        task()
                    except Exception:  # a failed sweep must not end the sweeping
                        _log.exception("sweep failed")

        thread = threading.Thread(target=loop, name="xlmr-session-sweeper", daemon=True)
        thread.start()
        return thread


def _lock(path: Path):
    """Open ``path`` and hold an exclusive lock on it until the file is closed (or the process ends)."""
    handle = path.open("a")
    if fcntl is not None:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return handle


def _owned(folder: Path) -> bool:
    """Whether a live process holds the lock on ``folder``'s owner file."""
    if fcntl is None:
        return True  # no locks on this system: never remove another server's files
    try:
        with (folder / OWNER_FILE).open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return False
