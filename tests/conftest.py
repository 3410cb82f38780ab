"""Shared fixtures. Model-dependent tests use the real embedded model through one session fixture."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from xlmr_demo.paths import CACHE_ENV

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
TEST_DATA = Path(__file__).parent / "data"
SAMPLE = ROOT / "assets" / "sample_parallel.csv"  # the product's own sample: 48 meanings, 8 languages, 6 topics
TATOEBA_LANGS = ("deu", "fra", "spa", "cmn", "rus", "ara", "hin", "jpn")


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--slow", action="store_true",
        help="also run the slow tests: real fine-tuning, browser walks, Ray, large maps, many users (CI runs them)",
    )  # fmt: skip


def pytest_collection_modifyitems(config, items) -> None:
    """Without --slow, tests marked slow are left out (each has a fast stand-in in the default run)."""
    if config.getoption("--slow"):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


def missing_shared_data(path: Path):
    """A test that needs ``../shared/data`` and cannot find it: skipped on a laptop, failed in CI (``CI=true``),
    where a missing folder would otherwise pass every test that reads it without running one."""
    message = f"shared evaluation data not found at {path}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " (CI must run the tests that read it)")
    pytest.skip(message)


@pytest.fixture(scope="session", autouse=True)
def cache_root(tmp_path_factory) -> Path:
    """Every test session gets a fresh cache (so materialisation itself is tested) and no hub."""
    root = tmp_path_factory.mktemp("xlmr_cache")
    os.environ[CACHE_ENV] = str(root)
    os.environ["HF_HUB_OFFLINE"] = "1"
    return root


@pytest.fixture(scope="session")
def model_dir(cache_root) -> Path:
    from xlmr_demo.embedded import materialize

    return materialize()


@pytest.fixture(scope="session")
def encoder(model_dir):
    """The embedded model through the product's default path."""
    from xlmr_demo.encoders import load_encoder

    return load_encoder()


def tatoeba(lang: str, n: int | None = None) -> tuple[list[str], list[str]]:
    """The first ``n`` (foreign, English) translation pairs of ../shared/data/tatoeba."""
    base = SHARED_DATA / "tatoeba"
    if not base.is_dir():
        missing_shared_data(base)
    foreign = (base / f"tatoeba.{lang}-eng.{lang}").read_text(encoding="utf-8").splitlines()[:n]
    english = (base / f"tatoeba.{lang}-eng.eng").read_text(encoding="utf-8").splitlines()[:n]
    return foreign, english


UMSAB_LANGS = {"english": "en", "spanish": "es", "french": "fr", "arabic": "ar"}


def umsab(split: str, n: int) -> list[tuple[str, str, str]]:
    """The first ``n`` (text, label, language) rows of each UMSAB language's ``split`` file."""
    base = SHARED_DATA / "umsab"
    if not base.is_dir():
        missing_shared_data(base)
    rows = []
    for folder, lang in UMSAB_LANGS.items():
        texts = (base / folder / f"{split}_text.txt").read_text(encoding="utf-8").split("\n")
        labels = (base / folder / f"{split}_labels.txt").read_text(encoding="utf-8").split("\n")
        pairs = [(t, y.strip()) for t, y in zip(texts, labels, strict=False) if y.strip()][:n]
        rows += [(t, {"0": "negative", "1": "neutral", "2": "positive"}[y], lang) for t, y in pairs]
    return rows


def write_csv(path: Path, header: list[str], rows) -> Path:
    import csv

    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="session")
def umsab_files(tmp_path_factory) -> tuple[Path, Path]:
    """A small UMSAB slice as a training CSV (80 rows per language) and an evaluation CSV (40 per language)."""
    folder = tmp_path_factory.mktemp("umsab")
    train = write_csv(folder / "train.csv", ["text", "label", "language"], umsab("train", 80))
    test = write_csv(folder / "test.csv", ["text", "label", "language"], umsab("test", 40))
    return train, test


