"""xlmr_demo web app. Run ``python app.py`` and open http://127.0.0.1:7860.

This file only builds and wires the page; the work happens in ``xlmr_demo`` functions that take
and return plain data (``xlmr_demo.views`` turns results into what the page shows). Heavy imports
(torch, transformers, umap) load in a background thread after the page is up, so the app starts in
seconds.

Each browser or API session has its own data, classifier and files on the server
(:mod:`xlmr_demo.sessions`), runs one job at a time, and can stop it. Uploads are read and then
deleted (after a grace of seconds); files handed out (a classifier .zip, predictions) live in
Gradio's cache and go with the session. With ``XLMR_DEMO_PUBLIC=1``, or on a Hugging Face Space,
the app runs in public mode (:mod:`xlmr_demo.limits`): models from an allow-list only, a time limit
per job, messages without server paths, and :mod:`xlmr_demo.guard` in front of Gradio.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import logging
import math
import os
import queue
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import gradio as gr
from gradio.utils import NamedString, get_upload_folder

from xlmr_demo import views
from xlmr_demo.cache import cache_scope
from xlmr_demo.compare import parse_sentences, similarity
from xlmr_demo.errors import UserError
from xlmr_demo.guard import Guard, visitor_address
from xlmr_demo.limits import DEFAULT_MODELS, allowed_models, over_limit, public_mode
from xlmr_demo.limits import current as current_limits
from xlmr_demo.models import EMBEDDED_NAME
from xlmr_demo.paths import cache_dir
from xlmr_demo.progress import Pace, Step
from xlmr_demo.sessions import Session, SessionStore
from xlmr_demo.views import ISSUE_HEADERS, NEIGHBOUR_HEADERS, REPORT_HEADERS, cell, table_rows

SAMPLE = Path(__file__).parent / "assets" / "sample_parallel.csv"
EXAMPLE = """The cat is sleeping on the sofa.
Le chat dort sur le canapé.
Die Katze schläft auf dem Sofa.
Кошка спит на диване.
猫がソファで寝ている。
القطة نائمة على الأريكة.
बिल्ली सोफ़े पर सो रही है।
The stock market fell sharply today.
La bolsa cayó con fuerza hoy.
今天股市大幅下跌。"""
PREDICT_EXAMPLES = [
    "Il pleut depuis ce matin et je reste à la maison.",
    "Mi jefe me pidió terminar el informe antes del viernes.",
    "Я записался к врачу на следующую неделю.",
    "我的手机电池一天都撑不住。",
]
ENTITY_EXAMPLES = [  # written for this app
    "Angela Merkel traf Emmanuel Macron in Paris.",
    "Sundar Pichai joined Google in 2004 and now lives in California.",
    "La Organización Mundial de la Salud tiene su sede en Ginebra.",
    "Владимир Набоков родился в Санкт-Петербурге.",
]
HEAVY = "heavy"  # the queue shared by training, maps and file predictions
LOCAL_SESSION = "local"  # the session of direct calls (tests, scripts) that come without a request
# Gradio routes that write a visitor's data to disk and that this app never uses: refused in public mode
UNUSED_ROUTES = ("/gradio_api/deep_link", "/gradio_api/process_recording")

# every visitor's files live under Gradio's cache, which serves them and deletes them by age too
SESSIONS = SessionStore(parent=lambda: Path(get_upload_folder()) / "xlmr_demo")
_log = logging.getLogger("xlmr_demo.app")


def upload_box(label: str) -> gr.File:
    """A file upload whose callbacks get the uploaded file's own path, and nothing else on disk.

    Gradio 6's ``File(type="filepath")`` also creates an empty temporary file in its cache for every
    upload and never removes it (``_process_single_file`` in ``gradio/components/file.py``); this
    instance skips that step. (A subclass would too, but Gradio writes a .pyi stub beside any module
    that defines a component class.)
    """
    box = gr.File(label=label, type="filepath")
    box._process_single_file = lambda f: NamedString(f.path)
    return box


def model_choices() -> list[str]:
    """The Model dropdown: the allow-list in public mode, else the suggested models."""
    return list(allowed_models()) if public_mode() else list(DEFAULT_MODELS)


def _server_paths() -> list[str]:
    paths = {get_upload_folder(), tempfile.gettempdir(), str(cache_dir()), os.getcwd(), str(Path.home()), sys.prefix}
    paths |= {str(Path(p).resolve()) for p in paths}
    return sorted((p for p in paths if len(p) > 1), key=len, reverse=True)


def shown(message: str) -> str:
    """A message as the page shows it: in public mode, with every server folder replaced by "…"."""
    if public_mode():
        for path in _server_paths():
            message = message.replace(path, "…")
    return message


def _unexpected(exc: Exception) -> gr.Error:
    _log.exception("unexpected error in a callback", exc_info=exc)
    return gr.Error("Something went wrong on the server (the error was logged). Try again, or with another file.")


def _text_inputs(fn) -> Callable[..., None]:
    """A check that every argument ``fn`` annotates as text is text: an API caller can send a list or a dict."""
    signature = inspect.signature(fn)
    texts = {name for name, p in signature.parameters.items() if p.annotation in ("str", "str | None")}

    def check(args, kwargs) -> None:
        for name, value in signature.bind_partial(*args, **kwargs).arguments.items():
            if name in texts and not isinstance(value, str | None):
                raise UserError(f"Expected text for {name.replace('_', ' ')}, not {type(value).__name__}.")

    return check


@contextlib.contextmanager
def _page_errors():
    """UserError messages as the page shows them; anything unexpected logged, behind a plain message."""
    try:
        yield
    except UserError as exc:
        raise gr.Error(shown(str(exc))) from exc
    except gr.Error:
        raise
    except Exception as exc:
        raise _unexpected(exc) from exc


def user_errors(fn):
    """Check text inputs, show UserError messages in the page, and hide anything unexpected behind a plain message."""
    check = _text_inputs(fn)

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args, **kwargs):
            with _page_errors():
                check(args, kwargs)
                yield from fn(*args, **kwargs)

        return generator

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _page_errors():
            check(args, kwargs)
            return fn(*args, **kwargs)

    return wrapper


def _sid(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or LOCAL_SESSION


def _address(request: gr.Request | None) -> str:
    if request is None:
        return LOCAL_SESSION
    client = getattr(request, "client", None)
    return visitor_address(request.headers.get("x-forwarded-for"), getattr(client, "host", None))


def _task(request: gr.Request | None, what: str):
    """``with _task(request, "Comparing") as (session, job):`` the visitor's session, running ``what``."""
    return SESSIONS.task(_sid(request), what, client=_address(request))


