"""Which arithmetic embeds fastest on this machine: measured once per machine and model, then remembered.

``precision="auto"`` on a CPU times each way of running the model (fp32, bf16, int8 where this torch has
it) on :data:`PROBE` sentences of eight languages, and compares each one's vectors with fp32's. A way is
faithful when no probe sentence's vector moves further than :data:`FAITHFUL_COSINE` from fp32's; the
fastest faithful way wins, and where two are within :data:`TIE` of each other (timing noise), the more
faithful one. Instruction-set flags would guess: on an Intel Xeon with AMX, int8 through ``torch._int_mm``
ran at 0.6x bf16, on an AMD EPYC at 0.95x (``bench/results/encode.md``), and neither flag says so.

The choice is written to ``<cache>/precision/<key>.json`` (what was timed, the figures, the date), keyed by
the CPU's name and flags, its usable cores, the torch version and the model's shape (type, width, layers,
heads: a fine-tuned copy runs at its base model's speed), so a machine measures once per shape (about ten
seconds, on first use) and a cache folder shared between machines never hands one machine's choice to
another. Deleting the file measures again. Reading it needs no torch.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata as md
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from .paths import cache_dir
from .writers import write_file_atomically

#: Sentences timed per way: the first of the int8 calibration sentences (eight languages, our own sample)
PROBE = 256
#: The least cosine between a probe sentence's vector and fp32's for a way to count as faithful. bf16 keeps
#: 0.9999 and int8 0.998 on Tatoeba, where both keep retrieval within 0.1 point of fp32 (bench/results/encode.md)
FAITHFUL_COSINE = 0.995
#: Ways within this share of the fastest are a tie, settled by faithfulness (timings on 2 cores vary ~3%)
TIE = 0.05
CHOICES = ("fp32", "bf16", "int8")
_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_bf16", "amx_int8", "amx_tile")


@dataclass(frozen=True)
class Trial:
    """One way of running the model, timed: sentences per second, and its worst cosine against fp32."""

    precision: str
    per_second: float
    min_cosine: float


def choose(trials: Sequence[Trial]) -> str:
    """The fastest faithful way (fp32 is the reference, always faithful); a tie goes to the more faithful."""
    faithful = [t for t in trials if t.precision == "fp32" or t.min_cosine >= FAITHFUL_COSINE]
    fastest = max(t.per_second for t in faithful)
    near = [t for t in faithful if t.per_second >= (1 - TIE) * fastest]
    return max(near, key=lambda t: (t.min_cosine, t.per_second)).precision


@functools.cache
def cpu() -> tuple[str, frozenset[str]]:
    """The CPU's model name and instruction-set flags, read from ``/proc/cpuinfo`` (Linux; elsewhere "" and none)."""
    name, flags = "", frozenset()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and not name:
                    name = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = frozenset(value.split())
    except OSError:
        pass
    return name, flags


def machine() -> dict:
    """What makes one machine's timings differ from another's, read without importing torch."""
    name, flags = cpu()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        torch_version = md.version("torch")
    except md.PackageNotFoundError:
        torch_version = ""
    return {
        "cpu": name or os.uname().machine,
        "flags": sorted(flags & set(_FLAGS)),
        "cores": cores,
        "threads": os.environ.get("OMP_NUM_THREADS", ""),
        "torch": torch_version,
    }


def remembered(model: str, measure: Callable[[], list[Trial]]) -> str:
    """The way chosen for ``model`` (its shape) on this machine: read from its file, else measured
    with ``measure()`` and written there."""
    facts = machine()
    key = hashlib.sha256(json.dumps([facts, model], sort_keys=True).encode()).hexdigest()[:20]
    folder = cache_dir() / "precision"
    path = folder / f"{key}.json"
    try:
        chosen = json.loads(path.read_text(encoding="utf-8"))["precision"]
        if chosen in CHOICES:
            return chosen
    except (OSError, ValueError, KeyError, TypeError):
        pass
    trials = measure()
    chosen = choose(trials)
    record = {
        "precision": chosen,
        "machine": facts,
        "model": model,
        "measured": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "trials": [asdict(t) for t in trials],
        "rule": f"fastest with every probe cosine >= {FAITHFUL_COSINE} against fp32; within {TIE:.0%}: more faithful",
    }
    folder.mkdir(parents=True, exist_ok=True)
    write_file_atomically(path, lambda tmp: tmp.write_text(json.dumps(record, indent=1), encoding="utf-8"))
    return chosen
