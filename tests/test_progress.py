"""Progress in words: stage names with the time left, durations a person reads at a glance."""

from __future__ import annotations

import threading

import pytest

from xlmr_demo.progress import Pace, Step, duration, ticking


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(0.04, "0.0 s"), (1.44, "1.4 s"), (9.96, "10 s"), (59.4, "59 s"), (130, "2 min 10 s"), (3900, "1 h 05 min")],
)
def test_durations_read_at_a_glance(seconds, words):
    assert duration(seconds) == words


def test_time_left_comes_from_the_stage_pace_since_its_first_report():
    now = [100.0]
    pace = Pace(clock=lambda: now[0])
    assert pace.describe(Step("embedding", 10, 100)) == "embedding"  # the stage starts: no pace yet
    now[0] += 0.5
    assert pace.describe(Step("embedding", 20, 100)) == "embedding"  # under a second: nothing promised
    now[0] += 1.5  # 20 more texts in 2 s since the first report: 70 left take 7 s
    assert pace.describe(Step("embedding", 30, 100)) == "embedding, about 7.0 s left"
    now[0] += 60
    assert pace.describe(Step("training", 1, 10)) == "training"  # a new stage measures its own pace
    now[0] += 30
    assert pace.describe(Step("training", 4, 10)) == "training, about 1 min 00 s left"
    assert pace.describe(Step("training", 10, 10)) == "training"  # finished: nothing left to say


def test_projections_that_report_nothing_still_move_the_progress():
    from xlmr_demo.jobs import Job, Stopped

    seen, enough = [], threading.Event()

    def report(step) -> None:
        seen.append(step)
        if len(seen) >= 4:
            enough.set()

    with ticking(report, "projecting (UMAP)", 60.0, every=0.01):  # the work: until four ticks came
        assert enough.wait(timeout=60)
    assert seen[-1].done > seen[0].done and {s.stage for s in seen} == {"projecting (UMAP)"}
    assert all(s.fraction <= 0.95 for s in seen)
    job, ticked = Job("Drawing the map"), threading.Event()
    job.stop()

    def stopped(step) -> None:
        ticked.set()
        job.progress(step)

    # a stop seen while ticking ends the work once the projection returns
    with pytest.raises(Stopped), ticking(stopped, "projecting (t-SNE)", 2.0, every=0.01):
        assert ticked.wait(timeout=60)
