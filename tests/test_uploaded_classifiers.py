"""Classifier .zip files from anyone: read in memory, every setting and tensor checked before a layer is built."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from safetensors.numpy import load, save

from xlmr_demo import heads
from xlmr_demo.classifier import Classifier, load_archive
from xlmr_demo.errors import UserError
from xlmr_demo.saved import CONFIG_FILE, HEAD_FILE


@pytest.fixture(scope="module")
def files(trained, tmp_path_factory) -> dict[str, bytes]:
    """The files of a real saved classifier, by name (as the Train tab's .zip holds them)."""
    path = trained.classifier.save_archive(
        tmp_path_factory.mktemp("zip") / "classifier.zip", trained.metrics, trained.training, trained.label_issues
    )
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_zip(path, files: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def with_config(files: dict[str, bytes], change) -> dict[str, bytes]:
    config = json.loads(files[CONFIG_FILE])
    config = change(config) or config
    return {**files, CONFIG_FILE: json.dumps(config).encode()}


@pytest.fixture
def no_layers(monkeypatch):
    """Fail the test if a head's layers are built."""

    def refuse(*args, **kwargs):
        raise AssertionError("a layer was built before the saved head was checked")

    monkeypatch.setattr(heads, "_mlp", refuse)
    monkeypatch.setattr(heads, "_linear", refuse)


def test_the_download_round_trips_in_memory(trained, files, tmp_path):
    assert set(files) == {CONFIG_FILE, HEAD_FILE, "metrics.json", "label_issues.json"}
    loaded = load_archive(write_zip(tmp_path / "c.zip", files))
    texts = ["I love this so much!", "C'est horrible.", "الطقس معتدل اليوم"]
    np.testing.assert_allclose(loaded.predict_proba(texts), trained.classifier.predict_proba(texts), atol=1e-6)


def test_a_two_million_wide_hidden_layer_is_refused_before_it_is_built(files, tmp_path, no_layers):
    def wide(config):
        config["head"]["config"]["hidden"] = 2_000_000

    path = write_zip(tmp_path / "wide.zip", with_config(files, wide))
    assert path.stat().st_size < 1_000_000
    with pytest.raises(UserError, match="hidden layer is 2,000,000 wide; the limit is 4,096"):
        load_archive(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: ["a", "list"], "is not an xlmr_demo classifier"),
        (lambda c: c["head"]["config"].update(hidden=-5), "hidden, max_epochs, max_steps, batch_size and patience"),
        (lambda c: c["head"]["config"].update(hidden="256"), "the setting 'hidden' has the wrong type"),
        (lambda c: c["head"]["config"].update(kind="svm"), "kind must be one of"),
        (lambda c: c["head"]["config"].update(evil=1), "unknown settings 'evil'"),
        (lambda c: c["head"].update(config=[]), "not a JSON object with a 'config'"),
        (lambda c: c["head"].update(classes=["a"] * 3), "its labels repeat"),
        (lambda c: c["head"].update(classes=[f"c{i}" for i in range(500)]), "500 labels; the limit is 200"),
        (lambda c: c["head"].update(dim=10**6), "input width is not a whole number from 1 to 16,384"),
        (lambda c: c["head"].update(dim=768), r"'net.0.weight' is float32 \(256, 384\), expected float32 \(256, 768"),
        (lambda c: c["head"].update(languages="en"), "languages are not a list of at most 100 language codes"),
        (lambda c: c["head"].update(languages=["x" * 1000]), "languages are not a list"),
        (lambda c: c["head"].update(languages=["en"] * 10**5), "languages are not a list"),
        (lambda c: c.pop("encoder") and None, "does not name its encoder"),
        (lambda c: c.update(format="xlmr_demo.head/1"), "saved by an earlier xlmr_demo"),
        (lambda c: c["encoder"].update(fingerprint="0" * 20), "trained on embeddings of 'embedded'"),
    ],
)
def test_damaged_or_hostile_settings_are_plain_errors(files, tmp_path, no_layers, change, message):
    with pytest.raises(UserError, match=message):
        load_archive(write_zip(tmp_path / "bad.zip", with_config(files, change)))


