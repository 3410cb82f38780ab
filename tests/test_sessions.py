"""Sessions: one job per visitor, Stop and time limits that end the work, idle and memory bounds, nothing left."""

from __future__ import annotations

import pytest

from xlmr_demo.errors import UserError
from xlmr_demo.jobs import Job, Stopped
from xlmr_demo.limits import Limits
from xlmr_demo.progress import Step
from xlmr_demo.sessions import SessionStore, table_bytes
from xlmr_demo.table import Table


class Clock:
    """Seconds that pass only when a test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        self.now += seconds


def store(tmp_path, clock=None, **bounds) -> SessionStore:
    return SessionStore(tmp_path / "sessions", limits=lambda: Limits(**bounds), clock=clock or Clock())


def test_a_visitor_runs_one_job_at_a_time_and_others_are_not_held_up(tmp_path):
    sessions = store(tmp_path)
    session, job = sessions.start("alice", "Training")
    with pytest.raises(UserError, match=r"Training is still running\. Wait for it to finish, or press Stop"):
        sessions.start("alice", "Drawing the map")
    with sessions.task("bob", "Drawing the map") as (other, _):
        assert other is not session
    sessions.finish(session, job)
    with sessions.task("alice", "Drawing the map") as (again, _):
        assert again is session


def test_stop_ends_the_work_at_its_next_progress_report(tmp_path):
    sessions = store(tmp_path)
    reports = []
    _, job = sessions.start("alice", "Training", report=lambda step: reports.append(step.stage))
    job.progress(Step("embedding", 0.1))
    assert sessions.stop("alice") is job and sessions.stop("bob") is None
    with pytest.raises(Stopped, match="Training stopped"):
        job.progress(Step("embedding", 0.2))
    assert reports == ["embedding"]


def test_a_job_past_its_time_limit_stops_with_a_reason():
    job = Job("Drawing the map", seconds=60)
    job.check()
    job.started -= 61  # a minute and a second ago
    with pytest.raises(Stopped, match="stopped after 60 seconds, the most one job may run on this server"):
        job.progress(Step("projecting", 0.5))


def test_idle_sessions_go_with_their_files_and_say_why_when_they_come_back(tmp_path):
    clock = Clock()
    sessions = store(tmp_path, clock, session_idle_minutes=1)
    alice = sessions.get("alice")
    download = alice.new_file("classifier.zip")
    download.write_bytes(b"zip")
    busy, job = sessions.start("bob", "Training")
    clock.wait(59)
    assert sessions.sweep() == []  # idle, but not yet for longer than a minute
    clock.wait(2)
    assert sessions.sweep() == ["alice"]  # bob is running a job: never ended under him
    assert not download.exists() and not alice.folder.exists()
    assert sessions.get("alice").ended_because.startswith("it was idle for more than")
    sessions.finish(busy, job)


def test_over_the_memory_budget_the_least_recently_used_sessions_go_first(tmp_path):
    clock = Clock()
    sessions = store(tmp_path, clock, session_mb=1)
    table = Table(columns=["text"], rows=[["x" * 1000] for _ in range(400)])  # ~0.4 MiB each
    assert 400_000 < table_bytes(table) < 450_000
    for name in ("old", "middle", "new"):
        sessions.get(name, client=f"{name}'s address").set_table(table, f"{name}.csv")
        clock.wait(1)
    assert sessions.sweep() == ["old"]
    assert "old" not in sessions and sessions.nbytes() <= 2**20
    assert sessions.get("old").ended_because == "the server needed its memory for other visitors"


def test_a_visitor_with_many_sessions_ends_their_own_not_others(tmp_path):
    """One address may hold half the budget: opening more sessions costs that visitor, not the others."""
    clock = Clock()
    sessions = store(tmp_path, clock, session_mb=2)
    table = Table(columns=["text"], rows=[["x" * 1000] for _ in range(400)])  # ~0.4 MiB each
    sessions.get("bystander", client="10.0.0.1").set_table(table, "mine.csv")
    for k in range(4):
        clock.wait(1)
        sessions.get(f"attacker {k}", client="10.0.0.66").set_table(table, "big.csv")
    sessions.sweep()  # each new session already swept: the attacker's oldest went as the next one came
    assert [s for s in ("bystander", *(f"attacker {k}" for k in range(4))) if s in sessions] == [
        "bystander", "attacker 2", "attacker 3"
    ]  # fmt: skip
    assert "more memory than this server keeps for one visitor" in sessions.get("attacker 0").ended_because


def test_memory_is_counted_as_python_holds_it():
    emoji = Table(columns=["t"], rows=[["😀" * 1000]])  # 4 bytes a character beyond U+FFFF
    assert table_bytes(emoji) > 4000 > table_bytes(Table(columns=["t"], rows=[["e" * 1000]]))


def test_a_session_waiting_in_the_queue_is_not_idle(tmp_path):
    waiting, clock = {"alice": 1}, Clock()
    sessions = SessionStore(tmp_path / "s", limits=lambda: Limits(session_idle_minutes=1), clock=clock,
                            waiting=lambda session_id: waiting.get(session_id, 0))  # fmt: skip
    sessions.get("alice")
    clock.wait(120)
    assert sessions.sweep() == []
    waiting["alice"] = 0
    assert sessions.sweep() == ["alice"]


def test_a_new_download_replaces_the_sessions_earlier_one_of_the_same_name(tmp_path):
    session = store(tmp_path).get("alice")
    first = session.new_file("classifier.zip")
    first.write_bytes(b"1")
    other = session.new_file("predictions.csv")
    other.write_bytes(b"p")
    second = session.new_file("classifier.zip")
    second.write_bytes(b"2")
    assert sorted(p.name for p in session.folder.rglob("*.*")) == ["classifier.zip", "predictions.csv"]
    assert not first.exists() and second.read_bytes() == b"2" and other.exists()


def test_ending_a_session_stops_its_job_and_removes_its_files(tmp_path):
    sessions = store(tmp_path)
    session, job = sessions.start("alice", "Predicting the file")
    session.new_file("predictions.csv").write_text("x")
    sessions.end("alice")
    assert job.stopped and not session.folder.exists() and len(sessions) == 0


def test_a_starting_server_removes_what_a_crashed_one_left_but_not_a_running_ones(tmp_path):
    parent = tmp_path / "xlmr_demo"
    running = SessionStore(parent)
    kept = running.claim()
    (kept / "session" / "download").mkdir(parents=True)
    left = parent / "crashed-server"
    (left / "session").mkdir(parents=True)
    (left / "session" / "predictions.csv").write_text("a visitor's rows")
    starting = SessionStore(parent)
    root = starting.claim()
    assert sorted(p.name for p in parent.iterdir()) == sorted([kept.name, root.name])
    assert (kept / "session" / "download").is_dir()