def _need(value, session: Session, what: str):
    """``value``, or a message saying ``what`` to do first (and why earlier data is gone, if it is)."""
    if value is None:
        gone = f" (Your earlier data was cleared: {session.ended_because}.)" if session.ended_because else ""
        raise UserError(what + gone)
    return value


def _is_upload(path: Path) -> bool:
    """Whether ``path`` is a visitor's upload in Gradio's cache (not one of our downloads, not the sample)."""
    path, folder = path.resolve(), Path(get_upload_folder()).resolve()
    return path.is_relative_to(folder) and not path.is_relative_to(SESSIONS.parent.resolve())


def _discard_upload(path: Path) -> None:
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        path.parent.rmdir()  # Gradio keeps each upload in a folder of its own


# read or refused, an upload goes this long after its callback: Gradio stores identical uploads under one
# name, so deleting at once failed a second visitor who had sent the same file a moment before
UPLOAD_GRACE_SECONDS = 30.0
_DUE: dict[Path, tuple[float, int]] = {}  # consumed uploads: when they go, and the file (inode) that was read
_DUE_LOCK = threading.Lock()


@contextlib.contextmanager
def _consumed(path: str | Path):
    """Around the use of an upload: afterwards, read or refused, it is deleted (its data lives in memory only)."""
    try:
        yield
    finally:
        upload = Path(path)
        if _is_upload(upload):
            grace = min(UPLOAD_GRACE_SECONDS, 15 * (current_limits().session_idle_minutes or 2))  # idle / 4
            with contextlib.suppress(OSError), _DUE_LOCK:
                _DUE[upload] = (time.monotonic() + grace, upload.stat().st_ino)


def reap_uploads(in_use: Callable[[], set[Path]] = set) -> list[Path]:
    """Delete the consumed uploads whose grace has passed, but those ``in_use()`` (by requests still queued)
    and those sent again since (the same content arrives under the same name, as a new file)."""
    now = time.monotonic()
    busy = in_use()
    with _DUE_LOCK:
        due = [(path, inode) for path, (when, inode) in _DUE.items() if when <= now and path.resolve() not in busy]
        for path, _ in due:
            del _DUE[path]
    gone = []
    for path, inode in due:
        with contextlib.suppress(OSError):
            if path.stat().st_ino == inode:
                _discard_upload(path)
                gone.append(path)
    return gone


def sweep_orphan_uploads(max_age: float, in_use: Callable[[], set[Path]] = set) -> list[Path]:
    """Delete files in Gradio's cache that no session owns, no queued request names (``in_use()``),
    and that are older than ``max_age`` seconds.

    Anyone can post files to Gradio's upload route without ever using them; our callbacks delete
    the uploads they read, so an upload still there after as long as a session may stay idle, and
    that no waiting request names, was never used.
    """
    folder = Path(get_upload_folder())
    now = time.time()
    busy = in_use()
    gone = []
    for path in list(folder.rglob("*")) if folder.is_dir() else []:  # listed first: deleting changes the tree
        with contextlib.suppress(OSError):
            if (path.is_file() and _is_upload(path) and path.resolve() not in busy
                    and now - path.stat().st_ctime > max_age):  # fmt: skip
                _discard_upload(path)
                gone.append(path)
    return gone


def _model(model: str | None) -> str:
    return (model or EMBEDDED_NAME).strip()


def _seed(seed) -> int:
    try:
        value = int(seed or 0)
    except (TypeError, ValueError, OverflowError):
        value = -1
    if not 0 <= value < 2**32:
        raise UserError(f"The seed must be a whole number from 0 to {2**32 - 1}.")
    return value


_DONE = object()
SKIP = gr.skip()  # "leave this output as it is"


class FileViews(NamedTuple):
    """What loading a file shows, by output: build_app wires the components in this order."""

    preview: object = SKIP
    notes: object = SKIP
    text_column: object = SKIP
    label_column: object = SKIP
    language_column: object = SKIP
    split_column: object = SKIP
    group_column: object = SKIP  # rows sharing a value are one meaning (translations, copies)
    colour: object = SKIP  # the Explore tab's choices: what the map can be coloured by
    languages: object = SKIP  # and which languages it can show


class TrainViews(NamedTuple):
    """What training shows, by output (the loss curve while it trains, then each stage's views)."""

    headline: object = SKIP
    status: object = SKIP
    per_class: object = SKIP
    confusion: object = SKIP
    languages: object = SKIP
    transfer: object = SKIP
    loss: object = SKIP
    issues: object = SKIP
    download: object = SKIP
    comparison: object = SKIP  # the headline before and after label corrections
    corrected: object = SKIP  # the corrected file
    data_report: object = SKIP  # the Data tab's check report, with the meaning groups training found


class FilePredictionViews(NamedTuple):
    """What predicting a file shows, by output."""

    file: object = SKIP
    preview: object = SKIP
    summary: object = SKIP


class MapViews(NamedTuple):
    """What drawing a map shows, by output."""

    map: object = SKIP
    findings: object = SKIP
    centroids: object = SKIP
    languages: object = SKIP  # the filter's choices: every language of the data


def _background(request, what: str, work, views=None, report=None, on_update=None, extra_seconds: float = 0.0):
    """Run ``work(session, job, update)`` as the session's one job, in a thread; a generator for Gradio.

    Yields ``on_update(item)`` for each ``update(item)`` the work makes (None: nothing to show),
    and returns what ``work`` returns. The session's job slot is released when the thread ends.
    If the page stops listening first (Stop, a closed tab, a client's cancel), the job is stopped:
    Gradio closes a generator only between two yields, so while the work is quiet this yields
    "no change" once a second: ``views()`` (a NamedTuple of outputs, all skipped) or one skip.
    """
    session, job = SESSIONS.start(_sid(request), what, report, _address(request), extra_seconds=extra_seconds)
    updates: queue.Queue = queue.Queue()
    outcome: dict = {}

    def run() -> None:
        try:
            with cache_scope(session.cache):
                outcome["result"] = work(session, job, updates.put)
        except BaseException as exc:  # handed to the page below
            outcome["error"] = exc
        finally:
            SESSIONS.finish(session, job)
            updates.put(_DONE)

    threading.Thread(target=contextvars.copy_context().run, args=(run,), name=what, daemon=True).start()
    no_change = views() if views else SKIP
    try:
        while True:
            try:
                item = updates.get(timeout=1.0)
            except queue.Empty:
                yield no_change
                continue
            if item is _DONE:
                break
            shown_item = on_update(item) if on_update else None
            if shown_item is not None:
                yield shown_item
    finally:
        if not outcome:
            job.stop()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def _progress_report(progress):
    """A Progress that moves the page's bar, naming the stage and its time left."""
    pace = Pace()
    return lambda step: progress(step.fraction, desc=pace.describe(step))


