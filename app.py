"""xlmr_demo web app. Run ``python app.py`` and open http://127.0.0.1:7860.

This file only builds and wires the page; the work happens in ``xlmr_demo`` functions that take
and return plain data (``xlmr_demo.views`` turns results into what the page shows). Heavy imports
(torch, transformers, umap) load in a background thread after the page is up, so the app starts in
seconds. Each browser session keeps its own data and classifier in ``gr.State``.
"""

from __future__ import annotations

import contextlib
import functools
import queue
import tempfile
import threading
from pathlib import Path

import gradio as gr

from xlmr_demo.compare import parse_sentences, similarity
from xlmr_demo.embedded import EMBEDDED_NAME
from xlmr_demo.errors import UserError
from xlmr_demo.plots import similarity_heatmap

MODEL_CHOICES = [EMBEDDED_NAME, "xlm-roberta-base", "sentence-transformers/LaBSE"]
SAMPLE = Path(__file__).parent / "assets" / "sample_parallel.csv"
MAX_UPLOAD = "50mb"
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


def user_errors(fn):
    """Show UserError messages in the page instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            raise gr.Error(str(exc)) from exc

    return wrapper


@user_errors
def compare(sentences: str, model: str):
    """Callback of "Compare": sentences (one per line) -> heatmap and the closest pairs."""
    result = similarity(parse_sentences(sentences), model=(model or EMBEDDED_NAME).strip())
    pairs = "\n".join(f"| {a} | {b} | {s:.3f} |" for a, b, s in result.most_similar_pairs(5))
    table = "**Most similar pairs**\n\n| sentence | sentence | cosine |\n|---|---|---|\n" + pairs
    return similarity_heatmap(result.matrix, result.texts), table


def _choices(columns: list[str], value: str | None, optional: bool = False):
    options = (["(none)"] if optional else []) + columns
    return gr.update(choices=options, value=value if value else ("(none)" if optional else None))


@user_errors
def load_file(path: str | None, state: dict):
    """Read an upload (or the sample): preview and the detected columns."""
    from xlmr_demo.dataset import detect_columns
    from xlmr_demo.tables import read_table
    from xlmr_demo.views import preview

    if not path:
        raise UserError("Choose a file first (CSV, TSV, Excel, JSON Lines or Parquet), or load the sample.")
    table = read_table(path)
    name = Path(path).name
    header, rows = preview(table)
    try:
        mapping = detect_columns(table, name)
        guess = (mapping.text, mapping.label, mapping.language, mapping.split)
    except UserError:
        guess = (None, None, None, None)
    state = {"table": table, "name": name}
    notes = "\n".join(f"- ℹ️ {n}" for n in table.notes) or f"Read **{name}**: {len(table)} rows."
    return (
        state,
        {"headers": header, "data": rows},
        notes,
        _choices(table.columns, guess[0]),
        _choices(table.columns, guess[1]),
        _choices(table.columns, guess[2], optional=True),
        _choices(table.columns, guess[3], optional=True),
    )


def _none(value: str | None) -> str | None:
    return None if value in (None, "", "(none)") else value


@user_errors
def check_data(state: dict, text: str, label: str, language: str, split: str):
    """Validate the table with the chosen columns: report and label x language chart."""
    from xlmr_demo.dataset import prepare_dataset
    from xlmr_demo.views import counts_figure, dataset_report

    if not state or "table" not in state:
        raise UserError("Load a file first.")
    dataset = prepare_dataset(
        state["table"],
        state["name"],
        text_column=_none(text),
        label_column=_none(label),
        language_column=_none(language),
        split_column=_none(split),
    )
    state = {**state, "dataset": dataset}
    return state, dataset_report(dataset), counts_figure(dataset)


def train(state: dict, model: str, head: str, seed: float, progress=gr.Progress()):
    """Train on the checked data, streaming the loss curve; then every result view and the head."""
    from xlmr_demo.classifier import train_classifier
    from xlmr_demo.heads import HeadConfig
    from xlmr_demo.plots import loss_curve
    from xlmr_demo.views import head_archive, headline, issue_rows, report_rows, result_figures

    if not state or "dataset" not in state:
        raise gr.Error("Check your data in the Data tab first.")
    updates: queue.Queue = queue.Queue()
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["result"] = train_classifier(
                state["dataset"],
                (model or EMBEDDED_NAME).strip(),
                HeadConfig(kind=head, seed=int(seed)),
                progress=lambda stage, fraction: progress(fraction, desc=stage),
                on_epoch=lambda epoch, epochs, tr, va: updates.put((tr, va)),
            )
        except Exception as exc:  # handed to the page below
            outcome["error"] = exc
        finally:
            updates.put(None)

    threading.Thread(target=work, daemon=True).start()
    train_loss: list[float] = []
    validation_loss: list[float] = []
    while (item := updates.get()) is not None:
        train_loss.append(item[0])
        if item[1] is not None:
            validation_loss.append(item[1])
        if len(train_loss) % 5 == 1:  # a fresh figure every 5 epochs keeps the page responsive
            yield (gr.skip(),) * 6 + (loss_curve(train_loss, validation_loss),) + (gr.skip(),) * 2
    if "error" in outcome:
        error = outcome["error"]
        raise gr.Error(str(error)) if isinstance(error, UserError) else error
    result = outcome["result"]
    figures = result_figures(result)
    archive = head_archive(result, Path(tempfile.mkdtemp(prefix="xlmr_train_")))
    header, rows = report_rows(result)
    issues_header, issues = issue_rows(result)
    yield (
        {**state, "result": result, "classifier": result.classifier},
        headline(result),
        {"headers": header, "data": rows},
        figures["confusion"],
        figures["languages"],
        figures["transfer"],
        figures["loss"],
        {"headers": issues_header, "data": issues},
        str(archive),
    )


@user_errors
def load_head(archive: str | None, state: dict):
    from xlmr_demo.classifier import Classifier
    from xlmr_demo.views import unpack_head

    if not archive:
        raise UserError("Choose a classifier .zip first.")
    classifier = Classifier.load(unpack_head(archive))
    return {**(state or {}), "classifier": classifier}, f"Loaded a classifier for: {', '.join(classifier.classes_)}."


def _classifier(state: dict):
    if not state or "classifier" not in state:
        raise UserError("Train a classifier (Train tab) or load a saved one first.")
    return state["classifier"]


@user_errors
def predict_text(text: str, state: dict):
    """Probabilities of every label for one text."""
    if not text or not text.strip():
        raise UserError("Type a text to classify.")
    return dict(_classifier(state).scores(text))


@user_errors
def predict_upload(path: str | None, state: dict, progress=gr.Progress()):
    """Predict every row of an uploaded file; return the CSV to download."""
    from xlmr_demo.predict import predict_file

    if not path:
        raise UserError("Choose a file to predict first.")
    out = Path(tempfile.mkdtemp(prefix="xlmr_pred_")) / f"{Path(path).stem}_predictions.csv"
    predict_file(_classifier(state), path, out, progress=lambda stage, fraction: progress(fraction, desc=stage))
    return str(out)


@user_errors
def embedding_map(state: dict, method: str, dims: str, color: str, center: bool, progress=gr.Progress()):
    """Map the loaded data (or the sample): figure, findings and centroid heatmap."""
    from xlmr_demo.maps import build_map, map_data_from_table, summary_lines
    from xlmr_demo.projection import ProjectionConfig
    from xlmr_demo.tables import read_table

    if state and "table" in state:
        table, name = state["table"], state["name"]
    else:
        table, name = read_table(SAMPLE), SAMPLE.name
    data = map_data_from_table(table, name)
    config = ProjectionConfig(method=method, dims=int(dims), center_languages=bool(center))
    result = build_map(
        data, config=config, color=color or "language", progress=lambda stage, fraction: progress(fraction, desc=stage)
    )
    findings = "\n".join(f"- {line}" for line in summary_lines(result))
    return {**(state or {}), "map": result}, result.figure, findings, result.centroid_figure


@user_errors
def place_on_map(text: str, state: dict):
    """Put a typed text on the current map; list its nearest mapped texts in any language."""
    from xlmr_demo.maps import place_text, with_placement

    if not state or "map" not in state:
        raise UserError("Draw the map first.")
    result = state["map"]
    placement = place_text(result, text)
    columns = list(placement.neighbours[0])
    rows = [[n[c] for c in columns] for n in placement.neighbours]
    return with_placement(result, text, placement), {"headers": columns, "data": rows}


def build_app() -> gr.Blocks:
    # uploaded and generated files older than a day are deleted, checked every hour
    with gr.Blocks(title="xlmr_demo: multilingual embeddings and classifiers", delete_cache=(3600, 86400)) as demo:
        state = gr.State({})
        gr.Markdown(
            "# xlmr_demo\nTrain a multilingual text classifier from a spreadsheet, and see how a multilingual "
            "model lines up languages. Everything runs offline with the embedded model."
        )
        with gr.Tab("1. Data"):
            with gr.Row():
                upload = gr.File(label="Labelled file (CSV, TSV, Excel, JSON Lines, Parquet)", type="filepath")
                with gr.Column():
                    sample = gr.Button("Use the sample data (8 languages, 6 topics)")
                    read_notes = gr.Markdown()
            preview_table = gr.Dataframe(label="Preview (first 20 rows)", interactive=False, wrap=True)
            with gr.Row():
                text_col = gr.Dropdown(label="Text column")
                label_col = gr.Dropdown(label="Label column")
                lang_col = gr.Dropdown(label="Language column")
                split_col = gr.Dropdown(label="Split column")
            check = gr.Button("Check data", variant="primary")
            report = gr.Markdown()
            counts_plot = gr.Plot(label="Rows per label and language")
        with gr.Tab("2. Train"):
            with gr.Row():
                model = gr.Dropdown(
                    MODEL_CHOICES,
                    value=EMBEDDED_NAME,
                    allow_custom_value=True,
                    label="Model",
                    info="'embedded' works offline; hub ids need a network; a model folder (from finetune/) works.",
                )
                head = gr.Radio(["mlp", "logreg"], value="mlp", label="Classifier head")
            with gr.Accordion("Advanced", open=False):
                seed = gr.Number(value=0, precision=0, label="Seed (same seed, same result)")
            train_button = gr.Button("Train", variant="primary")
            headline = gr.Markdown()
            with gr.Row():
                report_table = gr.Dataframe(label="Per class", interactive=False)
                loss_plot = gr.Plot(label="Loss")
            with gr.Row():
                confusion_plot = gr.Plot(label="Confusion matrix")
                language_plot = gr.Plot(label="Per language")
            transfer_plot = gr.Plot(label="Cross-lingual transfer")
            issues_table = gr.Dataframe(
                label="Suspected label errors (the model disagrees confidently)", interactive=False, wrap=True
            )
            download = gr.File(label="Download the classifier (.zip: safetensors + JSON)")
        with gr.Tab("3. Predict"):
            with gr.Row():
                with gr.Column():
                    one_text = gr.Textbox(label="Text in any language", lines=3)
                    gr.Examples(PREDICT_EXAMPLES, inputs=one_text)
                    predict_button = gr.Button("Predict", variant="primary")
                probabilities = gr.Label(label="Probabilities", num_top_classes=6)
            with gr.Row():
                to_predict = gr.File(label="Predict a whole file", type="filepath")
                predictions = gr.File(label="Predictions (CSV)")
            with gr.Accordion("Use a saved classifier", open=False):
                head_zip = gr.File(label="Classifier .zip from the Train tab", type="filepath")
                head_status = gr.Markdown()
        with gr.Tab("4. Explore"):
            with gr.Row():
                method = gr.Radio(["auto", "tsne", "umap", "pca"], value="auto", label="Projection")
                dims = gr.Radio(["2", "3"], value="2", label="Dimensions")
                color = gr.Textbox(value="language", label="Colour by (language or a column name)")
                center = gr.Checkbox(value=True, label="Remove language identity")
            map_button = gr.Button("Draw the map", variant="primary")
            findings = gr.Markdown()
            map_plot = gr.Plot(label="Embedding map")
            with gr.Row():
                new_text = gr.Textbox(label="Place a text on the map (any language)", scale=3)
                place_button = gr.Button("Place it", scale=1)
            neighbours_table = gr.Dataframe(
                label="Its nearest texts on the map, across languages", interactive=False, wrap=True
            )
            centroid_plot = gr.Plot(label="Language centroids")
        with gr.Tab("Compare sentences"), gr.Row():
            with gr.Column(scale=2):
                sentences = gr.Textbox(label="Sentences, one per line, in any languages", value=EXAMPLE, lines=12)
                compare_model = gr.Dropdown(MODEL_CHOICES, value=EMBEDDED_NAME, allow_custom_value=True, label="Model")
                run = gr.Button("Compare", variant="primary")
            with gr.Column(scale=3):
                heatmap = gr.Plot(label="Cosine similarity")
                pairs = gr.Markdown()

        columns = [state, preview_table, read_notes, text_col, label_col, lang_col, split_col]
        upload.upload(load_file, [upload, state], columns, api_name="load_file")
        sample.click(lambda s: load_file(str(SAMPLE), s), [state], columns, api_name=False)
        check.click(
            check_data,
            [state, text_col, label_col, lang_col, split_col],
            [state, report, counts_plot],
            api_name="check_data",
        )
        train_button.click(
            train,
            [state, model, head, seed],
            [
                state,
                headline,
                report_table,
                confusion_plot,
                language_plot,
                transfer_plot,
                loss_plot,
                issues_table,
                download,
            ],
            api_name="train",
        )
        predict_button.click(predict_text, [one_text, state], probabilities, api_name="predict")
        to_predict.upload(predict_upload, [to_predict, state], predictions, api_name="predict_file")
        head_zip.upload(load_head, [head_zip, state], [state, head_status], api_name="load_head")
        map_button.click(
            embedding_map,
            [state, method, dims, color, center],
            [state, map_plot, findings, centroid_plot],
            api_name="embedding_map",
        )
        place_button.click(place_on_map, [new_text, state], [map_plot, neighbours_table], api_name="place_on_map")
        run.click(compare, [sentences, compare_model], [heatmap, pairs], api_name="compare")
    return demo


def _warm_up() -> None:
    """Load the embedded model in the background so the first click does not wait for it."""
    with contextlib.suppress(Exception):  # a failed warm-up must not kill the server; the click reports it
        similarity(["warm up", "préchauffage"])


if __name__ == "__main__":
    threading.Thread(target=_warm_up, daemon=True).start()
    # server name and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (default 127.0.0.1:7860)
    build_app().queue(default_concurrency_limit=2).launch(max_file_size=MAX_UPLOAD)
