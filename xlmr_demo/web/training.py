"""The Train tab's callbacks: a quick head, the whole model fine-tuned, a retrain with corrections.

Each is shown stage by stage as it exists (the headline first), with Stop.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import gradio as gr

from .. import views, zerogpu
from ..errors import UserError
from ..limits import current as current_limits
from ..limits import over_limit
from ..progress import Epoch, Step, TuningEvaluation, TuningStep
from ..sessions import Session
from ..views import ISSUE_HEADERS, REPORT_HEADERS
from .outputs import SKIP, TrainViews
from .runner import progress_bar, run_job, stopping
from .visitors import SESSIONS, model_name, need, parse_seed, session_id, task, user_errors, visitor

if TYPE_CHECKING:  # the backend loads with the first job, not with the page
    from ..training import TrainResult

TRAINING = "Training"  # the job's name: messages say "Training is still running"


FINE_TUNING = "Fine-tuning"


ENTITY_TUNING = "Fine-tuning for entities"


class LiveCurve:
    """Fine-tuning as the page shows it while it runs: the loss of every step and the validation ``score``
    of every evaluation, as a figure and a status line (every 10 steps and at each evaluation)."""

    def __init__(self, score: str = "macro-F1") -> None:
        self.score = score
        self.steps: list[tuple[float, float]] = []  # (epoch, loss) of each step
        self.scores: list[tuple[float, float]] = []  # (epoch, validation score) of each evaluation

    def add(self, step: TuningStep | TuningEvaluation) -> tuple | None:
        """(figure, status) to show after ``step``, or None: nothing new worth a redraw."""
        from ..plots import finetune_curve

        if isinstance(step, TuningEvaluation):
            self.scores.append((step.epoch, step.validation))
        else:
            self.steps.append((step.epoch, step.train_loss))
            if len(self.steps) % 10:  # a fresh figure every 10 steps keeps the page responsive
                return None
        figure = finetune_curve(self.steps, self.scores, score=self.score)
        return figure, views.finetune_status(self.scores, step, self.score)


@dataclass(frozen=True)
class StageReady:
    """From the training job to the page: a stage's result exists (the headline's, then each diagnostic's)."""

    result: TrainResult
    session: Session


@dataclass(frozen=True)
class StoppedEarly:
    """From the training job to the page: stopped after the headline; ``result`` is what was kept."""

    result: TrainResult
    message: str


def staged_training(request, progress, stages, prepare, extra=None, on_headline=None, what=TRAINING, seconds=0.0):
    """Train in stages, each shown as soon as it exists: the loss curve while the model learns; the
    headline, per-class table, confusion matrix and classifier .zip once it is measured; then the
    transfer table; then the suspected label errors. A stop (Stop, the job time limit) keeps what is done.

    ``stages(dataset, report)`` gives the results stage by stage (:func:`~xlmr_demo.training.train_stages`,
    :func:`~finetune.text_classification.finetune_stages`); ``prepare(session)`` gives the dataset to train on
    (in the job); ``on_headline(session)`` runs in the job once the headline exists; ``extra(result, archive)``
    gives more outputs (by TrainViews name) for the headline stage and the last one. ``seconds``: the job's
    own time budget, beyond the usual limit. The job sends the page :class:`~xlmr_demo.progress.Epoch`,
    :class:`~xlmr_demo.progress.TuningStep`, :class:`~xlmr_demo.progress.TuningEvaluation`,
    :class:`StageReady` and :class:`StoppedEarly`.
    """
    from ..jobs import Stopped
    from ..plots import loss_curve

    started = time.monotonic()

    def work(session: Session, job, update) -> None:
        dataset = prepare(session)
        session.result = None

        def report(step: Step) -> None:
            job.progress(step)
            if isinstance(step, Epoch | TuningStep | TuningEvaluation):
                update(step)

        result = None
        try:
            for result in stages(dataset, report):
                if on_headline and session.result is None:
                    on_headline(session)
                if result.dataset is not None:  # as split for training: retraining and fine-tuning keep the split
                    session.dataset = result.dataset
                session.result, session.classifier = result, result.classifier
                update(StageReady(result, session))
        except Stopped as exc:  # after the headline: keep what is done and say what is not
            if result is None:
                raise
            if result.pending:  # else everything was done: a stop seen at the very end changes nothing
                update(StoppedEarly(result, str(exc)))

    train_loss: list[float] = []
    validation_loss: list[float] = []
    live = LiveCurve()  # fine-tuning's
    ready: list[float] = []  # seconds from the click to each stage's result

    def show(event) -> TrainViews | None:
        if isinstance(event, Epoch):
            train_loss.append(event.train_loss)
            if event.validation_loss is not None:
                validation_loss.append(event.validation_loss)
            if len(train_loss) % 5 == 1:  # a fresh figure every 5 epochs keeps the page responsive
                return TrainViews(loss=loss_curve(train_loss, validation_loss))
            return None
        if isinstance(event, TuningStep | TuningEvaluation):
            shown = live.add(event)
            return TrainViews(loss=shown[0], status=shown[1]) if shown else None
        now = time.monotonic() - started
        if isinstance(event, StoppedEarly):
            return TrainViews(status=views.training_status(event.result, ready[0], now, stopped=event.message))
        result, session = event.result, event.session
        # written here, between two yields: a newer download replaces this one only after the page took it
        archive = result.classifier.save_archive(
            session.new_file("classifier.zip"), result.metrics, result.training, result.label_issues
        )
        ready.append(now)
        figures = views.result_figures(result)
        status = views.training_status(result, ready[0], now)
        transfer = gr.Plot(value=figures["transfer"], label=views.transfer_title(result))
        issues_header, issues = views.issue_rows(result)
        issues = gr.Dataframe(value={"headers": issues_header, "data": issues}, label=views.issues_title(result))
        more_rows = views.more_rows_words(result)
        if len(ready) > 1 and result.pending:  # a diagnostic stage: only what it added
            return TrainViews(
                status=status, transfer=transfer, issues=issues, download=str(archive), more_rows=more_rows
            )
        header, rows = views.report_rows(result)
        return TrainViews(  # the headline stage, and the last one again in full: what an API client gets
            headline=views.headline(result),
            status=status,
            per_class={"headers": header, "data": rows},
            confusion=figures["confusion"],
            languages=figures["languages"],
            transfer=transfer,
            loss=figures["loss"],
            issues=issues,
            download=str(archive),
            data_report=views.dataset_report(session.dataset, result) if session.dataset is not None else SKIP,
            more_rows=more_rows,
            **(extra(result, archive) if extra else {}),
        )

    yield from run_job(request, what, work, TrainViews, progress_bar(progress), show, seconds)