@user_errors
def compare(sentences: str, model: str, request: gr.Request = None):
    """Callback of "Compare": sentences (one per line) -> heatmap and the closest pairs."""

    with _task(request, "Comparing") as (session, _), cache_scope(session.cache):
        return views.compare_views(similarity(parse_sentences(sentences or ""), model=_model(model)))


def _choices(columns: list[str], value: str | None, optional: bool = False):
    options = (["(none)"] if optional else []) + columns
    return gr.update(choices=options, value=value if value else ("(none)" if optional else None))


@user_errors
def load_file(path: str | None, request: gr.Request = None):
    """Read an upload (or the sample): preview and the detected columns."""
    from xlmr_demo.columns import detect_columns
    from xlmr_demo.readers import read_table

    if not path:
        raise UserError("Choose a file first (CSV, TSV, Excel, JSON Lines or Parquet), or load the sample.")
    with _consumed(path), _task(request, "Reading the file") as (session, _):
        table = read_table(path)
        name = Path(path).name
        session.set_table(table, name)
        header, rows = views.preview(table)
        try:
            found = detect_columns(table, name, roles=("text", "label", "language", "split", "group"))
            guess, pair = (found.text, found.label, found.language, found.split), found.group
        except UserError:
            guess, pair = (None, None, None, None), None
        colours = views.colour_choices(table, guess[0], guess[2], pair)
        languages = views.language_choices(table.column(guess[2])) if guess[2] else []
    notes = "\n".join(f"- ℹ️ {n}" for n in table.notes) or f"Read **{cell(name, 80)}**: {len(table)} rows."
    if len(table.columns) > len(header):
        notes += f"\n- The preview shows the first {len(header)} of {len(table.columns):,} columns."
    return FileViews(
        preview=gr.Dataframe(value={"headers": header, "data": rows}, visible=True),
        notes=notes,
        text_column=_choices(table.columns, guess[0]),
        label_column=_choices(table.columns, guess[1]),
        language_column=_choices(table.columns, guess[2], optional=True),
        split_column=_choices(table.columns, guess[3], optional=True),
        group_column=_choices(table.columns, pair, optional=True),
        colour=gr.update(choices=colours, value="language"),
        languages=gr.update(choices=languages, value=[]),
    )


def load_sample(request: gr.Request = None):
    """The "Use the sample data" button: :func:`load_file` on ``assets/sample_parallel.csv``."""
    return load_file(str(SAMPLE), request)


def _none(value: str | None) -> str | None:
    return None if value in (None, "", "(none)") else value


@user_errors
def check_data(
    text: str, label: str, language: str, split: str, group: str | None = None, request: gr.Request = None
):  # fmt: skip
    """Validate the table with the chosen columns: report and label x language chart. ``group``: the column of
    meaning ids ("(none)": translations and near-copies are found from the embeddings when training)."""
    from xlmr_demo.dataset import prepare_dataset

    with _task(request, "Checking the data") as (session, _):
        table = _need(session.table, session, "Load a file first.")
        session.result = None  # it measured the data as checked before (the classifier stays for predictions)
        session.dataset = prepare_dataset(
            table,
            session.table_name,
            text_column=_none(text),
            label_column=_none(label),
            language_column=_none(language),
            split_column=_none(split),
            group_column=_none(group),
        )
        return views.dataset_report(session.dataset), views.counts_figure(session.dataset)


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

    def add(self, step: Step) -> tuple | None:
        """(figure, status) to show after ``step`` (a fine-tuning Step), or None: nothing new worth a redraw."""
        from xlmr_demo.plots import finetune_curve

        if "validation" in step.details:
            self.scores.append((step.details["epoch"], step.details["validation"]))
        else:
            self.steps.append((step.details["epoch"], step.details["train_loss"]))
            if len(self.steps) % 10:  # a fresh figure every 10 steps keeps the page responsive
                return None
        figure = finetune_curve(self.steps, self.scores, score=self.score)
        return figure, views.finetune_status(self.scores, step, self.score)


def _staged_training(request, progress, stages, prepare, extra=None, on_headline=None, what=TRAINING, seconds=0.0):
    """Train in stages, each shown as soon as it exists: the loss curve while the model learns; the
    headline, per-class table, confusion matrix and classifier .zip once it is measured; then the
    transfer table; then the suspected label errors. A stop (Stop, the job time limit) keeps what is done.

    ``stages(dataset, report)`` gives the results stage by stage (:func:`train_stages`, :func:`finetune_stages`);
    ``prepare(session)`` gives the dataset to train on (in the job); ``on_headline(session)`` runs in
    the job once the headline exists; ``extra(result, archive)`` gives more outputs (by TrainViews name)
    for the headline stage and the last one. ``seconds``: the job's own time budget, beyond the usual limit.
    """
    from xlmr_demo.jobs import Stopped
    from xlmr_demo.plots import loss_curve

    started = time.monotonic()

    def work(session: Session, job, update) -> None:
        dataset = prepare(session)
        session.result = None

        def report(step: Step) -> None:
            job.progress(step)
            if step.stage == "training":
                update(("loss", step.details["train_loss"], step.details["validation_loss"]))
            elif step.stage == "fine-tuning":
                update(("tuning", step))

        result = None
        try:
            for result in stages(dataset, report):
                if on_headline and session.result is None:
                    on_headline(session)
                if result.dataset is not None:  # as split for training: retraining and fine-tuning keep the split
                    session.dataset = result.dataset
                session.result, session.classifier = result, result.classifier
                update(("result", result, session))
        except Stopped as exc:  # after the headline: keep what is done and say what is not
            if result is None:
                raise
            if result.pending:  # else everything was done: a stop seen at the very end changes nothing
                update(("stopped", result, str(exc)))

    train_loss: list[float] = []
    validation_loss: list[float] = []
    live = LiveCurve()  # fine-tuning's
    ready: list[float] = []  # seconds from the click to each stage's result

    def show(item) -> TrainViews | None:
        kind, *rest = item
        if kind == "loss":
            train_loss.append(rest[0])
            if rest[1] is not None:
                validation_loss.append(rest[1])
            if len(train_loss) % 5 == 1:  # a fresh figure every 5 epochs keeps the page responsive
                return TrainViews(loss=loss_curve(train_loss, validation_loss))
            return None
        if kind == "tuning":
            shown = live.add(rest[0])
            return TrainViews(loss=shown[0], status=shown[1]) if shown else None
        now = time.monotonic() - started
        if kind == "stopped":
            return TrainViews(status=views.training_status(rest[0], ready[0], now, stopped=rest[1]))
        result, session = rest
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
        if len(ready) > 1 and result.pending:  # a diagnostic stage: only what it added
            return TrainViews(status=status, transfer=transfer, issues=issues, download=str(archive))
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
            **(extra(result, archive) if extra else {}),
        )

    yield from _background(request, what, work, TrainViews, _progress_report(progress), show, seconds)