def test_tensors_must_match_the_settings_exactly(files, tmp_path, no_layers):
    tensors = load(files[HEAD_FILE])
    cases = {
        "net.0.weight": np.zeros((10, 384), np.float32),  # another width than the settings say
        "fallback.weight": np.full((3, 384), 1e9, np.float32),
        "mean": np.full(384, np.nan, np.float32),
        "scale": np.ones(384, np.float64),
    }
    for key, value in cases.items():
        bad = {**files, HEAD_FILE: save({**tensors, key: value})}
        with pytest.raises(UserError, match=f"tensor '{key}'"):
            load_archive(write_zip(tmp_path / "bad.zip", bad))
    extra = {**files, HEAD_FILE: save({**tensors, "extra": np.zeros(3, np.float32)})}
    with pytest.raises(UserError, match="expected the tensors"):
        load_archive(write_zip(tmp_path / "extra.zip", extra))


@pytest.mark.parametrize(
    ("names", "data", "message"),
    [
        ({CONFIG_FILE: b"[" * 100_000}, None, "settings are not valid JSON"),
        ({CONFIG_FILE: b"\xff\xfe"}, None, "settings are not valid JSON"),
        ({HEAD_FILE: b"\x80\x04pickle"}, None, "damaged classifier"),
        ({"other.txt": b"x"}, {CONFIG_FILE, HEAD_FILE}, "it has no config.json or head.safetensors"),
    ],
)
def test_unreadable_members_are_plain_errors(files, tmp_path, names, data, message):
    content = {k: v for k, v in files.items() if data is None or k not in data}
    content.update(names)
    with pytest.raises(UserError, match=message):
        load_archive(write_zip(tmp_path / "bad.zip", content))