@pytest.fixture(scope="session")
def trained(umsab_files, encoder):
    """One training run on the UMSAB slice, shared by the tests that only read its results."""
    from xlmr_demo.dataset import load_dataset
    from xlmr_demo.training import train_classifier

    return train_classifier(load_dataset(umsab_files[0]), encoder)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving_app(*command: str, **env: str):
    """``python app.py`` (or ``python *command``) running on a free port with ``env`` added, as a user starts it;
    its URL once it answers."""
    command = command or ("app.py",)
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1", **env}
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90  # generous: this checks that it serves, bench/ measures how fast
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: a chatty server must never block on a full pipe
        proc = subprocess.Popen([sys.executable, *command], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            while True:
                try:
                    urllib.request.urlopen(url, timeout=2).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        output = log.read().decode(errors="replace") if proc.poll() is not None else "no answer"
                        pytest.fail(f"python {' '.join(command)} did not serve {url}: {output}")
                    time.sleep(0.25)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def app_hold(tmp_path_factory) -> Hold:
    return Hold(tmp_path_factory.mktemp("hold"))


@pytest.fixture(scope="module")
def app_url(cache_root, app_hold):
    """The app as a user starts it on a laptop (through tests/held_app.py: its jobs wait while a test holds them)."""
    with serving_app("-m", "tests.held_app", **app_hold.env) as url:
        yield url


class Hold:
    """Jobs of a server started with ``tests/held_app.py`` wait at their next step while a hold is on."""

    def __init__(self, folder: Path) -> None:
        self.file = folder / "hold"
        self.reached = folder / "hold.reached"

    @property
    def env(self) -> dict[str, str]:
        return {"XLMR_DEMO_TEST_HOLD": str(self.file)}

    @contextlib.contextmanager
    def on(self, stage: str = ""):
        """Within: every job that reports progress (of ``stage``, if given) waits there; a Stop still ends it."""
        self.reached.unlink(missing_ok=True)
        self.file.write_text(stage, encoding="utf-8")
        try:
            yield self
        finally:
            self.file.unlink(missing_ok=True)

    def wait_reached(self, within: float = 300) -> None:
        """Until a job waits at the hold (polled: a slow machine only takes longer)."""
        deadline = time.monotonic() + within
        while not self.reached.exists():
            assert time.monotonic() < deadline, "no job reached the hold"
            time.sleep(0.02)


def sib(languages: tuple[str, ...], n: int | None = None) -> list[tuple[str, str, str, str]]:
    """(index_id, language, category, text) of the first ``n`` meanings of the SIB-200 slice's train files, in
    each of ``languages`` (folder names): the same sentences in every language."""
    import csv

    base = SHARED_DATA / "sib"
    if not base.is_dir():
        missing_shared_data(base)
    rows = []
    for folder in languages:
        with open(base / folder / "train.tsv", encoding="utf-8") as fh:
            reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
            next(reader)
            rows += [(idx, folder[:2], cat, text) for idx, cat, text in list(reader)[:n]]
    return rows


EMOTIONS = dict(enumerate(["anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust"], start=1))


def xed(name: str, n: int, seed: int = 0) -> list[tuple[str, str]]:
    """A seeded random ``n`` of XED's well-formed lines (the files are sorted by label): (text, "joy, fear")."""
    import numpy as np

    path = SHARED_DATA / "xed" / name
    if not path.is_file():
        missing_shared_data(path)
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if len(fields) == 2 and fields[0].strip() and all(p.strip().isdigit() for p in fields[1].split(",")):
            rows.append((fields[0], ", ".join(EMOTIONS[int(p)] for p in fields[1].split(","))))
    picked = np.random.default_rng(seed).choice(len(rows), n, replace=False)
    return [rows[i] for i in sorted(picked)]


def stopped_after(steps: int, message: str = "Fine-tuning stopped."):
    """A progress callback that acts as a person pressing Stop after ``steps`` fine-tuning steps (the job stays
    stopped from then on), and the list of the fine-tuning steps it saw."""
    from xlmr_demo.jobs import Stopped
    from xlmr_demo.progress import TuningStep

    seen: list = []

    def progress(step) -> None:
        if isinstance(step, TuningStep):
            seen.append(step)
        if len(seen) >= steps:
            raise Stopped(message)

    return progress, seen