def _head_stages(model: str, head: str, seed: float):
    """``stages`` for :func:`_staged_training`: a head on the frozen model (:func:`train_stages`)."""
    from xlmr_demo.heads import KINDS, HeadConfig
    from xlmr_demo.training import train_stages

    config = HeadConfig(kind=head if head in KINDS else HeadConfig.kind, seed=_seed(seed))
    model = _model(model)
    return lambda dataset, report: train_stages(dataset, model, config, progress=report)


def _checked_dataset(session: Session):
    """The checked data (checked with the detected columns if Check was not pressed, as Check would)."""
    from xlmr_demo.dataset import prepare_dataset

    if session.dataset is None:
        table = _need(session.table, session, "Load a file in the Data tab first (or use the sample data).")
        session.dataset = prepare_dataset(table, session.table_name)
    return session.dataset


@user_errors
def train(model: str, head: str, seed: float, request: gr.Request = None, progress=gr.Progress()):
    """The Train button: :func:`_staged_training` of a head on the checked data."""
    stages = _head_stages(model, head, seed)
    yield TrainViews(status="Working: the headline comes first, then the diagnostics.", comparison="", corrected=None)
    yield from _staged_training(request, progress, stages, _checked_dataset)


MINUTES = (1, 30)  # the fine-tuning budgets the page offers


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
    return value


@user_errors
def finetune(model: str, minutes: float, seed: float, request: gr.Request = None, progress=gr.Progress()):
    """ "Fine-tune the whole model": the encoder and the product's head trained together within ``minutes``,
    one job at a time for the whole server; shown in stages like :func:`train`, then beside the quick head."""
    from finetune.text_classification import finetune_stages
    from xlmr_demo.classifier import TunedWeightsClassifier

    budget, model, seed = finetune_minutes(minutes), _model(model), _seed(seed)
    quick: dict = {}

    def prepare(session: Session):
        dataset = _checked_dataset(session)
        if session.result is not None and "fine_tuning" not in session.result.training:
            quick["result"] = session.result  # the quick head on these rows: shown beside the fine-tuned model
        return dataset

    def extra(result, archive: Path) -> dict:
        tuned = isinstance(result.classifier, TunedWeightsClassifier)  # else fine-tuning kept its starting point
        model_mb = _folder_mb(result.classifier.encoder.folder)
        note = views.tuned_download_note(archive.stat().st_size / 2**20, model_mb, tuned, current_limits().upload_mb)
        if "result" in quick:
            return {"comparison": views.method_comparison(quick["result"], result, note)}
        return {"comparison": note}

    def stages(dataset, report):
        return finetune_stages(dataset, model, budget, seed, progress=report)

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
    yield from _staged_training(request, progress, stages, prepare, extra, what=FINE_TUNING, seconds=budget * 60)


def _folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


@user_errors
def retrain(
    edited, model: str, head: str, seed: float, file_format: str = "csv", request: gr.Request = None,
    progress=gr.Progress(),
):  # fmt: skip
    """ "Retrain with my corrections": the decisions typed into the suspected-errors table applied to
    the data, a new classifier trained on it, the headline before and after, the corrected file."""
    from xlmr_demo.corrections import corrected_dataset, corrected_table, parse_decisions
    from xlmr_demo.writers import write_table

    typed = [(row[0], row[-1]) for row in (edited or []) if row and str(row[0]).strip()]
    made: dict = {}

    def prepare(session: Session):
        before = _need(session.result, session, "Train a classifier first: its suspected label errors come with it.")
        if "fine_tuning" in before.training:  # before and after would compare fine-tuning with a quick head
            raise UserError(
                "Corrections retrain the quick head. Train with the quick head first (How to train: Quick), then "
                "correct its suspected label errors, so that before and after compare the same method."
            )
        suspects = [i["row"] for i in before.label_issues if i["suspect"]]
        decisions = parse_decisions(typed, suspects, before.classifier.classes_)
        if not decisions:
            raise UserError(
                "Every decision is 'keep': type the right label (or 'remove') in the last column of the rows "
                "to change, then retrain."
            )
        table = corrected_table(session.table, session.dataset.columns.label, decisions)
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
    yield from _staged_training(request, progress, _head_stages(model, head, seed), prepare, extra, keep)


def _training_mode(how: str):
    """The Train tab's "How to train": the head choice and Train button, or the budget and Fine-tune button."""
    quick = how != "finetune"
    return [gr.update(visible=shown) for shown in (quick, quick, not quick, not quick)]


def stop_training(request: gr.Request = None) -> str:
    """Training's Stop button (and the API's ``stop``, for any job): stop the session's job; for a
    training run, say what is kept and what was not computed."""
    job = SESSIONS.stop(_sid(request))
    tuning = job is not None and job.what in (FINE_TUNING, ENTITY_TUNING)
    if tuning and (job.what == ENTITY_TUNING or SESSIONS.get(_sid(request), _address(request)).result is None):
        return (
            "**Stopping.** Once training has begun, the best weights so far are kept and measured, and their "
            "headline follows in a few seconds; before that, nothing is kept."
        )
    if job is None or job.what not in (TRAINING, FINE_TUNING):
        return _stopping(job)
    result = SESSIONS.get(_sid(request), _address(request)).result
    if result is None:
        return "**Stopped** before the headline was ready: nothing was kept."
    return views.training_status(result, 0, time.monotonic() - job.started, stopped="Stopped.")


@user_errors
def training_report(request: gr.Request = None) -> str:
    """The last training run as one self-contained HTML page to share."""
    with _task(request, "Writing the report") as (session, _):
        result = _need(session.result, session, "Train a classifier first (the Train button above).")
        return str(views.write_training_report(result, session.new_file("report.html"), session.dataset))


@user_errors
def load_head(archive: str | None, request: gr.Request = None):
    """Use a classifier .zip downloaded from the Train tab (read in memory, never unpacked)."""
    from xlmr_demo.classifier import TunedWeightsClassifier, load_archive

    if not archive:
        raise UserError("Choose a classifier .zip first.")
    with _consumed(archive), _task(request, "Loading the classifier") as (session, _):
        session.classifier = load_archive(archive)
        labels = ", ".join(cell(c, 40) for c in session.classifier.classes_[:30])
    if isinstance(session.classifier, TunedWeightsClassifier):
        return f"Loaded a fine-tuned classifier (base model {session.classifier.base.name}) for: {labels}."
    return f"Loaded a classifier for: {labels}."


