"""The Gradio app: callbacks over the backend, and the real server answering HTTP."""

from __future__ import annotations

import subprocess
import sys
import urllib.request

import gradio as gr
import pytest

from xlmr_demo import web
from xlmr_demo.web import callbacks

from .conftest import ROOT, serving_app


def test_compare_callback_returns_a_heatmap_and_the_closest_pairs(encoder):
    figure, table = callbacks.compare("Good night\nBonne nuit\nThe train is late", "embedded")
    assert figure.to_dict()["data"][0]["type"] == "heatmap"
    assert "| Good night | Bonne nuit |" in table or "| Bonne nuit | Good night |" in table


def test_compare_callback_shows_user_errors_in_the_page():
    with pytest.raises(gr.Error, match="at least two sentences"):
        callbacks.compare("only one line", "embedded")


#: What gradio_client users and bench/load.py call: renaming one breaks them.
API_NAMES = {
    "check_data", "compare", "compare_maps", "embedding_map", "entities", "finetune", "load_file", "load_head",
    "place_on_map", "predict", "predict_file", "report", "retrain", "stop", "train", "train_entities",
    "pieces", "read_rows", "layers", "fill_mask",  # Inside the model
    "zero_shot",  # Train: from label names
    "find_on_map", "map_selection", "selected_rows", "relabel_selection", "share_map", "atlas_file",  # Explore
}  # fmt: skip


def test_app_exposes_every_endpoint_under_a_stable_name():
    demo = web.build_app()
    names = {dep["api_name"] for dep in demo.config["dependencies"] if dep.get("api_visibility") == "public"}
    assert names == API_NAMES


def test_python_app_py_serves_the_page(cache_root):
    with serving_app() as url, urllib.request.urlopen(url, timeout=10) as response:  # as a user starts it
        assert response.status == 200
        assert b"gradio" in response.read().lower()


def test_importing_the_app_does_not_import_torch():
    """Start-up stays fast: torch and transformers load in the background, after the page is up."""
    code = "import sys, app; app.build_app(); print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
