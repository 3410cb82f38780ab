"""Public mode and the bounds of one request: when they apply, how they are changed, what they say."""

from __future__ import annotations

import pytest

from xlmr_demo import limits
from xlmr_demo.encoders import resolve_model_folder
from xlmr_demo.errors import UserError
from xlmr_demo.limits import Limits, check_model, current, over_limit, public_mode


@pytest.fixture
def public(monkeypatch):
    monkeypatch.setenv("XLMR_DEMO_PUBLIC", "1")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, False),
        ({"XLMR_DEMO_PUBLIC": "1"}, True),
        ({"SPACE_ID": "someone/xlmr_demo"}, True),  # Hugging Face sets it on every Space
        ({"SPACE_ID": "someone/xlmr_demo", "XLMR_DEMO_PUBLIC": "0"}, False),  # a private Space may opt out
    ],
)
def test_public_mode_is_on_for_spaces_and_by_flag(monkeypatch, env, expected):
    monkeypatch.delenv("XLMR_DEMO_PUBLIC", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert public_mode() is expected


def test_public_mode_sets_time_map_and_session_bounds_that_a_laptop_does_not_have(monkeypatch):
    monkeypatch.delenv("XLMR_DEMO_PUBLIC", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    local = current()
    assert local == Limits() and local.job_seconds is None and local.map_points is None
    monkeypatch.setenv("XLMR_DEMO_PUBLIC", "1")
    hosted = current()
    assert (hosted.job_seconds, hosted.map_points, hosted.session_mb) == (300, 10_000, 2_048)
    assert hosted.rows == local.rows == 200_000 and hosted.columns == 1_000


def test_every_bound_has_an_environment_override(monkeypatch):
    monkeypatch.setenv("XLMR_DEMO_MAX_ROWS", "12")
    monkeypatch.setenv("XLMR_DEMO_MAX_JOB_SECONDS", "2.5")
    bound = current()
    assert bound.rows == 12 and bound.job_seconds == 2.5
    monkeypatch.setenv("XLMR_DEMO_MAX_COLUMNS", "many")
    with pytest.raises(ValueError, match="XLMR_DEMO_MAX_COLUMNS must be a number"):
        current()
    monkeypatch.setenv("XLMR_DEMO_MAX_COLUMNS", "-3")
    with pytest.raises(ValueError, match="XLMR_DEMO_MAX_COLUMNS must be a positive number"):
        current()


def test_a_refusal_says_how_to_change_the_limit_locally_and_nothing_about_the_server_in_public(monkeypatch):
    monkeypatch.delenv("XLMR_DEMO_PUBLIC", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert str(over_limit("Too many rows.", "rows")).endswith("Set XLMR_DEMO_MAX_ROWS to change the limit.")
    monkeypatch.setenv("XLMR_DEMO_PUBLIC", "1")
    message = str(over_limit("Too many rows.", "rows"))
    assert "XLMR_DEMO" not in message and "run xlmr_demo on your computer" in message


HOSTILE_NAMES = ["~/.ssh", "/nonexistent", "../..", "/etc", "org/any-model", "xlm-roberta-large", "."]


def test_public_mode_refuses_every_name_off_the_allow_list_with_one_message(public, cache_root):
    """Existing server folders, missing ones and unknown hub ids are indistinguishable."""
    names = [*HOSTILE_NAMES, str(cache_root), str(cache_root / "models")]
    messages = set()
    for name in names:
        with pytest.raises(UserError) as caught:
            resolve_model_folder(name)
        messages.add(str(caught.value))
    assert messages == {"This server offers these models: embedded, xlm-roberta-base, sentence-transformers/LaBSE. "
                        "Choose one of them."}  # fmt: skip


def test_the_allow_list_takes_the_embedded_models_aliases_and_can_be_set(public, monkeypatch):
    for name in ("embedded", "multilingual-e5-small", "intfloat/multilingual-e5-small", "xlm-roberta-base"):
        check_model(name)
    monkeypatch.setenv("XLMR_DEMO_MODELS", "embedded, sentence-transformers/LaBSE")
    assert limits.allowed_models() == ("embedded", "sentence-transformers/LaBSE")
    with pytest.raises(UserError, match="offers these models: embedded, sentence-transformers/LaBSE"):
        check_model("xlm-roberta-base")


def test_a_laptop_accepts_folders_and_hub_ids(monkeypatch):
    monkeypatch.delenv("XLMR_DEMO_PUBLIC", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    for name in HOSTILE_NAMES:
        check_model(name)  # no refusal by name: resolve_model_folder then says what is wrong with it


def test_the_readme_lists_every_limit_with_its_defaults():
    from dataclasses import fields

    from .conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for f in fields(Limits):
        public = f.metadata["public"]
        row = f"| `{f.metadata['env']}` | {f.default or 'none'} | {public or ''} | {f.metadata['what']} |"
        assert row.replace("|  |", "| |") in readme, row
