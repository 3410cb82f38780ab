"""precision="auto" (xlmr_demo.precision): measured on the machine, faithful, remembered per machine and model."""

from __future__ import annotations

import json

import pytest

from xlmr_demo import precision as precision_module
from xlmr_demo.encoders import PRECISION_ENV, Encoder, EncoderConfig, forced_precision
from xlmr_demo.errors import UserError
from xlmr_demo.precision import FAITHFUL_COSINE, Trial, choose, remembered


def test_the_fastest_faithful_way_wins_and_a_tie_goes_to_the_more_faithful():
    fp32, bf16 = Trial("fp32", 100.0, 1.0), Trial("bf16", 300.0, 0.99995)
    assert choose([fp32, bf16, Trial("int8", 400.0, 0.999)]) == "int8"
    assert choose([fp32, bf16, Trial("int8", 900.0, 0.98)]) == "bf16"  # fast but unfaithful
    assert choose([fp32, bf16, Trial("int8", 310.0, 0.999)]) == "bf16"  # 3% apart: noise
    assert choose([fp32, Trial("bf16", 40.0, 0.99995)]) == "fp32"  # bf16 emulated


def test_a_choice_is_measured_once_per_machine_and_model(monkeypatch, tmp_path):
    monkeypatch.setenv("XLMR_DEMO_CACHE", str(tmp_path))
    calls = []

    def measure():
        calls.append(1)
        return [Trial("fp32", 100.0, 1.0), Trial("bf16", 300.0, 0.9999)]

    assert remembered("model-a", measure) == remembered("model-a", measure) == "bf16"
    assert remembered("model-b", measure) == "bf16"
    assert len(calls) == 2
    (path,) = [p for p in (tmp_path / "precision").iterdir() if json.loads(p.read_text())["model"] == "model-a"]
    path.write_text("{not json")  # a damaged file is measured again, not trusted
    assert remembered("model-a", measure) == "bf16" and len(calls) == 3
    facts = precision_module.machine()
    monkeypatch.setattr(precision_module, "machine", lambda: {**facts, "cpu": "Another CPU"})
    remembered("model-a", measure)  # another machine sharing the cache folder measures for itself
    assert len(calls) == 4


def test_the_default_encoder_measured_this_machine(encoder, cache_root):
    """The session's default encoder chose by timing: its record names every way it timed, and the
    choice is faithful (which way is fastest depends on the CPU and is not asserted)."""
    records = [json.loads(p.read_text()) for p in (cache_root / "precision").iterdir()]
    (record,) = [r for r in records if r["model"] == encoder.architecture == "bert-384-12-12-1536"]
    trials = {t["precision"]: t for t in record["trials"]}
    assert record["precision"] == encoder.precision
    assert {"fp32", "bf16"} <= set(trials) and trials["fp32"]["min_cosine"] == pytest.approx(1.0, abs=1e-5)
    assert trials[encoder.precision]["min_cosine"] >= FAITHFUL_COSINE
    assert all(t["per_second"] > 0 for t in trials.values())
    assert encoder.cache_key.endswith(f"-{encoder.precision}-cpu")


def test_the_precision_can_be_forced_for_a_process(monkeypatch, model_dir):
    monkeypatch.setenv(PRECISION_ENV, "int8")
    assert forced_precision() == "int8"
    assert Encoder(EncoderConfig()).precision == "int8"
    monkeypatch.setenv(PRECISION_ENV, "fp8")
    with pytest.raises(UserError, match="auto, fp32, bf16 or int8"):
        forced_precision()


@pytest.mark.parametrize("native", [True, False])
def test_a_gpu_takes_bf16_where_it_is_native_without_timing(monkeypatch, model_dir, cache_root, native):
    """No GPU here: the GPU branch of ``auto`` is a rule (bf16 where the GPU has it), and it times nothing."""
    import xlmr_demo.encoders as encoders

    monkeypatch.delenv(PRECISION_ENV, raising=False)
    monkeypatch.setattr(encoders, "_torch_cuda_bf16", lambda: native)
    before = sorted((cache_root / "precision").glob("*"))
    encoder = Encoder(EncoderConfig(device="cuda"))  # construction loads nothing
    assert encoder.precision == ("bf16" if native else "fp32") and encoder.cache_key.endswith("-cuda")
    assert sorted((cache_root / "precision").glob("*")) == before