@user_errors
def predict_text(text: str, request: gr.Request = None):
    """Probabilities of every label for one text, and a word when the prediction is a guess."""
    from xlmr_demo.predict import not_sure_note

    if not text or not text.strip():
        raise UserError("Type a text to classify.")
    with _task(request, "Predicting") as (session, _), cache_scope(session.cache):
        classifier = _need(session.classifier, session, "Train a classifier (Train tab) or load a saved one first.")
        scores = dict(classifier.scores(text))
    return scores, not_sure_note(list(scores.values()))


@user_errors
def predict_upload(path: str | None, file_format: str = "csv", request: gr.Request = None, progress=gr.Progress()):
    """Predict every row of an uploaded file: the CSV (or Excel file), its first rows and what to know about them."""
    from xlmr_demo.predict import predict_table
    from xlmr_demo.readers import read_table
    from xlmr_demo.writers import neutralised_cells, write_table

    if not path:
        raise UserError("Choose a file to predict first.")
    excel = file_format == "xlsx"

    def work(session: Session, job, update):
        with _consumed(path):
            table = read_table(path)
        classifier = _need(session.classifier, session, "Train a classifier (Train tab) or load a saved one first.")
        predictions = predict_table(classifier, table, progress=job.progress)
        suffix = ".xlsx" if excel else ".csv"
        out = write_table(predictions.table, session.new_file(f"{Path(path).stem[:60]}_predictions{suffix}"))
        return predictions, out

    report = _progress_report(progress)
    with _consumed(path):  # also when the job is refused or stopped before it reads the file
        predictions, out = yield from _background(request, "Predicting the file", work, FilePredictionViews, report)
    header, rows = views.prediction_preview(predictions)
    yield FilePredictionViews(
        file=str(out),
        preview=gr.Dataframe(value={"headers": header, "data": rows}, visible=True),
        summary=views.prediction_summary(predictions, 0 if excel else neutralised_cells(predictions.table), excel),
    )


class TuningMapViews(NamedTuple):
    """What the before-and-after maps show, by output."""

    before: object = SKIP
    after: object = SKIP
    findings: object = SKIP


class EntityViews(NamedTuple):
    """What fine-tuning for entities shows, by output."""

    headline: object = SKIP
    status: object = SKIP
    per_type: object = SKIP
    languages: object = SKIP
    curve: object = SKIP
    report: object = SKIP


@user_errors
def train_entities(
    path: str | None, other_path: str | None, model: str, minutes: float, seed: float, request: gr.Request = None,
    progress=gr.Progress(),
):  # fmt: skip
    """The Entities tab: fine-tune the whole model to find the entities of a tagged file (CoNLL/IOB2 or JSON
    Lines with spans) within ``minutes``, measured on held-out sentences and zero-shot on another language's file."""
    from finetune.corpora import read_corpus
    from finetune.token_classification import finetune_entities

    if not path:
        raise UserError("Choose a file of sentences with their entities first.")
    budget, model, seed = finetune_minutes(minutes), _model(model), _seed(seed)
    uploads = [p for p in (path, other_path) if p]

    def work(session: Session, job, update):
        with contextlib.ExitStack() as stack:
            for upload in uploads:
                stack.enter_context(_consumed(upload))
            # kept in the session: a second run on the same uploads (they are deleted once read) reads them there
            known = {p: session.entity_files.get(p) for p in uploads}
            files = {p: known[p] or read_corpus(p, display_name=Path(p).name) for p in uploads}
            session.entity_files = files
        corpus, other = files[path], files.get(other_path)

        def report(step: Step) -> None:
            job.progress(step)
            if step.stage == "fine-tuning":
                update(step)

        session.entities = None
        session.entities = finetune_entities(corpus, other, model, budget, seed, progress=report)
        return session.entities

    live = LiveCurve("entity F1")

    def show(step: Step) -> EntityViews | None:
        shown = live.add(step)
        return EntityViews(curve=shown[0], status=shown[1]) if shown else None

    yield EntityViews(status=f"Reading your file, then fine-tuning within {budget:g} min.")
    with contextlib.ExitStack() as stack:  # also when the job is refused or stopped before it reads the files
        for upload in uploads:
            stack.enter_context(_consumed(upload))
        result = yield from _background(
            request, ENTITY_TUNING, work, EntityViews, _progress_report(progress), show, extra_seconds=budget * 60
        )
    header, rows = views.entity_rows(result.evaluations["test"])
    tuned = result.training
    yield EntityViews(
        headline=views.entity_headline(result.evaluations, tuned),
        status=views.entity_status(tuned, ENTITY_TUNING),
        per_type={"headers": header, "data": rows},
        languages=views.entity_language_figure(result.evaluations),
        curve=views.loss_figure({"fine_tuning": {**tuned, "step_losses": live.steps}}, "entity F1"),
        report=views.entity_report_text(result.evaluations),
    )


@user_errors
def find_entities(text: str, request: gr.Request = None):
    """The entities in one typed text, highlighted by type."""
    if not text or not text.strip():
        raise UserError("Type a sentence to look for entities in.")
    limit = current_limits().cell_chars
    if len(text) > limit:
        raise over_limit(f"The text has {len(text):,} characters; the limit is {limit:,}.", "cell_chars")
    with _task(request, "Finding entities") as (session, _):
        result = _need(session.entities, session, "Fine-tune for entities first (the button above).")
        return views.highlighted(text, result.tagger.entities(text))


@user_errors
def embedding_map(
    method: str, dims: str, color: str, center: bool, languages: list[str] | None = None,
    request: gr.Request = None, progress=gr.Progress(),
):  # fmt: skip
    """Map the loaded data (or the sample), only ``languages`` if any are chosen: figure, findings, centroids."""
    from xlmr_demo.maps import build_map, map_data_from_table
    from xlmr_demo.projection import ProjectionConfig
    from xlmr_demo.readers import read_table

    config = ProjectionConfig(
        method=method if method in ("auto", "tsne", "umap", "pca") else "auto", dims=3 if str(dims) == "3" else 2,
        center_languages=bool(center),
    )  # fmt: skip

    def work(session: Session, job, update):
        if session.table is not None:
            table, name = session.table, session.table_name
        else:
            table, name = read_table(SAMPLE), SAMPLE.name
        data = map_data_from_table(table, name)
        offered = views.language_choices(data.languages)
        data = data.keep_languages([str(v) for v in languages or []])
        session.map = build_map(data, config=config, color=(color or "language").strip(), progress=job.progress)
        return session.map, offered

    result, offered = yield from _background(request, "Drawing the map", work, MapViews, _progress_report(progress))
    findings = "\n".join(f"- {line}" for line in views.summary_lines(result))
    yield MapViews(
        map=views.map_figure(result),
        findings=findings,
        centroids=views.centroid_figure(result),
        languages=gr.update(choices=offered),
    )


