"""``python -m tests.held_app``: ``python app.py`` for tests that need a job still running.

While the file named by ``$XLMR_DEMO_TEST_HOLD`` exists, every job waits at its next progress report
(of the stage the file names, if it names one) until it is stopped or the file goes, and says so by
creating the file's ``.reached`` twin. Such a test holds the job as long as it needs, however fast the
machine.
"""

import os
import time
from pathlib import Path

from xlmr_demo import jobs
from xlmr_demo.web import launch

HOLD = Path(os.environ["XLMR_DEMO_TEST_HOLD"])
REACHED = HOLD.with_name(HOLD.name + ".reached")
_report = jobs.Job.progress


def _held_at(stage: str) -> bool:
    try:
        named = HOLD.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return False
    return not named or named == stage


def held_progress(self, step) -> None:
    if _held_at(step.stage):
        REACHED.touch()
        while HOLD.exists() and not self.stopped:
            time.sleep(0.02)
    _report(self, step)


jobs.Job.progress = held_progress

if __name__ == "__main__":
    launch()
