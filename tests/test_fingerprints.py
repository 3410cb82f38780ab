"""A model's fingerprint covers every byte of its weights, and is hashed once per file version."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from xlmr_demo import fingerprints
from xlmr_demo.encoders import Encoder, EncoderConfig, embed
from xlmr_demo.fingerprints import file_sha256, folder_fingerprint


@pytest.fixture
def folder(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"hidden_size": 4}))
    tensors = {"a": np.zeros((512, 512), np.float32), "b": np.ones((512, 512), np.float32)}
    save_file(tensors, model / "model.safetensors")
    return model


def test_a_change_in_the_middle_of_the_weights_changes_the_fingerprint(folder):
    before = folder_fingerprint(folder)
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4] = b"\x00\x00\x80\x3f"  # one float of tensor "a" becomes 1.0, same size
    weights.write_bytes(bytes(data))
    assert weights.stat().st_size == len(data)
    assert folder_fingerprint(folder) != before


def test_each_file_is_hashed_once_until_it_changes(folder, monkeypatch):
    calls = []
    real = fingerprints.sha256
    monkeypatch.setattr(fingerprints, "sha256", lambda path: calls.append(path.name) or real(path))
    first = folder_fingerprint(folder)
    assert folder_fingerprint(folder) == first
    assert sorted(calls) == ["config.json", "model.safetensors"]  # the second time came from the memo
    os.utime(folder / "model.safetensors", ns=(1, 1))  # a new modification time: hashed again
    assert folder_fingerprint(folder) == first
    assert sorted(calls) == ["config.json", "model.safetensors", "model.safetensors"]


def test_a_renamed_or_copied_folder_is_hashed_by_content(folder, tmp_path):
    copy = shutil.copytree(folder, tmp_path / "copy")
    assert folder_fingerprint(copy) == folder_fingerprint(folder)
    assert file_sha256(copy / "config.json") == file_sha256(folder / "config.json")


def test_a_tampered_copy_of_the_embedded_model_never_shares_its_cache(model_dir, encoder, tmp_path):
    """A copy with one tensor overwritten in the middle was served the real model's cached vectors."""
    copy = tmp_path / "tampered"
    copy.mkdir()
    for item in model_dir.iterdir():
        if item.name != "model.safetensors":
            (shutil.copytree if item.is_dir() else shutil.copy)(item, copy / item.name)
    tensors = load_file(model_dir / "model.safetensors")
    layer = "encoder.layer.6.intermediate.dense.weight"
    tensors[layer] = tensors[layer] * 0.5
    save_file(tensors, copy / "model.safetensors", metadata={"format": "pt"})
    assert (copy / "model.safetensors").stat().st_size == (model_dir / "model.safetensors").stat().st_size
    tampered = Encoder(EncoderConfig(model=str(copy)))
    assert tampered.fingerprint != encoder.fingerprint and tampered.cache_key != encoder.cache_key
    text = ["A sentence embedded by both models."]
    real = embed(text, encoder).embeddings
    other = embed(text, tampered).embeddings
    assert float(real[0] @ other[0]) < 0.999  # the tampered weights give their own vectors