@user_errors
def compare_maps(method: str, dims: str, request: gr.Request = None, progress=gr.Progress()):
    """Explore's "Before and after fine-tuning": the test rows mapped by the model as it came and as fine-tuned."""
    from xlmr_demo.classifier import TunedWeightsClassifier
    from xlmr_demo.maps import before_after_maps
    from xlmr_demo.projection import ProjectionConfig

    config = ProjectionConfig(
        method=method if method in ("auto", "tsne", "umap", "pca") else "auto", dims=3 if str(dims) == "3" else 2
    )

    def work(session: Session, job, update):
        result = session.result
        if result is None or "fine_tuning" not in result.training or session.dataset is None:
            raise UserError("Fine-tune the whole model first (Train tab, How to train: Fine-tune the whole model).")
        tuned = result.classifier
        if not isinstance(tuned, TunedWeightsClassifier):
            raise UserError("Fine-tuning kept its starting point (the model as it came), so both maps would be one.")
        return before_after_maps(session.dataset, tuned.base, tuned.encoder, config, progress=job.progress)

    maps = yield from _background(request, "Drawing the maps", work, TuningMapViews, _progress_report(progress))
    before, after = maps
    yield TuningMapViews(views.map_figure(before), views.map_figure(after), views.tuning_change(before, after))


@user_errors
def place_on_map(text: str, request: gr.Request = None):
    """Put a typed text on the current map; list its nearest mapped texts in any language."""
    from xlmr_demo.maps import place_text

    with _task(request, "Placing the text") as (session, _), cache_scope(session.cache):
        result = _need(session.map, session, "Draw the map first.")
        placement = place_text(result, text)
        columns = list(placement.neighbours[0])
        rows = table_rows([[n[c] for c in columns] for n in placement.neighbours])
        return views.with_placement(result, text, placement), {"headers": columns, "data": rows}


def stop_job(request: gr.Request = None) -> str:
    """The Stop buttons: stop this session's running job (it ends at its next step)."""
    return _stopping(SESSIONS.stop(_sid(request)))


def _stopping(job) -> str:
    if job is None:
        return "Nothing is running."
    return "Stopping…" if job.stoppable else f"{job.what} cannot be stopped; it ends within seconds."


def end_session(request: gr.Request = None) -> None:
    """The page was closed: forget the session's data and remove its files."""
    SESSIONS.end(_sid(request))


