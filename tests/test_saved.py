"""Saved formats: what is written is read back, tagged with its format; anything else is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xlmr_demo import saved
from xlmr_demo.errors import UserError


def test_a_fine_tuned_head_is_written_with_its_format_and_read_back(tmp_path):
    tensors = {"weight": np.arange(6, dtype=np.float32).reshape(2, 3)}
    saved.write_finetuned_head(tmp_path, {"labels": ["a", "b"], "head": {"kind": "logreg"}}, tensors)
    assert saved.is_finetuned_head(tmp_path)
    about, back = saved.read_finetuned_head(tmp_path)
    assert about["format"] == saved.FINETUNED_FORMAT and about["labels"] == ["a", "b"]
    np.testing.assert_array_equal(back["weight"], tensors["weight"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [saved.FINETUNED_HEAD_JSON, saved.HEAD_FILE]  # no temp left
    (tmp_path / saved.FINETUNED_HEAD_JSON).write_text(json.dumps({"format": "other/9", "labels": []}))
    with pytest.raises(UserError, match="is not an xlmr_demo fine-tuned head"):
        saved.read_finetuned_head(tmp_path)


def test_a_head_folder_of_another_format_is_refused_before_its_tensors_matter(tmp_path):
    files = saved.head_files({"labels": ["a", "b"]}, {"w": np.zeros(2, np.float32)})
    folder = saved.write_folder(files, tmp_path / "head")
    config, _, name = saved.read_folder(folder)
    assert config["format"] == saved.FORMAT and name == "head"
    (folder / saved.CONFIG_FILE).write_text(json.dumps({"format": saved.OLD_FORMATS[0]}))
    with pytest.raises(UserError, match="train it again"):
        saved.read_folder(folder)
