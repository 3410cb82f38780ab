"""Six users at once through gradio_client: each uploads their own data and gets their own classifier."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from .conftest import ROOT, write_csv
from .test_app import _free_port

WORDS = {
    "weather": ["rain", "sun", "snow", "wind", "storm", "cloud", "fog", "heat", "frost", "thunder"],
    "food": ["bread", "cheese", "soup", "pasta", "apple", "rice", "cake", "fish", "salad", "pizza"],
}


@pytest.fixture(scope="module")
def server(cache_root):
    port = _free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1"}
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            break
        except OSError:
            time.sleep(0.3)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def one_user(url: str, k: int, folder) -> list[str]:
    from gradio_client import Client, handle_file

    rows = [(f"I talked about {w} with friend {i}", f"user{k}_{topic}", "en")
            for topic, words in WORDS.items() for i, w in enumerate(words * 2)]  # fmt: skip
    path = write_csv(folder / f"user{k}.csv", ["text", "label", "language"], rows)
    client = Client(url, verbose=False)
    client.predict(handle_file(str(path)), api_name="/load_file")
    client.predict("text", "label", "language", "(none)", api_name="/check_data")
    outputs = client.predict("embedded", "mlp", 0, api_name="/train")
    report = outputs[1]  # the per-class table
    return sorted(row[0] for row in report["data"])


def test_six_concurrent_users_each_get_their_own_classifier(server, tmp_path):
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda k: one_user(server, k, tmp_path), range(6)))
    for k, labels in enumerate(results):
        assert labels == [f"user{k}_food", f"user{k}_weather"]