def build_app() -> gr.Blocks:
    public = public_mode()
    # files handed out and uploads older than an hour (public) or a day are deleted, checked every 10 min / hour
    delete_cache = (600, 3600) if public else (3600, 86400)
    with gr.Blocks(title="xlmr_demo: multilingual embeddings and classifiers", delete_cache=delete_cache) as demo:
        gr.Markdown(
            "# xlmr_demo\nTrain a multilingual text classifier from a spreadsheet, and see how a multilingual "
            "model lines up languages. Everything runs offline with the embedded model."
            + ("\n\n*Public demo: files are limited in size and deleted after reading; jobs are limited in time.*"
               if public else "")
        )  # fmt: skip
        with gr.Tab("1. Data"):
            with gr.Row():
                upload = upload_box("Labelled file (CSV, TSV, Excel, JSON Lines, Parquet)")
                with gr.Column():
                    sample = gr.Button("Use the sample data (8 languages, 6 topics)")
                    read_notes = gr.Markdown()
            # hidden until a file is read: an empty table would show numbered placeholder headers
            preview_table = gr.Dataframe(label="Preview (first 20 rows)", interactive=False, wrap=True, visible=False)
            with gr.Row():
                text_col = gr.Dropdown(label="Text column")
                label_col = gr.Dropdown(label="Label column")
                lang_col = gr.Dropdown(label="Language column")
                split_col = gr.Dropdown(label="Split column")
                group_col = gr.Dropdown(
                    label="Group column (same meaning: translations, copies)",
                    info="Rows sharing a value never straddle train and test. (none): found from the embeddings.",
                )
            check = gr.Button("Check data", variant="primary")
            report = gr.Markdown()
            counts_plot = gr.Plot(label="Rows per label and language")
            gr.Markdown(views.EXPLANATIONS["counts"])
        with gr.Tab("2. Train"):
            with gr.Row():
                model = gr.Dropdown(
                    model_choices(),
                    value=EMBEDDED_NAME,
                    allow_custom_value=not public,
                    label="Model",
                    info="'embedded' works offline; hub ids need a network"
                    + ("." if public else "; a model folder (from finetune/) works."),
                )
                head = gr.Radio(
                    [
                        ("Best of both (recommended)", "by_language"),
                        ("Neural network (MLP)", "mlp"),
                        ("Logistic regression", "logreg"),
                    ],
                    value="by_language",
                    label="Classifier head",
                    info="Best of both: the neural network for the languages in your file, "
                    "logistic regression (which carries over better) for any other language.",
                )
            cap = current_limits().finetune_minutes
            longest = int(min(MINUTES[1], cap)) if cap else MINUTES[1]
            with gr.Row():
                how = gr.Radio(
                    [("Quick: a head on the frozen model (seconds)", "quick"),
                     ("Fine-tune the whole model (minutes)", "finetune")],
                    value="quick", label="How to train",
                    info="Fine-tuning trains every layer of the model on your rows: often a few points better, "
                    "and one job at a time on this server.",
                )  # fmt: skip
                minutes = gr.Slider(
                    MINUTES[0], longest, value=min(5, longest), step=1, label="Time budget (minutes)",
                    info="fine-tuning stops in time to measure and keep its best weights", visible=False,
                )  # fmt: skip
            with gr.Accordion("Advanced", open=False):
                seed = gr.Number(
                    value=0, precision=0, minimum=0, maximum=2**32 - 1, label="Seed (same seed, same result)"
                )
            with gr.Row():
                train_button = gr.Button("Train", variant="primary", scale=3)
                finetune_button = gr.Button("Fine-tune", variant="primary", scale=3, visible=False)
                stop_train = gr.Button("Stop", variant="stop", scale=1)
            headline = gr.Markdown()
            train_status = gr.Markdown()
            comparison = gr.Markdown()  # before and after: label corrections, or the quick head and fine-tuning
            with gr.Row():
                with gr.Column():
                    report_table = gr.Dataframe(label="Per class", headers=REPORT_HEADERS, interactive=False)
                    gr.Markdown(views.EXPLANATIONS["per_class"])
                with gr.Column():
                    loss_plot = gr.Plot(label="Loss")
                    gr.Markdown(views.EXPLANATIONS["loss"])
            with gr.Row():
                with gr.Column():
                    confusion_plot = gr.Plot(label="Confusion matrix")
                    gr.Markdown(views.EXPLANATIONS["confusion"])
                with gr.Column():
                    language_plot = gr.Plot(label="Per language")
                    gr.Markdown(views.EXPLANATIONS["languages"])
            transfer_plot = gr.Plot(label="Cross-lingual transfer")
            gr.Markdown(views.EXPLANATIONS["transfer"])
            issues_table = gr.Dataframe(
                label="Suspected label errors", headers=ISSUE_HEADERS, interactive=True, wrap=True, type="array",
                static_columns=list(range(len(ISSUE_HEADERS) - 1)),  # only "your decision" can be edited
            )  # fmt: skip
            gr.Markdown(views.EXPLANATIONS["issues"])
            with gr.Row():
                retrain_button = gr.Button("Retrain with my corrections", scale=2)
                corrected_format = gr.Radio(
                    [("CSV", "csv"), ("Excel (.xlsx)", "xlsx")], value="csv", label="Corrected file as", scale=1
                )
            corrected_file = gr.File(label="Your file with the corrections")
            with gr.Row():
                download = gr.File(label="Download the classifier (.zip: safetensors + JSON)")
                with gr.Column():
                    report_button = gr.Button("Make a report to share (HTML)")
                    report_file = gr.File(label="Report: one page, opens offline")
        with gr.Tab("3. Predict"):
            with gr.Row():
                with gr.Column():
                    one_text = gr.Textbox(label="Text in any language", lines=3)
                    gr.Examples(PREDICT_EXAMPLES, inputs=one_text)
                    predict_button = gr.Button("Predict", variant="primary")
                with gr.Column():
                    probabilities = gr.Label(label="Probabilities", num_top_classes=6)
                    verdict = gr.Markdown()
            with gr.Row():
                with gr.Column():
                    file_format = gr.Radio(
                        [("CSV", "csv"), ("Excel (.xlsx)", "xlsx")], value="csv", label="Download the predictions as",
                        info="choose before uploading; Excel keeps every cell as text",
                    )  # fmt: skip
                    to_predict = upload_box("Predict a whole file")
                predictions = gr.File(label="Predictions")
            with gr.Row():
                predict_status = gr.Markdown()
                stop_predict = gr.Button("Stop", variant="stop")
            prediction_rows = gr.Dataframe(label="First predicted rows", interactive=False, wrap=True, visible=False)
            with gr.Accordion("Use a saved classifier", open=False):
                head_zip = upload_box("Classifier .zip from the Train tab")
                head_status = gr.Markdown()
        with gr.Tab("4. Explore"):
            with gr.Row():
                method = gr.Radio(["auto", "tsne", "umap", "pca"], value="auto", label="Projection")
                dims = gr.Radio(["2", "3"], value="2", label="Dimensions")
                color = gr.Dropdown(
                    ["language"], value="language", label="Colour by", info="language, or a column of categories"
                )
                center = gr.Checkbox(
                    value=True,
                    label="Group by meaning, not language",
                    info="takes out what each language has in common",
                )
            map_languages = gr.Dropdown(
                [], value=[], multiselect=True, label="Languages to show",
                info="none chosen: every language (the list fills once a file is read or a map drawn)",
            )  # fmt: skip
            with gr.Row():
                map_button = gr.Button("Draw the map", variant="primary", scale=3)
                stop_map = gr.Button("Stop", variant="stop", scale=1)
            findings = gr.Markdown()
            map_plot = gr.Plot(label="Embedding map")
            gr.Markdown(views.EXPLANATIONS["map"])
            with gr.Row():
                new_text = gr.Textbox(label="Place a text on the map (any language)", scale=3)
                place_button = gr.Button("Place it", scale=1)
            neighbours_table = gr.Dataframe(
                label="Its nearest texts on the map, across languages", headers=NEIGHBOUR_HEADERS, interactive=False,
                wrap=True,
            )  # fmt: skip
            centroid_plot = gr.Plot(label="Language centroids")
            gr.Markdown(views.EXPLANATIONS["centroids"])
            with gr.Accordion("Before and after fine-tuning", open=False):
                gr.Markdown(views.EXPLANATIONS["tuning_maps"])
                tuning_button = gr.Button("Map the test rows with both models (after fine-tuning in the Train tab)")
                tuning_findings = gr.Markdown()
                with gr.Row():
                    before_plot = gr.Plot(label="Before fine-tuning")
                    after_plot = gr.Plot(label="After fine-tuning")
        with gr.Tab("5. Entities"):
            gr.Markdown(
                "Teach the model to find names of people, places, organisations (or your own entity types) in any "
                "language: upload sentences with their entities, fine-tune, then type a sentence to see them found."
            )
            with gr.Row():
                entity_file = upload_box(
                    "Sentences with their entities: CoNLL/IOB2 (a word and its tag a line, e.g. WikiANN) or JSON "
                    "Lines with character spans"
                )
                other_file = upload_box("Optional: another language's file, measured zero-shot")
            with gr.Row():
                entity_model = gr.Dropdown(
                    model_choices(), value=EMBEDDED_NAME, allow_custom_value=not public, label="Model"
                )
                entity_minutes = gr.Slider(
                    MINUTES[0], longest, value=min(5, longest), step=1, label="Time budget (minutes)",
                    info="one fine-tuning job at a time on this server",
                )  # fmt: skip
            with gr.Row():
                entity_button = gr.Button("Fine-tune for entities", variant="primary", scale=3)
                stop_entities = gr.Button("Stop", variant="stop", scale=1)
            entity_headline = gr.Markdown()
            entity_status = gr.Markdown()
            with gr.Row():
                with gr.Column():
                    entity_table = gr.Dataframe(
                        label="Per entity type (held-out sentences)", headers=views.ENTITY_HEADERS, interactive=False
                    )
                with gr.Column():
                    entity_languages = gr.Plot(label="Per language")
                    gr.Markdown(views.EXPLANATIONS["entity_languages"])
            with gr.Row():
                with gr.Column():
                    entity_text = gr.Textbox(label="A sentence in any language", lines=2)
                    gr.Examples(ENTITY_EXAMPLES, inputs=entity_text)
                    entity_find = gr.Button("Find entities")
                found = gr.HighlightedText(label="Entities found", combine_adjacent=False)
            with gr.Row():
                with gr.Column():
                    entity_curve = gr.Plot(label="Fine-tuning")
                    gr.Markdown(views.EXPLANATIONS["loss"])
                with gr.Accordion("Reports (as CoNLL's and the seed article's)", open=False):
                    entity_report = gr.Markdown()
        with gr.Tab("Compare sentences"), gr.Row():
            with gr.Column(scale=2):
                sentences = gr.Textbox(label="Sentences, one per line, in any languages", value=EXAMPLE, lines=12)
                compare_model = gr.Dropdown(
                    model_choices(), value=EMBEDDED_NAME, allow_custom_value=not public, label="Model"
                )
                run = gr.Button("Compare", variant="primary")
            with gr.Column(scale=3):
                heatmap = gr.Plot(label="Cosine similarity")
                gr.Markdown(views.EXPLANATIONS["compare"])
                pairs = gr.Markdown()

        columns = list(
            FileViews(
                preview_table, read_notes, text_col, label_col, lang_col, split_col, group_col, color, map_languages
            )
        )
        upload.upload(load_file, [upload], columns, api_name="load_file")
        sample.click(load_sample, None, columns, api_name=False)
        check.click(
            check_data,
            [text_col, label_col, lang_col, split_col, group_col],
            [report, counts_plot],
            api_name="check_data",
        )
        heavy = {"concurrency_id": HEAVY, "concurrency_limit": 2}
        train_views = TrainViews(
            headline=headline, status=train_status, per_class=report_table, confusion=confusion_plot,
            languages=language_plot, transfer=transfer_plot, loss=loss_plot, issues=issues_table, download=download,
            comparison=comparison, corrected=corrected_file, data_report=report,
        )  # fmt: skip
        training = train_button.click(
            train,
            [model, head, seed],
            list(train_views),
            api_name="train",
            **heavy,
        )
        retraining = retrain_button.click(
            retrain, [issues_table, model, head, seed, corrected_format], list(train_views), api_name="retrain",
            **heavy,
        )  # fmt: skip
        # one fine-tuning job at a time for the whole server: the others wait in the queue, their place shown
        finetune_button.click(
            finetune, [model, minutes, seed], list(train_views), api_name="finetune", concurrency_id=FINE_TUNING,
            concurrency_limit=1,
        )  # fmt: skip
        how.change(
            _training_mode, how, [head, train_button, minutes, finetune_button], api_name=False, queue=False,
            show_progress="hidden",
        )  # fmt: skip
        # Stop skips the queue: it must work while the visitor's own requests fill it. Fine-tuning is not
        # cancelled but told to stop: it then measures and shows its best weights so far.
        stop_train.click(
            stop_training, None, train_status, cancels=[training, retraining], api_name="stop", queue=False
        )
        report_button.click(training_report, None, report_file, api_name="report")
        predict_button.click(predict_text, [one_text], [probabilities, verdict], api_name="predict")
        predicting = to_predict.upload(
            predict_upload, [to_predict, file_format],
            list(FilePredictionViews(file=predictions, preview=prediction_rows, summary=predict_status)),
            api_name="predict_file", **heavy,
        )  # fmt: skip
        stop_predict.click(stop_job, None, predict_status, cancels=[predicting], api_name=False, queue=False)
        head_zip.upload(load_head, [head_zip], [head_status], api_name="load_head")
        mapping = map_button.click(
            embedding_map, [method, dims, color, center, map_languages],
            list(MapViews(map=map_plot, findings=findings, centroids=centroid_plot, languages=map_languages)),
            api_name="embedding_map", **heavy,
        )  # fmt: skip
        stop_map.click(stop_job, None, findings, cancels=[mapping], api_name=False, queue=False)
        place_button.click(place_on_map, [new_text], [map_plot, neighbours_table], api_name="place_on_map")
        tuning_button.click(
            compare_maps,
            [method, dims],
            list(TuningMapViews(before_plot, after_plot, tuning_findings)),
            api_name="compare_maps",
            **heavy,
        )
        entity_views = EntityViews(
            headline=entity_headline, status=entity_status, per_type=entity_table, languages=entity_languages,
            curve=entity_curve, report=entity_report,
        )  # fmt: skip
        entity_button.click(
            train_entities, [entity_file, other_file, entity_model, entity_minutes, seed], list(entity_views),
            api_name="train_entities", concurrency_id=FINE_TUNING, concurrency_limit=1,
        )  # fmt: skip
        stop_entities.click(stop_training, None, entity_status, api_name=False, queue=False)
        entity_find.click(find_entities, [entity_text], [found], api_name="entities")
        run.click(compare, [sentences, compare_model], [heatmap, pairs], api_name="compare")
        demo.unload(end_session)
    return demo


