"""The callbacks of the Data, Predict, Explore, Entities and Compare tabs.

Plain functions of the page's inputs (and the visitor's session) that return what the page shows.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import gradio as gr

from .. import views, zerogpu
from ..cache import cache_scope
from ..compare import parse_sentences, similarity
from ..dataset import several_labels
from ..errors import UserError
from ..limits import current as current_limits
from ..limits import over_limit
from ..progress import Step
from ..sessions import Session
from ..views import cell, table_rows
from .outputs import EntityViews, FilePredictionViews, FileViews, MapViews, TuningMapViews
from .runner import progress_bar, run_job
from .training import ENTITY_TUNING, MEASURING_SECONDS, LiveCurve, finetune_minutes
from .uploads import consumed
from .visitors import model_name, need, parse_seed, task, user_errors

SAMPLE = Path(__file__).resolve().parents[2] / "assets" / "sample_parallel.csv"  # the repository's sample


@user_errors
def compare(sentences: str, model: str, request: gr.Request = None):
    """Callback of "Compare": sentences (one per line) -> heatmap and the closest pairs."""

    with task(request, "Comparing") as (session, _), cache_scope(session.cache):
        return views.compare_views(similarity(parse_sentences(sentences or ""), model=model_name(model)))


def column_choices(columns: list[str], value: str | None, optional: bool = False):
    options = (["(none)"] if optional else []) + columns
    return gr.update(choices=options, value=value if value else ("(none)" if optional else None))


@user_errors
def load_file(path: str | None, request: gr.Request = None):
    """Read an upload (or the sample): preview and the detected columns."""
    from ..columns import detect_columns
    from ..readers import read_table

    if not path:
        raise UserError("Choose a file first (CSV, TSV, Excel, JSON Lines or Parquet), or load the sample.")
    with consumed(path), task(request, "Reading the file") as (session, _):
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
        several = guess[1] is not None and several_labels(table.column(guess[1])) is not None
        languages = views.language_choices(table.column(guess[2])) if guess[2] else []
    notes = "\n".join(f"- ℹ️ {n}" for n in table.notes) or f"Read **{cell(name, 80)}**: {len(table)} rows."
    if len(table.columns) > len(header):
        notes += f"\n- The preview shows the first {len(header)} of {len(table.columns):,} columns."
    return FileViews(
        preview=gr.Dataframe(value={"headers": header, "data": rows}, visible=True),
        notes=notes,
        text_column=column_choices(table.columns, guess[0]),
        label_column=column_choices(table.columns, guess[1]),
        language_column=column_choices(table.columns, guess[2], optional=True),
        split_column=column_choices(table.columns, guess[3], optional=True),
        group_column=column_choices(table.columns, pair, optional=True),
        several_labels=several,
        colour=gr.update(choices=colours, value="language"),
        languages=gr.update(choices=languages, value=[]),
    )


def load_sample(request: gr.Request = None):
    """The "Use the sample data" button: :func:`load_file` on ``assets/sample_parallel.csv``."""
    return load_file(str(SAMPLE), request)


def none_chosen(value: str | None) -> str | None:
    return None if value in (None, "", "(none)") else value


@user_errors
def check_data(
    text: str, label: str, language: str, split: str, group: str | None = None, several: bool = False,
    request: gr.Request = None,
):  # fmt: skip
    """Validate the table with the chosen columns: report and label x language chart. ``group``: the column of
    meaning ids ("(none)": translations and near-copies are found from the embeddings when training);
    ``several``: the label cells hold several labels each (the separator is detected)."""
    from ..dataset import DataConfig, prepare_dataset

    with task(request, "Checking the data") as (session, _):
        table = need(session.table, session, "Load a file first.")
        session.result = None  # it measured the data as checked before (the classifier stays for predictions)
        session.dataset = prepare_dataset(
            table,
            session.table_name,
            text_column=none_chosen(text),
            label_column=none_chosen(label),
            language_column=none_chosen(language),
            split_column=none_chosen(split),
            group_column=none_chosen(group),
            config=DataConfig(label_separator="auto" if several is True else None),
        )
        return views.dataset_report(session.dataset), views.counts_figure(session.dataset)


@user_errors
def load_head(archive: str | None, request: gr.Request = None):
    """Use a classifier .zip downloaded from the Train tab (read in memory, never unpacked)."""
    from ..classifier import TunedWeightsClassifier, load_archive

    if not archive:
        raise UserError("Choose a classifier .zip first.")
    with consumed(archive), task(request, "Loading the classifier") as (session, _):
        session.classifier = load_archive(archive)
        labels = ", ".join(cell(c, 40) for c in session.classifier.classes_[:30])
    if isinstance(session.classifier, TunedWeightsClassifier):
        return f"Loaded a fine-tuned classifier (base model {session.classifier.base.name}) for: {labels}."
    return f"Loaded a classifier for: {labels}."


@user_errors
def predict_text(text: str, request: gr.Request = None):
    """Probabilities of every label for one text, and a word when the prediction is a guess."""
    from ..predict import not_sure_note

    if not text or not text.strip():
        raise UserError("Type a text to classify.")
    with task(request, "Predicting") as (session, _), cache_scope(session.cache):
        classifier = need(session.classifier, session, "Train a classifier (Train tab) or load a saved one first.")
        scores = dict(classifier.scores(text))
        if classifier.multi_label:  # the answer is every label over its threshold: those are what the box shows
            labels = classifier.predict_sets([text])[0]
            others = ", ".join(f"{c} {p:.0%}" for c, p in scores.items() if c not in labels)
            if not labels:
                return scores, f"**No label** is over its threshold. Each label's own probability: {others}."
            return {c: scores[c] for c in labels}, (
                f"**Labels:** {', '.join(labels)} (each over its own threshold). The others: {others}."
            )
    return scores, not_sure_note(list(scores.values()))


@user_errors
def predict_upload(path: str | None, file_format: str = "csv", request: gr.Request = None, progress=gr.Progress()):
    """Predict every row of an uploaded file: the CSV (or Excel file), its first rows and what to know about them."""
    from ..predict import predict_table
    from ..readers import read_table
    from ..writers import neutralised_cells, write_table

    if not path:
        raise UserError("Choose a file to predict first.")
    excel = file_format == "xlsx"

    def work(session: Session, job, update):
        with consumed(path):
            table = read_table(path)
        classifier = need(session.classifier, session, "Train a classifier (Train tab) or load a saved one first.")
        predictions = predict_table(classifier, table, progress=job.progress)
        suffix = ".xlsx" if excel else ".csv"
        out = write_table(predictions.table, session.new_file(f"{Path(path).stem[:60]}_predictions{suffix}"))
        return predictions, out

    report = progress_bar(progress)
    with consumed(path):  # also when the job is refused or stopped before it reads the file
        predictions, out = yield from run_job(request, "Predicting the file", work, FilePredictionViews, report)
    header, rows = views.prediction_preview(predictions)
    yield FilePredictionViews(
        file=str(out),
        preview=gr.Dataframe(value={"headers": header, "data": rows}, visible=True),
        summary=views.prediction_summary(predictions, 0 if excel else neutralised_cells(predictions.table), excel),
    )


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
    budget, model, seed = finetune_minutes(minutes), model_name(model), parse_seed(seed)
    uploads = [p for p in (path, other_path) if p]

    def work(session: Session, job, update):
        with contextlib.ExitStack() as stack:
            for upload in uploads:
                stack.enter_context(consumed(upload))
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
        seconds = budget * 60 + MEASURING_SECONDS  # on a ZeroGPU Space, on a GPU borrowed for that long
        session.entities = zerogpu.call(
            finetune_entities, corpus, other, model, budget, seed, seconds=seconds, progress=report
        )
        return session.entities

    live = LiveCurve("entity F1")

    def show(step: Step) -> EntityViews | None:
        shown = live.add(step)
        return EntityViews(curve=shown[0], status=shown[1]) if shown else None

    yield EntityViews(status=f"Reading your file, then fine-tuning within {budget:g} min.")
    with contextlib.ExitStack() as stack:  # also when the job is refused or stopped before it reads the files
        for upload in uploads:
            stack.enter_context(consumed(upload))
        result = yield from run_job(
            request, ENTITY_TUNING, work, EntityViews, progress_bar(progress), show, extra_seconds=budget * 60
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
    with task(request, "Finding entities") as (session, _):
        result = need(session.entities, session, "Fine-tune for entities first (the button above).")
        return views.highlighted(text, result.tagger.entities(text))


def loaded_rows(session: Session):
    """The rows of the visitor's loaded file (the sample when none), their columns detected: what the Explore and
    Inside tabs read."""
    from ..maps import map_data_from_table
    from ..readers import read_table

    if session.table is not None:
        return map_data_from_table(session.table, session.table_name)
    return map_data_from_table(read_table(SAMPLE), SAMPLE.name)


@user_errors
def embedding_map(
    method: str, dims: str, color: str, center: bool, languages: list[str] | None = None, clusters: bool = False,
    how_many: float | None = 0, names_language: str | None = "en", request: gr.Request = None,
    progress=gr.Progress(),
):  # fmt: skip
    """Map the loaded data (or the sample), only ``languages`` if any are chosen: figure, findings, centroids; with
    ``clusters``, named clusters (``how_many``, 0 for as many as the rows suggest) named in ``names_language``."""
    from ..maps import build_map
    from ..projection import ProjectionConfig

    config = ProjectionConfig(
        method=method if method in ("auto", "tsne", "umap", "pca") else "auto", dims=3 if str(dims) == "3" else 2,
        center_languages=bool(center),
    )  # fmt: skip

    def work(session: Session, job, update):
        data = loaded_rows(session)
        offered = views.language_choices(data.languages)
        data = data.keep_languages([str(v) for v in languages or []])
        session.map = build_map(
            data, config=config, color=(color or "language").strip(), progress=job.progress,
            clusters=count, names_language=(names_language or "en").strip(),
        )  # fmt: skip
        session.map_table = session.table
        return session.map, offered

    count = (how_many or "auto") if clusters else None  # checked by build_map before any work
    result, offered = yield from run_job(request, "Drawing the map", work, MapViews, progress_bar(progress))
    findings = "\n".join(f"- {line}" for line in views.summary_lines(result))
    cluster_rows = None
    if result.clusters is not None:
        headers, rows = result.clusters.table()
        cluster_rows = {"headers": headers, "data": table_rows(rows)}
    yield MapViews(
        map=views.map_figure(result),
        findings=findings,
        centroids=views.centroid_figure(result),
        languages=gr.update(choices=offered),
        clusters=gr.update(value=cluster_rows, visible=cluster_rows is not None),
        names_language=gr.update(choices=offered),
    )


@user_errors
def compare_maps(method: str, dims: str, request: gr.Request = None, progress=gr.Progress()):
    """Explore's "Before and after fine-tuning": the test rows mapped by the model as it came and as fine-tuned."""
    from ..classifier import TunedWeightsClassifier
    from ..maps import before_after_maps
    from ..projection import ProjectionConfig

    config = ProjectionConfig(
        method=method if method in ("auto", "tsne", "umap", "pca") else "auto", dims=3 if str(dims) == "3" else 2
    )

    def work(session: Session, job, update):
        result = session.result
        if result is None or not result.fine_tuned or session.dataset is None:
            raise UserError("Fine-tune the whole model first (Train tab, How to train: Fine-tune the whole model).")
        tuned = result.classifier
        if not isinstance(tuned, TunedWeightsClassifier):
            raise UserError("Fine-tuning kept its starting point (the model as it came), so both maps would be one.")
        return before_after_maps(session.dataset, tuned.base, tuned.encoder, config, progress=job.progress)

    maps = yield from run_job(request, "Drawing the maps", work, TuningMapViews, progress_bar(progress))
    before, after = maps
    yield TuningMapViews(views.map_figure(before), views.map_figure(after), views.tuning_change(before, after))


@user_errors
def place_on_map(text: str, request: gr.Request = None):
    """Put a typed text on the current map; list its nearest mapped texts in any language."""
    from ..maps import place_text

    with task(request, "Placing the text") as (session, _), cache_scope(session.cache):
        result = need(session.map, session, "Draw the map first.")
        placement = place_text(result, text)
        columns = list(placement.neighbours[0])
        rows = table_rows([[n[c] for c in columns] for n in placement.neighbours])
        return views.with_placement(result, text, placement), {"headers": columns, "data": rows}
