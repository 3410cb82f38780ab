"""xlmr_demo web app. Run ``python app.py`` and open http://127.0.0.1:7860.

This file only builds and wires the page; the work happens in ``xlmr_demo`` functions that take
and return plain data. Heavy imports (torch, transformers) load in a background thread after the
page is up, so the app starts in seconds.
"""

from __future__ import annotations

import contextlib
import threading

import gradio as gr

from xlmr_demo.compare import parse_sentences, similarity
from xlmr_demo.embedded import EMBEDDED_NAME
from xlmr_demo.errors import UserError
from xlmr_demo.plots import similarity_heatmap

MODEL_CHOICES = [EMBEDDED_NAME, "xlm-roberta-base", "sentence-transformers/LaBSE"]
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


def compare(sentences: str, model: str):
    """Callback of "Compare": sentences (one per line) -> heatmap and the closest pairs."""
    try:
        result = similarity(parse_sentences(sentences), model=(model or EMBEDDED_NAME).strip())
    except UserError as exc:
        raise gr.Error(str(exc)) from exc
    pairs = "\n".join(f"| {a} | {b} | {s:.3f} |" for a, b, s in result.most_similar_pairs(5))
    table = "**Most similar pairs**\n\n| sentence | sentence | cosine |\n|---|---|---|\n" + pairs
    return similarity_heatmap(result.matrix, result.texts), table


def build_app() -> gr.Blocks:
    with gr.Blocks(title="xlmr_demo: multilingual embeddings") as demo:
        gr.Markdown(
            "# xlmr_demo\nSee how a multilingual model understands sentences in 100 languages. "
            "Sentences that mean the same thing should be similar whatever their language."
        )
        with gr.Tab("Embed & compare"):
            with gr.Row():
                with gr.Column(scale=2):
                    sentences = gr.Textbox(label="Sentences, one per line, in any languages", value=EXAMPLE, lines=12)
                    model = gr.Dropdown(
                        MODEL_CHOICES,
                        value=EMBEDDED_NAME,
                        allow_custom_value=True,
                        label="Model",
                        info="'embedded' works offline; hub ids need a network.",
                    )
                    run = gr.Button("Compare", variant="primary")
                with gr.Column(scale=3):
                    heatmap = gr.Plot(label="Cosine similarity")
                    pairs = gr.Markdown()
            run.click(compare, [sentences, model], [heatmap, pairs], api_name="compare")
    return demo


def _warm_up() -> None:
    """Load the embedded model in the background so the first click does not wait for it."""
    with contextlib.suppress(Exception):  # a failed warm-up must not kill the server; the click reports it
        similarity(["warm up", "préchauffage"])


if __name__ == "__main__":
    threading.Thread(target=_warm_up, daemon=True).start()
    # server name and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (default 127.0.0.1:7860)
    build_app().queue(default_concurrency_limit=2).launch()