def _head_stages(model: str, head: str, seed: float):
    """``stages`` for :func:`staged_training`: a head on the frozen model (:func:`train_stages`)."""
    from ..heads import KINDS, HeadConfig
    from ..training import train_stages

    config = HeadConfig(kind=head if head in KINDS else "auto", seed=parse_seed(seed))
    model = model_name(model)
    return lambda dataset, report: train_stages(dataset, model, config, progress=report)


def checked_dataset(session: Session):
    """The checked data (checked with the detected columns if Check was not pressed, as Check would)."""
    from ..dataset import prepare_dataset

    if session.dataset is None:
        table = need(session.table, session, "Load a file in the Data tab first (or use the sample data).")
        session.dataset = prepare_dataset(table, session.table_name)
    return session.dataset


@user_errors
def train(model: str, head: str, seed: float, request: gr.Request = None, progress=gr.Progress()):
    """The Train button: :func:`staged_training` of a head on the checked data."""
    stages = _head_stages(model, head, seed)
    yield TrainViews(status="Working: the headline comes first, then the diagnostics.", comparison="", corrected=None)
    yield from staged_training(request, progress, stages, checked_dataset)


MINUTES = (1, 30)  # the fine-tuning budgets the page offers
MEASURING_SECONDS = 120  # after a fine-tuning budget: measuring the kept weights and the diagnostics


def borrowed_minutes() -> float | None:
    """On a ZeroGPU Space, the longest budget that fits one borrowed GPU call, measuring included; else None."""
    return (zerogpu.longest_call() - MEASURING_SECONDS) / 60 if zerogpu.borrowing() else None


def finetune_minutes(minutes) -> float:
    """The fine-tuning budget asked for, checked against the page's range and the server's cap."""
    try:
        value = float(minutes)
    except (TypeError, ValueError, OverflowError):
        value = math.nan
    if not MINUTES[0] <= value <= MINUTES[1]:
        raise UserError(f"The time budget must be from {MINUTES[0]} to {MINUTES[1]} minutes.")
    cap = current_limits().finetune_minutes
    if cap is not None and value > cap:
        raise over_limit(f"Fine-tuning may take at most {cap:g} minutes here ({value:g} asked).", "finetune_minutes")
    borrowed = borrowed_minutes()
    if borrowed is not None and value > borrowed:
        raise UserError(
            f"Fine-tuning may take at most {borrowed:.3g} minutes here: this Space lends its GPU for "
            f"{zerogpu.longest_call() / 60:.3g} minutes at a time, measuring included ({value:g} asked)."
        )
    return value


