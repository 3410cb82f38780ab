"""The page: one function per tab builds its components; :func:`build_app` wires them to the callbacks."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from .. import inside_views, views
from ..limits import DEFAULT_MODELS, allowed_models, public_mode
from ..limits import current as current_limits
from ..models import EMBEDDED_NAME
from ..search import NOTHING_SELECTED
from ..views import ISSUE_HEADERS, NEIGHBOUR_HEADERS, REPORT_HEADERS
from . import callbacks, explore, inside, label_names, training
from .outputs import (
    EntityViews,
    FilePredictionViews,
    FileViews,
    LabelNameViews,
    LayerViews,
    MapViews,
    ReadingViews,
    TrainViews,
    TuningMapViews,
)
from .runner import end_session, stop_job
from .uploads import upload_box

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


def model_choices() -> list[str]:
    """The Model dropdown: the allow-list in public mode, else the suggested models."""
    return list(allowed_models()) if public_mode() else list(DEFAULT_MODELS)


class Tab(SimpleNamespace):
    """A tab's components, by name (what its events and the other tabs' events read and write)."""


def _model_dropdown(public: bool, **kwargs) -> gr.Dropdown:
    return gr.Dropdown(model_choices(), value=EMBEDDED_NAME, allow_custom_value=not public, label="Model", **kwargs)


def _budget_slider(info: str, visible: bool = True) -> gr.Slider:
    """The fine-tuning budget: the page's range, up to the server's cap (or a borrowed GPU's) if lower."""
    caps = [c for c in (current_limits().finetune_minutes, training.borrowed_minutes()) if c is not None]
    longest = int(min([training.MINUTES[1], *caps]))
    return gr.Slider(
        training.MINUTES[0], longest, value=min(5, longest), step=1, label="Time budget (minutes)", info=info,
        visible=visible,
    )  # fmt: skip


def _go_and_stop(label: str) -> tuple[gr.Button, gr.Button]:
    """A job's button and its Stop, side by side."""
    with gr.Row():
        return gr.Button(label, variant="primary", scale=3), gr.Button("Stop", variant="stop", scale=1)


def data_tab() -> Tab:
    with gr.Row():
        upload = upload_box("Labelled file (CSV, TSV, Excel, JSON Lines, Parquet)")
        with gr.Column():
            sample = gr.Button("Use the sample data (8 languages, 6 topics)")
            notes = gr.Markdown()
    # hidden until a file is read: an empty table would show numbered placeholder headers
    preview = gr.Dataframe(label="Preview (first 20 rows)", interactive=False, wrap=True, visible=False)
    with gr.Row():
        text = gr.Dropdown(label="Text column")
        label = gr.Dropdown(label="Label column")
        language = gr.Dropdown(label="Language column")
        split = gr.Dropdown(label="Split column")
        group = gr.Dropdown(
            label="Group column (same meaning: translations, copies)",
            info="Rows sharing a value never straddle train and test. (none): found from the embeddings.",
        )
    several = gr.Checkbox(
        label="Several labels per row", value=False,
        info="cells such as 'joy, surprise' (separated by , ; or |): each label is learnt as its own yes or no",
    )  # fmt: skip
    check = gr.Button("Check data", variant="primary")
    report = gr.Markdown()
    counts = gr.Plot(label="Rows per label and language")
    gr.Markdown(views.EXPLANATIONS["counts"])
    return Tab(**locals())


def train_tab(public: bool) -> Tab:
    with gr.Row():
        model = _model_dropdown(
            public, info="'embedded' works offline; hub ids need a network"
            + ("." if public else "; a model folder (from finetune/) works."),
        )  # fmt: skip
        head = gr.Radio(
            [("Recommended", "auto"), ("Best of both", "by_language"), ("Neural network (MLP)", "mlp"),
             ("Logistic regression", "logreg"), ("Class prototypes", "prototypes")],
            value="auto",
            label="Classifier head",
            info="Recommended: class prototypes (your examples and label names, nothing to train) with 32 rows per "
            "class or fewer, else best of both: the neural network for the languages in your file, logistic "
            "regression (which carries over better) for any other language.",
        )  # fmt: skip
    with gr.Row():
        how = gr.Radio(
            [("Quick: a head on the frozen model (seconds)", "quick"),
             ("Fine-tune the whole model (minutes)", "finetune")],
            value="quick", label="How to train",
            info="Fine-tuning trains every layer of the model on your rows: often a few points better, "
            "and one job at a time on this server.",
        )  # fmt: skip
        minutes = _budget_slider("fine-tuning stops in time to measure and keep its best weights", visible=False)
    with gr.Accordion("Advanced", open=False):
        seed = gr.Number(value=0, precision=0, minimum=0, maximum=2**32 - 1, label="Seed (same seed, same result)")
    with gr.Row():
        train_button = gr.Button("Train", variant="primary", scale=3)
        finetune_button = gr.Button("Fine-tune", variant="primary", scale=3, visible=False)
        stop = gr.Button("Stop", variant="stop", scale=1)
    with gr.Accordion("No labels yet? Classify from label names alone (nothing is trained)", open=False):
        with gr.Row():
            names = gr.Textbox(
                label="Labels, separated by commas, in any language", placeholder="sports, politics, health",
                info="the file loaded in the Data tab (or the sample) is classified into these",
            )  # fmt: skip
            descriptions = gr.Textbox(
                label="What each label means (optional)", lines=3, placeholder="health: medicine, illness, doctors",
                info="one line per label: 'label: a few words or a sentence'",
            )  # fmt: skip
        names_button = gr.Button("Classify from these names")
        names_headline = gr.Markdown()
        names_rows = gr.Dataframe(label="First rows", interactive=False, wrap=True, visible=False)
        names_file = gr.File(label="Every row with its label (CSV)")
    headline = gr.Markdown()
    status = gr.Markdown()
    comparison = gr.Markdown()  # before and after: label corrections, or the quick head and fine-tuning
    with gr.Row():
        with gr.Column():
            per_class = gr.Dataframe(label="Per class", headers=REPORT_HEADERS, interactive=False)
            gr.Markdown(views.EXPLANATIONS["per_class"])
        with gr.Column():
            loss = gr.Plot(label="Loss")
            gr.Markdown(views.EXPLANATIONS["loss"])
    with gr.Row():
        with gr.Column():
            confusion = gr.Plot(label="Confusion matrix")
            gr.Markdown(views.EXPLANATIONS["confusion"])
        with gr.Column():
            languages = gr.Plot(label="Per language")
            gr.Markdown(views.EXPLANATIONS["languages"])
    transfer = gr.Plot(label="Cross-lingual transfer")
    gr.Markdown(views.EXPLANATIONS["transfer"])
    more_rows = gr.Markdown()
    issues = gr.Dataframe(
        label="Suspected label errors", headers=ISSUE_HEADERS, interactive=True, wrap=True, type="array",
        static_columns=list(range(len(ISSUE_HEADERS) - 1)),  # only "your decision" can be edited
    )  # fmt: skip
    gr.Markdown(views.EXPLANATIONS["issues"])
    with gr.Row():
        retrain_button = gr.Button("Retrain with my corrections", scale=2)
        corrected_format = gr.Radio(
            [("CSV", "csv"), ("Excel (.xlsx)", "xlsx")], value="csv", label="Corrected file as", scale=1
        )
    corrected = gr.File(label="Your file with the corrections")
    with gr.Row():
        download = gr.File(label="Download the classifier (.zip: safetensors + JSON)")
        with gr.Column():
            report_button = gr.Button("Make a report to share (HTML)")
            report_file = gr.File(label="Report: one page, opens offline")
    return Tab(**locals())


def predict_tab() -> Tab:
    with gr.Row():
        with gr.Column():
            text = gr.Textbox(label="Text in any language", lines=3)
            gr.Examples(PREDICT_EXAMPLES, inputs=text)
            button = gr.Button("Predict", variant="primary")
        with gr.Column():
            probabilities = gr.Label(label="Probabilities", num_top_classes=6)
            verdict = gr.Markdown()
    with gr.Row():
        with gr.Column():
            file_format = gr.Radio(
                [("CSV", "csv"), ("Excel (.xlsx)", "xlsx")], value="csv", label="Download the predictions as",
                info="choose before uploading; Excel keeps every cell as text",
            )  # fmt: skip
            upload = upload_box("Predict a whole file")
        predictions = gr.File(label="Predictions")
    with gr.Row():
        status = gr.Markdown()
        stop = gr.Button("Stop", variant="stop")
    rows = gr.Dataframe(label="First predicted rows", interactive=False, wrap=True, visible=False)
    with gr.Accordion("Use a saved classifier", open=False):
        head_zip = upload_box("Classifier .zip from the Train tab")
        head_status = gr.Markdown()
    return Tab(**locals())


def explore_tab() -> Tab:
    with gr.Row():
        method = gr.Radio(["auto", "tsne", "umap", "pca"], value="auto", label="Projection")
        dims = gr.Radio(["2", "3"], value="2", label="Dimensions")
        color = gr.Dropdown(
            ["language", "cluster"], value="language", label="Colour by",
            info="language, found clusters, or a column of categories",
        )  # fmt: skip
        center = gr.Checkbox(
            value=True, label="Group by meaning, not language", info="takes out what each language has in common"
        )
    languages = gr.Dropdown(
        [], value=[], multiselect=True, label="Languages to show",
        info="none chosen: every language (the list fills once a file is read or a map drawn)",
    )  # fmt: skip
    with gr.Row():
        clusters = gr.Checkbox(value=False, label="Find named clusters", info="groups by meaning, named by their words")
        how_many = gr.Number(
            value=0, precision=0, minimum=0, maximum=50, label="How many clusters (0: as the rows suggest)"
        )
        names_language = gr.Dropdown(
            ["en"], value="en", allow_custom_value=True, label="Name clusters in",
            info="words of this language where a cluster has rows in it; else the file's most common language",
        )  # fmt: skip
    button, stop = _go_and_stop("Draw the map")
    findings = gr.Markdown()
    with gr.Row():
        query = gr.Textbox(label="Find on the map: words or a meaning, in any language", scale=3)
        find_button = gr.Button("Find", scale=1)
    found_words = gr.Markdown()
    map_plot = gr.Plot(label="Embedding map", elem_id=explore.MAP_ID)
    gr.Markdown(views.EXPLANATIONS["map"])
    cluster_table = gr.Dataframe(label="Named clusters", interactive=False, wrap=True, visible=False)
    found_rows = gr.Dataframe(
        label="Found rows", headers=["row", "language", "similarity", "found by", "text"], interactive=False,
        wrap=True, max_height=400,
    )  # fmt: skip
    with gr.Accordion("Selected rows: drag a box or a lasso on the map (its tools are at the top right)", open=True):
        selection = gr.Textbox(visible="hidden", elem_id=explore.SELECTION_ID, label="Selected points")
        selected_words = gr.Markdown(NOTHING_SELECTED)
        selected_rows = gr.Dataframe(
            headers=["row", "language", "text"], interactive=False, wrap=True, max_height=400, label="The selected rows"
        )
        with gr.Row():
            selected_format = gr.Radio(["csv", "xlsx"], value="csv", label="File type", scale=1)
            download_button = gr.Button("Download the selected rows", scale=1)
            selected_file = gr.File(label="Selected rows", scale=2)
        with gr.Row():
            new_label = gr.Textbox(label="Relabel these as", scale=2)
            relabel_button = gr.Button("Relabel these", scale=1)
        relabelled_words = gr.Markdown()
        relabelled_file = gr.File(label="Your file, relabelled")
    with gr.Row():
        share_button = gr.Button("Download this map as one page (works offline)")
        atlas_button = gr.Button("Download for Embedding Atlas (Parquet)")
    share_file = gr.File(label="The map to share")
    with gr.Row():
        new_text = gr.Textbox(label="Place a text on the map (any language)", scale=3)
        place_button = gr.Button("Place it", scale=1)
    neighbours = gr.Dataframe(
        label="Its nearest texts on the map, across languages", headers=NEIGHBOUR_HEADERS, interactive=False,
        wrap=True,
    )  # fmt: skip
    centroids = gr.Plot(label="Language centroids")
    gr.Markdown(views.EXPLANATIONS["centroids"])
    with gr.Accordion("Before and after fine-tuning", open=False):
        gr.Markdown(views.EXPLANATIONS["tuning_maps"])
        tuning_button = gr.Button("Map the test rows with both models (after fine-tuning in the Train tab)")
        tuning_findings = gr.Markdown()
        with gr.Row():
            before = gr.Plot(label="Before fine-tuning")
            after = gr.Plot(label="After fine-tuning")
    return Tab(**locals())


def entities_tab(public: bool) -> Tab:
    gr.Markdown(
        "Teach the model to find names of people, places, organisations (or your own entity types) in any "
        "language: upload sentences with their entities, fine-tune, then type a sentence to see them found."
    )
    with gr.Row():
        upload = upload_box(
            "Sentences with their entities: CoNLL/IOB2 (a word and its tag a line, e.g. WikiANN) or JSON "
            "Lines with character spans"
        )
        other = upload_box("Optional: another language's file, measured zero-shot")
    with gr.Row():
        model = _model_dropdown(public)
        minutes = _budget_slider("one fine-tuning job at a time on this server")
    button, stop = _go_and_stop("Fine-tune for entities")
    headline = gr.Markdown()
    status = gr.Markdown()
    with gr.Row():
        with gr.Column():
            per_type = gr.Dataframe(
                label="Per entity type (held-out sentences)", headers=views.ENTITY_HEADERS, interactive=False
            )
        with gr.Column():
            languages = gr.Plot(label="Per language")
            gr.Markdown(views.EXPLANATIONS["entity_languages"])
    with gr.Row():
        with gr.Column():
            text = gr.Textbox(label="A sentence in any language", lines=2)
            gr.Examples(ENTITY_EXAMPLES, inputs=text)
            find = gr.Button("Find entities")
        found = gr.HighlightedText(label="Entities found", combine_adjacent=False)
    with gr.Row():
        with gr.Column():
            curve = gr.Plot(label="Fine-tuning")
            gr.Markdown(views.EXPLANATIONS["loss"])
        with gr.Accordion("Reports (as CoNLL's and the seed article's)", open=False):
            report = gr.Markdown()
    return Tab(**locals())


def compare_tab(public: bool) -> Tab:
    with gr.Row():
        with gr.Column(scale=2):
            sentences = gr.Textbox(label="Sentences, one per line, in any languages", value=EXAMPLE, lines=12)
            model = _model_dropdown(public)
            button = gr.Button("Compare", variant="primary")
        with gr.Column(scale=3):
            heatmap = gr.Plot(label="Cosine similarity")
            gr.Markdown(views.EXPLANATIONS["compare"])
            pairs = gr.Markdown()
    return Tab(**locals())


PIECES_EXAMPLE = (  # written for this app
    "The cat is sleeping on the sofa. Die Katze schläft auf dem Sofa. बिल्ली सोफ़े पर सो रही है। 猫がソファで寝ている。"
)
FILL_EXAMPLES = [  # written for this app
    "Paris is the <mask> of France.",
    "Berlin ist die <mask> von Deutschland.",
    "Мы пили <mask> с лимоном.",
    "El perro está <mask> en el jardín.",
]


def inside_tab(public: bool) -> Tab:
    gr.Markdown(
        "What the model does with your text: the pieces it cuts it into, the depth at which languages meet, and "
        "the fill-the-blank game it learnt its languages from."
    )
    model = _model_dropdown(public, info="for the pieces and the layers")
    gr.Markdown("### How the model reads text")
    with gr.Row():
        text = gr.Textbox(label="Any text, in any language", value=PIECES_EXAMPLE, lines=2, scale=3)
        pieces_button = gr.Button("Show the pieces", scale=1)
    pieces = gr.HighlightedText(
        label="The model's pieces", color_map=inside_views.PIECE_COLOURS, combine_adjacent=False, show_legend=True
    )
    pieces_info = gr.Markdown()
    gr.Markdown(inside_views.EXPLANATIONS["pieces"])
    read_button, read_stop = _go_and_stop("Read every row of the loaded file (or the sample), per language")
    reading_words = gr.Markdown()
    reading_plot = gr.Plot(label="Per language")
    reading_table = gr.Dataframe(label="Per language", interactive=False, wrap=True)
    gr.Markdown(inside_views.EXPLANATIONS["reading"])
    gr.Markdown("### Where languages meet, layer by layer")
    with_tuned = gr.Checkbox(
        value=False, label="The model fine-tuned in the Train tab, beside the one it started from",
        info="untick: the model chosen above",
    )  # fmt: skip
    layers_button, layers_stop = _go_and_stop("Measure every layer on the loaded file (or the sample)")
    layer_words = gr.Markdown()
    layer_plot = gr.Plot(label="Translation found, layer by layer")
    gr.Markdown(inside_views.EXPLANATIONS["layers"])
    layer_table = gr.Dataframe(label="Per language pair and layer", interactive=False, wrap=True)
    gr.Markdown("### Fill the blank")
    gr.Markdown(inside_views.EXPLANATIONS["fill_mask"])
    with gr.Row():
        with gr.Column(scale=3):
            mask_text = gr.Textbox(label="A sentence with <mask>", value=FILL_EXAMPLES[0])
            gr.Examples(FILL_EXAMPLES, inputs=mask_text)
        with gr.Column(scale=2):
            choices = model_choices()
            mask_model = gr.Dropdown(
                choices, value="xlm-roberta-base" if "xlm-roberta-base" in choices else choices[0],
                allow_custom_value=not public, label="Model with a fill-the-blank head",
                info="xlm-roberta-base needs a network the first time; the embedded model has no such head",
            )  # fmt: skip
            fill_button = gr.Button("Guess", variant="primary")
    with gr.Row():
        guesses = gr.Label(label="Guesses for the first blank", num_top_classes=5)
        filled = gr.Markdown()
    return Tab(**locals())


HEAVY_QUEUE = {"concurrency_id": HEAVY, "concurrency_limit": 2}
# one fine-tuning job at a time for the whole server: the others wait in the queue, their place shown
FINE_TUNING_QUEUE = {"concurrency_id": training.FINE_TUNING, "concurrency_limit": 1}


def _data_events(data: Tab, explore: Tab) -> None:
    shown = list(FileViews(
        data.preview, data.notes, data.text, data.label, data.language, data.split, data.group, explore.color,
        explore.languages, data.several,
    ))  # fmt: skip
    data.upload.upload(callbacks.load_file, [data.upload], shown, api_name="load_file")
    data.sample.click(callbacks.load_sample, None, shown, api_name=False)
    data.check.click(
        callbacks.check_data, [data.text, data.label, data.language, data.split, data.group, data.several],
        [data.report, data.counts], api_name="check_data",
    )  # fmt: skip


def _train_events(t: Tab, data: Tab) -> None:
    shown = list(TrainViews(
        headline=t.headline, status=t.status, per_class=t.per_class, confusion=t.confusion, languages=t.languages,
        transfer=t.transfer, loss=t.loss, issues=t.issues, download=t.download, comparison=t.comparison,
        corrected=t.corrected, data_report=data.report, more_rows=t.more_rows,
    ))  # fmt: skip
    # the progress bar (and a refusal) on the status line only: the headline stays readable while diagnostics run
    on_status = {"show_progress_on": [t.status]}
    trains = t.train_button.click(
        training.train, [t.model, t.head, t.seed], shown, api_name="train", **HEAVY_QUEUE, **on_status
    )
    retrains = t.retrain_button.click(
        training.retrain, [t.issues, t.model, t.head, t.seed, t.corrected_format], shown, api_name="retrain",
        **HEAVY_QUEUE, **on_status,
    )  # fmt: skip
    from_names = t.names_button.click(
        label_names.classify_from_names, [t.names, t.descriptions, t.model],
        list(LabelNameViews(t.names_headline, t.names_rows, t.names_file)), api_name="zero_shot",
        show_progress_on=[t.names_headline], **HEAVY_QUEUE,
    )  # fmt: skip
    t.finetune_button.click(
        training.finetune, [t.model, t.minutes, t.seed], shown, api_name="finetune", **FINE_TUNING_QUEUE, **on_status
    )
    t.how.change(
        training.training_mode, t.how, [t.head, t.train_button, t.minutes, t.finetune_button], api_name=False,
        queue=False, show_progress="hidden",
    )  # fmt: skip
    # Stop skips the queue: it must work while the visitor's own requests fill it. Fine-tuning is not
    # cancelled but told to stop: it then measures and shows its best weights so far.
    t.stop.click(
        training.stop_training, None, t.status, cancels=[trains, retrains, from_names], api_name="stop", queue=False
    )
    t.report_button.click(training.training_report, None, t.report_file, api_name="report")


def _predict_events(p: Tab) -> None:
    p.button.click(callbacks.predict_text, [p.text], [p.probabilities, p.verdict], api_name="predict")
    predicting = p.upload.upload(
        callbacks.predict_upload, [p.upload, p.file_format],
        list(FilePredictionViews(file=p.predictions, preview=p.rows, summary=p.status)), api_name="predict_file",
        show_progress_on=[p.status], **HEAVY_QUEUE,
    )  # fmt: skip
    p.stop.click(stop_job, None, p.status, cancels=[predicting], api_name=False, queue=False)
    p.head_zip.upload(callbacks.load_head, [p.head_zip], [p.head_status], api_name="load_head")


def _explore_events(e: Tab) -> None:
    mapping = e.button.click(
        callbacks.embedding_map,
        [e.method, e.dims, e.color, e.center, e.languages, e.clusters, e.how_many, e.names_language],
        list(MapViews(
            map=e.map_plot, findings=e.findings, centroids=e.centroids, languages=e.languages, clusters=e.cluster_table,
            names_language=e.names_language,
        )),
        api_name="embedding_map", show_progress_on=[e.findings], **HEAVY_QUEUE,
    )  # fmt: skip
    e.find_button.click(
        explore.find_on_map, [e.query], [e.map_plot, e.found_words, e.found_rows], api_name="find_on_map"
    )
    e.query.submit(explore.find_on_map, [e.query], [e.map_plot, e.found_words, e.found_rows], api_name=False)
    e.selection.change(
        explore.show_selection, [e.selection], [e.selected_words, e.selected_rows], api_name="map_selection"
    )
    e.download_button.click(
        explore.download_selection, [e.selection, e.selected_format], [e.selected_file], api_name="selected_rows"
    )
    e.relabel_button.click(
        explore.relabel_selection, [e.selection, e.new_label], [e.relabelled_words, e.relabelled_file, e.map_plot],
        api_name="relabel_selection",
    )  # fmt: skip
    e.share_button.click(explore.share_map, None, [e.share_file], api_name="share_map")
    e.atlas_button.click(explore.atlas_file, None, [e.share_file], api_name="atlas_file")
    e.stop.click(stop_job, None, e.findings, cancels=[mapping], api_name=False, queue=False)
    e.place_button.click(callbacks.place_on_map, [e.new_text], [e.map_plot, e.neighbours], api_name="place_on_map")
    e.tuning_button.click(
        callbacks.compare_maps, [e.method, e.dims], list(TuningMapViews(e.before, e.after, e.tuning_findings)),
        api_name="compare_maps", show_progress_on=[e.tuning_findings], **HEAVY_QUEUE,
    )  # fmt: skip


def _entities_events(n: Tab, seed: gr.Number) -> None:
    shown = list(EntityViews(
        headline=n.headline, status=n.status, per_type=n.per_type, languages=n.languages, curve=n.curve,
        report=n.report,
    ))  # fmt: skip
    n.button.click(
        callbacks.train_entities, [n.upload, n.other, n.model, n.minutes, seed], shown, api_name="train_entities",
        show_progress_on=[n.status], **FINE_TUNING_QUEUE,
    )  # fmt: skip
    n.stop.click(training.stop_training, None, n.status, api_name=False, queue=False)
    n.find.click(callbacks.find_entities, [n.text], [n.found], api_name="entities")


def _inside_events(i: Tab) -> None:
    i.pieces_button.click(inside.show_pieces, [i.text, i.model], [i.pieces, i.pieces_info], api_name="pieces")
    reading = i.read_button.click(
        inside.read_rows, [i.model], list(ReadingViews(i.reading_words, i.reading_plot, i.reading_table)),
        api_name="read_rows", show_progress_on=[i.reading_words], **HEAVY_QUEUE,
    )  # fmt: skip
    i.read_stop.click(stop_job, None, i.reading_words, cancels=[reading], api_name=False, queue=False)
    measuring = i.layers_button.click(
        inside.measure_layers, [i.model, i.with_tuned], list(LayerViews(i.layer_words, i.layer_plot, i.layer_table)),
        api_name="layers", show_progress_on=[i.layer_words], **HEAVY_QUEUE,
    )  # fmt: skip
    i.layers_stop.click(stop_job, None, i.layer_words, cancels=[measuring], api_name=False, queue=False)
    i.fill_button.click(inside.fill_blank, [i.mask_text, i.mask_model], [i.guesses, i.filled], api_name="fill_mask")


def build_app() -> gr.Blocks:
    """The whole page, its events wired; ``python app.py`` queues and launches it (:func:`xlmr_demo.web.launch`)."""
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
            data = data_tab()
        with gr.Tab("2. Train"):
            train = train_tab(public)
        with gr.Tab("3. Predict"):
            predict = predict_tab()
        with gr.Tab("4. Explore"):
            exploring = explore_tab()
        with gr.Tab("5. Entities"):
            entities = entities_tab(public)
        with gr.Tab("Compare sentences"):
            compare = compare_tab(public)
        with gr.Tab("Inside the model"):
            inside_model = inside_tab(public)
        _data_events(data, exploring)
        _train_events(train, data)
        _predict_events(predict)
        _explore_events(exploring)
        _entities_events(entities, train.seed)
        _inside_events(inside_model)
        compare.button.click(
            callbacks.compare, [compare.sentences, compare.model], [compare.heatmap, compare.pairs], api_name="compare"
        )
        demo.load(None, js=explore.PAGE_SCRIPT)
        demo.unload(end_session)
    return demo