def _warm_up() -> None:
    """Load the embedded model in the background so the first click does not wait for it."""
    with contextlib.suppress(Exception):  # a failed warm-up must not kill the server; the click reports it
        similarity(["warm up", "préchauffage"])


def launch() -> None:
    """Serve the app as configured by the environment (limits, public mode, GRADIO_SERVER_NAME/PORT)."""
    from starlette.middleware import Middleware

    bound = current_limits()
    public = public_mode()
    SESSIONS.claim()  # and remove the files a crashed or restarted server left
    threading.Thread(target=_warm_up, daemon=True).start()
    demo = build_app().queue(default_concurrency_limit=2, max_size=64 if public else None)

    def events() -> list:
        return list(getattr(getattr(demo, "_queue", None), "event_ids_to_events", {}).values())  # queued, running

    def waiting(session: str) -> int:
        return sum(getattr(e, "session_hash", None) == session for e in events())

    def in_use() -> set[Path]:
        """Uploads that requests in the queue name: a file to predict may wait minutes for a heavy worker."""
        paths, stack = set(), [getattr(getattr(e, "data", None), "data", None) for e in events()]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                if isinstance(item.get("path"), str):
                    paths.add(Path(item["path"]).resolve())
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
        return paths

    SESSIONS.waiting = waiting  # a visitor waiting in the queue is not idle
    idle = bound.session_idle_minutes
    # idle sessions go within their limit + 10 s, uploads once read within their grace + 10 s, and
    # uploads nobody used after the idle time too
    orphans = (functools.partial(sweep_orphan_uploads, 60 * idle, in_use),) if idle else ()
    SESSIONS.sweep_every(min(10.0, 30 * idle) if idle else 10.0, functools.partial(reap_uploads, in_use), *orphans)
    # a body may hold one upload (or a 20 MB paste); deep links and recordings write a visitor's data to disk
    guard = Middleware(
        Guard, closed=UNUSED_ROUTES, max_body=(bound.upload_mb + 1) * 2**20, waiting=waiting,
        requests_per_minute=bound.visitor_requests or 10**9, bytes_per_minute=(bound.visitor_mb or 10**9) * 2**20,
    )  # fmt: skip
    # server name and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (default 127.0.0.1:7860)
    # run history would let a visitor connect a bucket for the server to read and write on their behalf
    demo.launch(
        max_file_size=f"{bound.upload_mb}mb", app_kwargs={"middleware": [guard] if public else []},
        run_history=not public,
    )  # fmt: skip


if __name__ == "__main__":
    launch()