def test_a_zip_of_a_hundred_thousand_entries_is_refused_by_its_count(files, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        for i in range(100_000):
            archive.writestr(f"x/{i}", b"")
    (tmp_path / "many.zip").write_bytes(buffer.getvalue())
    with pytest.raises(UserError, match="holds 100,004 files; the limit is 1,000"):
        load_archive(tmp_path / "many.zip")


def test_nothing_is_unpacked_so_paths_inside_the_zip_never_matter(files, tmp_path, monkeypatch):
    """Zip slip and links: members are read by name into memory; no path inside the archive is ever opened."""
    monkeypatch.chdir(tmp_path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr("../../escaped.txt", b"outside")
        link = zipfile.ZipInfo("link")
        link.external_attr = 0o120777 << 16  # a symbolic link to /etc/passwd
        archive.writestr(link, "/etc/passwd")
    (tmp_path / "up" / "load").mkdir(parents=True)
    path = tmp_path / "up" / "load" / "c.zip"
    path.write_bytes(buffer.getvalue())
    before = sorted(tmp_path.rglob("*"))
    assert load_archive(path).classes_ == ["negative", "neutral", "positive"]
    assert sorted(tmp_path.rglob("*")) == before


def test_public_mode_refuses_a_classifier_whose_encoder_the_server_does_not_offer(files, tmp_path, monkeypatch):
    monkeypatch.setenv("XLMR_DEMO_PUBLIC", "1")

    def from_a_server_folder(config):
        config["encoder"]["name"] = "/root/.cache/xlmr_demo/models/some-model"

    path = write_zip(tmp_path / "c.zip", with_config(files, from_a_server_folder))
    with pytest.raises(UserError, match="This server offers these models: embedded"):
        load_archive(path)


def test_saving_never_replaces_a_folder_silently(trained, tmp_path):
    folder = trained.classifier.save(tmp_path / "head")
    with pytest.raises(UserError, match="already exists; choose another folder, or add --overwrite"):
        trained.classifier.save(folder)
    assert trained.classifier.save(folder, overwrite=True) == folder
    assert Classifier.load(folder).classes_ == trained.classifier.classes_
    unrelated = tmp_path / "photos"
    unrelated.mkdir()
    (unrelated / "cat.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(UserError, match="is not a folder this command wrote"):
        trained.classifier.save(unrelated, overwrite=True)
    assert (unrelated / "cat.jpg").exists()


def test_weights_that_would_give_no_usable_scores_are_refused(files, tmp_path, no_layers):
    tensors = load(files[HEAD_FILE])
    cases = {
        "scale": (np.zeros(384, np.float32), "'scale' holds values that are not positive"),
        "net.3.weight": (np.full(tensors["net.3.weight"].shape, 3e38, np.float32), "beyond ±10,000"),
    }
    for key, (value, message) in cases.items():
        bad = {**files, HEAD_FILE: save({**tensors, key: value})}
        with pytest.raises(UserError, match=message):
            load_archive(write_zip(tmp_path / "bad.zip", bad))


ENCODER_FILE = "encoder.safetensors"


@pytest.fixture(scope="module")
def tuned(trained):
    """A fine-tuned classifier as the app saves it: the real model with its last layer's weights moved a little."""
    from xlmr_demo.classifier import TunedWeightsClassifier

    base = trained.classifier.encoder
    state = base.model[0].auto_model.state_dict()
    rng = np.random.default_rng(0)
    weights = {
        name: value.float().numpy() + rng.normal(0, 0.02, value.shape).astype(np.float32)
        for name, value in state.items()
        if name.startswith("encoder.layer.11.")
    }
    return TunedWeightsClassifier(base, trained.classifier.head, weights, 128)


@pytest.fixture(scope="module")
def tuned_files(tuned, tmp_path_factory) -> dict[str, bytes]:
    path = tuned.save_archive(tmp_path_factory.mktemp("tuned") / "classifier.zip")
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_a_fine_tuned_download_round_trips_to_the_same_predictions(trained, tuned, tuned_files, tmp_path):
    assert set(tuned_files) == {CONFIG_FILE, HEAD_FILE, ENCODER_FILE}
    config = json.loads(tuned_files[CONFIG_FILE])
    assert config["format"] == "xlmr_demo.tuned/1" and config["encoder"]["fingerprint"] == tuned.base.fingerprint
    assert load(tuned_files[ENCODER_FILE])["encoder.layer.11.output.dense.weight"].dtype == np.float16
    loaded = load_archive(write_zip(tmp_path / "c.zip", tuned_files))
    texts = ["I love this so much!", "C'est horrible.", "الطقس معتدل اليوم"]
    np.testing.assert_allclose(loaded.predict_proba(texts), tuned.predict_proba(texts), atol=1e-6)
    assert loaded.encoder.fingerprint == tuned.encoder.fingerprint != tuned.base.fingerprint
    # the moved layer changes the embeddings; the word embeddings are the base model's own, not a copy
    assert not np.allclose(loaded.predict_proba(texts), trained.classifier.predict_proba(texts), atol=1e-3)
    base, copy = tuned.base.model[0].auto_model, loaded.encoder.model[0].auto_model
    assert copy.get_input_embeddings().weight is base.get_input_embeddings().weight
    assert copy.encoder.layer[0].output.dense.weight is base.encoder.layer[0].output.dense.weight  # unchanged: shared
    assert copy.encoder.layer[11].output.dense.weight is not base.encoder.layer[11].output.dense.weight
    assert loaded.encoder.max_length == 128 and loaded.nbytes >= 2 * sum(w.nbytes for w in tuned.weights.values())


def _encoder_changed(files: dict[str, bytes], change) -> dict[str, bytes]:
    weights = dict(load(files[ENCODER_FILE]))
    change(weights)
    return {**files, ENCODER_FILE: save(weights)}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda w: w.update({"../../etc/passwd": w.pop("encoder.layer.11.output.dense.bias")}), "do not fit"),
        (lambda w: w.update({"encoder.layer.11.output.dense.bias": np.zeros(7, np.float16)}), "do not fit"),
        (lambda w: w["encoder.layer.11.output.dense.bias"].__setitem__(0, np.nan), "not numbers"),
        (lambda w: w["encoder.layer.11.output.dense.bias"].__setitem__(0, 1.0), "not the ones it was saved with"),
        (
            lambda w: w.update({"embeddings.word_embeddings.weight": np.zeros((250037, 384), np.float16)}),
            "change the word embeddings",
        ),
    ],
    ids=["unknown name", "wrong shape", "nan", "changed value", "word embeddings"],
)
def test_tampered_fine_tuned_weights_are_refused(tuned_files, tmp_path, change, message):
    path = write_zip(tmp_path / "c.zip", _encoder_changed(tuned_files, change))
    with pytest.raises(UserError, match=message):
        load_archive(path)


def test_a_fine_tuned_download_without_its_weights_is_refused(tuned_files, tmp_path):
    files = {k: v for k, v in tuned_files.items() if k != ENCODER_FILE}
    with pytest.raises(UserError, match=r"without its encoder\.safetensors"):
        load_archive(write_zip(tmp_path / "c.zip", files))
