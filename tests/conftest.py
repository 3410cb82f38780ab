"""Shared fixtures. Model-dependent tests use the real embedded model through one session fixture."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from xlmr_demo.paths import CACHE_ENV

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
TEST_DATA = Path(__file__).parent / "data"
TATOEBA_LANGS = ("deu", "fra", "spa", "cmn", "rus", "ara", "hin", "jpn")


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
        pytest.skip(f"shared evaluation data not found at {base}")
    foreign = (base / f"tatoeba.{lang}-eng.{lang}").read_text(encoding="utf-8").splitlines()[:n]
    english = (base / f"tatoeba.{lang}-eng.eng").read_text(encoding="utf-8").splitlines()[:n]
    return foreign, english
