"""First-use times: ``python app.py`` until HTTP 200, and the sample data to a trained classifier.

    python bench/startup.py [--runs 5]

1. Start-up, against the smallest possible Gradio app (one textbox) started the same way in the
   same run, so the ratio says what xlmr_demo adds on top of Gradio itself.
2. Cold training: a fresh process with an empty embedding cache trains on the sample data
   (``python -m xlmr_demo train assets/sample_parallel.csv``: embedding, head, metrics, transfer
   matrix, label errors), against embedding the same texts alone (``python -m xlmr_demo embed``).

Writes bench/results/startup.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "startup.md"
BARE_APP = "import gradio as gr\nwith gr.Blocks() as demo:\n    gr.Textbox()\ndemo.launch()\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_to_200(script: Path, env: dict[str, str], limit: float = 120.0) -> float:
    """Seconds from process start until GET / answers 200."""
    port = _free_port()
    env = {**env, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1"}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(script)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while time.perf_counter() - start < limit:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                    if response.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"{script} did not answer within {limit} s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run_seconds(args: list[str], env: dict[str, str]) -> float:
    """Wall time of ``python ARGS`` (interpreter start and model load included)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare_app.py"
        bare.write_text(BARE_APP)
        env = {**os.environ, "XLMR_DEMO_CACHE": str(Path(tmp) / "cache"), "HF_HUB_OFFLINE": "1"}
        time_to_200(ROOT / "app.py", env)  # first start: warms the OS file cache (not counted)
        ours, peer = [], []
        for _ in range(args.runs):  # interleaved, so drift in machine load hits both alike
            ours.append(time_to_200(ROOT / "app.py", env))
            peer.append(time_to_200(bare, env))
        sample = str(ROOT / "assets" / "sample_parallel.csv")
        commands = {
            "train": ["train", sample, "--label-column", "topic", "--output", f"{tmp}/head", "--overwrite"],
            "embed": ["embed", sample, "--column", "text", "--output", f"{tmp}/e.npy", "--overwrite"],
        }
        cold: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(2):
            for name, command in commands.items():
                shutil.rmtree(Path(tmp) / "cache" / "embeddings", ignore_errors=True)  # cold: nothing embedded yet
                cold[name].append(run_seconds(["-m", "xlmr_demo", *command], env))
    med_ours, med_peer = statistics.median(ours), statistics.median(peer)
    train_s, embed_s = statistics.median(cold["train"]), statistics.median(cold["embed"])
    lines = [
        "# Start-up: `python app.py` to HTTP 200 (`bench/startup.py`)",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores; "
        f"Python {platform.python_version()}; {args.runs} interleaved runs each, medians",
        "",
        "| app | median s | min s | max s | ratio vs bare Gradio |",
        "|---|---|---|---|---|",
        f"| `python app.py` | {med_ours:.2f} | {min(ours):.2f} | {max(ours):.2f} | {med_ours / med_peer:.2f} |",
        f"| bare Gradio app (one textbox) | {med_peer:.2f} | {min(peer):.2f} | {max(peer):.2f} | 1.00 |",
        "",
        "The model loads in a background thread after the page is up; the first Compare click waits for it",
        "only if it comes within the first seconds.",
        "",
        "## Sample data to a trained classifier, cold (fresh process, empty embedding cache)",
        "",
        "| command | median s | ratio vs embedding alone |",
        "|---|---|---|",
        f"| `python -m xlmr_demo train assets/sample_parallel.csv --label-column topic` | {train_s:.1f} "
        f"| {train_s / embed_s:.2f} |",
        f"| `python -m xlmr_demo embed assets/sample_parallel.csv` (384 texts) | {embed_s:.1f} | 1.00 |",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
