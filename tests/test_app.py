"""The Gradio app: callbacks over the backend, and the real server answering HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import gradio as gr
import pytest

import app  # the repo root is on sys.path (pytest's pythonpath)

from .conftest import ROOT


def test_compare_callback_returns_a_heatmap_and_the_closest_pairs(encoder):
    figure, table = app.compare("Good night\nBonne nuit\nThe train is late", "embedded")
    assert figure.to_dict()["data"][0]["type"] == "heatmap"
    assert "| Good night | Bonne nuit |" in table or "| Bonne nuit | Good night |" in table


def test_compare_callback_shows_user_errors_in_the_page():
    with pytest.raises(gr.Error, match="at least two sentences"):
        app.compare("only one line", "embedded")


def test_app_exposes_a_stable_api_name():
    demo = app.build_app()
    names = {dep.get("api_name") for dep in demo.config["dependencies"]}
    assert "compare" in names


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_python_app_py_serves_the_page(cache_root):
    port = _free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60  # generous: this checks that it serves, bench/ measures how fast
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    status = response.status
                    break
            except OSError:
                time.sleep(0.25)
        assert status == 200, proc.stdout.read().decode() if proc.poll() is not None else "no answer"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_importing_the_app_does_not_import_torch():
    """Start-up stays fast: torch and transformers load in the background, after the page is up."""
    code = "import sys, app; app.build_app(); print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