@user_errors
def finetune(model: str, minutes: float, seed: float, request: gr.Request = None, progress=gr.Progress()):
    """ "Fine-tune the whole model": the encoder and the product's head trained together within ``minutes``,
    one job at a time for the whole server; shown in stages like :func:`train`, then beside the quick head."""
    from finetune.text_classification import finetune_stages

    from ..classifier import TunedWeightsClassifier

    budget, model, seed = finetune_minutes(minutes), model_name(model), parse_seed(seed)
    quick: dict = {}

    def prepare(session: Session):
        dataset = checked_dataset(session)
        if session.result is not None and not session.result.fine_tuned:
            quick["result"] = session.result  # the quick head on these rows: shown beside the fine-tuned model
        return dataset

    def extra(result, archive: Path) -> dict:
        tuned = isinstance(result.classifier, TunedWeightsClassifier)  # else fine-tuning kept its starting point
        model_mb = _folder_mb(result.classifier.encoder.folder)
        note = views.tuned_download_note(archive.stat().st_size / 2**20, model_mb, tuned, current_limits().upload_mb)
        if "result" in quick:
            return {"comparison": views.method_comparison(quick["result"], result, note)}
        return {"comparison": note}

    def stages(dataset, report):  # on a ZeroGPU Space, on a GPU borrowed for the budget and the measuring after it
        seconds = budget * 60 + MEASURING_SECONDS
        return zerogpu.stages(finetune_stages, dataset, model, budget, seed, seconds=seconds, progress=report)

    yield TrainViews(  # the quick head's views go: what shows from now on is the fine-tuned model's
        headline="",
        status=f"Fine-tuning within {budget:g} min: the headline comes when it ends (or when you press Stop, which "
        "keeps the best weights so far), then the diagnostics, and a comparison with the quick head if you trained "
        "one.",
        per_class={"headers": REPORT_HEADERS, "data": []},
        confusion=None,
        languages=None,
        transfer=None,
        loss=None,
        issues=gr.Dataframe(value={"headers": ISSUE_HEADERS, "data": []}, label="Suspected label errors"),
        download=None,
        comparison="",
        corrected=None,
    )
    yield from staged_training(request, progress, stages, prepare, extra, what=FINE_TUNING, seconds=budget * 60)


def _folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


@user_errors
def retrain(
    edited, model: str, head: str, seed: float, file_format: str = "csv", request: gr.Request = None,
    progress=gr.Progress(),
):  # fmt: skip
    """ "Retrain with my corrections": the decisions typed into the suspected-errors table applied to
    the data, a new classifier trained on it, the headline before and after, the corrected file."""
    from ..corrections import corrected_dataset, corrected_table, parse_decisions
    from ..writers import write_table

    typed = [(row[0], row[-1]) for row in (edited or []) if row and str(row[0]).strip()]
    made: dict = {}

    def prepare(session: Session):
        before = need(session.result, session, "Train a classifier first: its suspected label errors come with it.")
        if before.fine_tuned:  # before and after would compare fine-tuning with a quick head
            raise UserError(
                "Corrections retrain the quick head. Train with the quick head first (How to train: Quick), then "
                "correct its suspected label errors, so that before and after compare the same method."
            )
        suspects = [i["row"] for i in before.label_issues if i["suspect"]]
        separator = session.dataset.config.label_separator
        decisions = parse_decisions(typed, suspects, before.classifier.classes_, separator)
        if not decisions:
            raise UserError(
                "Every decision is 'keep': type the right label (or 'remove') in the last column of the rows "
                "to change, then retrain."
            )
        table = corrected_table(session.table, session.dataset.columns.label, decisions, separator)
        suffix = ".xlsx" if file_format == "xlsx" else ".csv"
        name = f"{Path(session.table_name or 'data').stem[:60]}_corrected{suffix}"
        dataset = corrected_dataset(session.dataset, decisions)
        made.update(before=before, decisions=decisions, table=table, dataset=dataset)
        made["file"] = write_table(table, session.new_file(name))
        return dataset

    def keep(session: Session) -> None:
        """Once the new headline exists, the corrected data replaces the loaded one: a second round of
        corrections, and its download, build on the first (a run stopped before it changes nothing)."""
        session.correct_table(made["table"])
        session.dataset = made["dataset"]

    def extra(result, archive: Path) -> dict:
        return {
            "comparison": views.correction_summary(made["before"], result, made["decisions"]),
            "corrected": str(made["file"]),
        }

    yield TrainViews(status="Training again with your corrections: the headline comes first.")
    yield from staged_training(request, progress, _head_stages(model, head, seed), prepare, extra, keep)


def training_mode(how: str):
    """The Train tab's "How to train": the head choice and Train button, or the budget and Fine-tune button."""
    quick = how != "finetune"
    return [gr.update(visible=shown) for shown in (quick, quick, not quick, not quick)]


def stop_training(request: gr.Request = None) -> str:
    """Training's Stop button (and the API's ``stop``, for any job): stop the session's job; for a
    training run, say what is kept and what was not computed."""
    job = SESSIONS.stop(session_id(request))
    tuning = job is not None and job.what in (FINE_TUNING, ENTITY_TUNING)
    if tuning and (job.what == ENTITY_TUNING or SESSIONS.get(session_id(request), visitor(request)).result is None):
        return (
            "**Stopping.** Once training has begun, the best weights so far are kept and measured, and their "
            "headline follows in a few seconds; before that, nothing is kept."
        )
    if job is None or job.what not in (TRAINING, FINE_TUNING):
        return stopping(job)
    result = SESSIONS.get(session_id(request), visitor(request)).result
    if result is None:
        return "**Stopped** before the headline was ready: nothing was kept."
    return views.training_status(result, 0, time.monotonic() - job.started, stopped="Stopped.")


@user_errors
def training_report(request: gr.Request = None) -> str:
    """The last training run as one self-contained HTML page to share."""
    with task(request, "Writing the report") as (session, _):
        result = need(session.result, session, "Train a classifier first (the Train button above).")
        return str(views.write_training_report(result, session.new_file("report.html"), session.dataset))
