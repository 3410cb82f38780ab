"""Full fine-tuning on the whole benchmark files, against the frozen-head classifier in the same run.

    python bench/finetune.py [umsab] [wikiann]

1. UMSAB (en, es, fr, ar): ``python -m finetune.text_classification`` on the train files (val files
   as the validation split), measured on the test files, with each ``--classifier``; the product's
   frozen encoder + MLP head (``python -m xlmr_demo train``) on the same CSVs is the peer. Budget:
   15 minutes of wall time per run.
   Published reference (XLM-T paper): XLM-R-base fully fine-tuned on GPU, 67.3 mean macro-F1.
2. WikiANN: ``python -m finetune.token_classification`` trained on English, measured on the English
   test file and zero-shot on the German one. Budget: 20 CPU minutes (2 cores: 10 minutes of wall time).

Each run is a fresh process timed from the outside (wall and CPU seconds); the figures come from
the ``metrics.json`` it writes. Writes ``bench/results/finetune_umsab.md`` and ``bench/results/finetune_wikiann.md``.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
WIKIANN = ROOT.parent / "shared" / "data" / "wikiann"
RESULTS = ROOT / "bench" / "results"

UMSAB_ARGS = ["--max-minutes", "14"]  # the defaults otherwise; 14 leaves the start-up inside the 15
WIKIANN_ARGS = ["--epochs", "3", "--max-minutes", "9.5"]  # 9.5 wall minutes on 2 cores: under 20 CPU minutes


def timed_run(args: list[str]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of the child, cores other processes kept busy) of ``python -m ...args``."""
    from encode import _busy_seconds

    before, busy = resource.getrusage(resource.RUSAGE_CHILDREN), _busy_seconds()
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", *args], cwd=ROOT, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, max(0.0, _busy_seconds() - busy - cpu) / wall


def row(name: str, metrics: dict, langs: list[str], wall: float, cpu: float) -> str:
    per_language = [metrics["per_language"][lang]["macro_f1"] * 100 for lang in langs]
    cells = [f"{v:.1f}" for v in per_language]
    cells += [f"{sum(per_language) / len(langs):.1f}", f"{metrics['macro_f1'] * 100:.1f}"]
    return f"| {name} | {' | '.join(cells)} | {wall / 60:.1f} min | {cpu / 60:.1f} min |"


def loss(epoch: dict) -> str:
    return "before training" if epoch["train_loss"] is None else f"{epoch['train_loss']:.4f}"


CLASSIFIERS = {"head": "product classifier (default `--classifier head`)", "sequence": "`--classifier sequence`"}


def umsab(tmp: Path) -> list[str]:
    from heads import write_split

    train = write_split(tmp / "train.csv", {"train": "train", "val": "validation"})
    test = write_split(tmp / "test.csv", {"test": "test"})
    head_wall, head_cpu, _ = timed_run(
        ["xlmr_demo", "train", str(train), "--eval", str(test), "--output", str(tmp / "head")]
    )
    head = json.loads((tmp / "head" / "metrics.json").read_text())
    runs = {}
    for kind in CLASSIFIERS:
        out = tmp / f"umsab-{kind}"
        cmd = ["finetune.text_classification", "--train", str(train), "--eval", str(test), "--output", str(out)]
        timing = timed_run([*cmd, "--classifier", kind, *UMSAB_ARGS])
        runs[kind] = (json.loads((out / "metrics.json").read_text()), timing)
    return umsab_lines(runs, head, (head_wall, head_cpu))


def umsab_lines(runs: dict[str, tuple[dict, tuple]], head: dict, head_timing: tuple) -> list[str]:
    langs = list(head["per_language"])
    lines = [
        "## UMSAB sentiment (en, es, fr, ar): macro-F1 on the test files",
        "",
        f"Command: `python -m finetune.text_classification --train train.csv --eval test.csv --output DIR "
        f"--classifier KIND {' '.join(UMSAB_ARGS)}` (CSVs as in `bench/heads.py`: the val files are the validation "
        "split, which picks the epoch; the test files are only measured). Peer: `python -m xlmr_demo train "
        "train.csv --eval test.csv` in the same run.",
        "",
        "| | " + " | ".join(langs) + " | mean over languages | overall | wall | CPU |",
        "|---|" + "---|" * (len(langs) + 4),
        *(row(f"fine-tuned, {CLASSIFIERS[k]}", m["evaluations"]["eval"], langs, *t[:2]) for k, (m, t) in runs.items()),
        row("frozen encoder + MLP head (peer)", head, langs, *head_timing),
        "",
        "Published (XLM-T, Barbieri et al. 2022): XLM-R-base fine-tuned on GPU 67.3 mean "
        "(ar 64.3, en 68.5, fr 70.5, es 66.0); fastText 50.5.",
        "",
    ]
    for kind, (metrics, (_, _, others)) in runs.items():
        lines += [
            f"### {CLASSIFIERS[kind]}",
            "",
            f"Stopped: {metrics['stopped']}; weights of epoch {metrics['best_epoch']} (best validation macro-F1). "
            f"Device {metrics['device']}, {metrics['precision']}, {metrics['trainable_parameters']:,} trainable "
            f"parameters; other processes kept {others:.2f} cores busy. Settings: `{json.dumps(metrics['config'])}`.",
            "",
            "| epoch | train loss | validation macro-F1 | test macro-F1 |",
            "|---|---|---|---|",
            *(f"| {h['epoch']} | {loss(h)} | {h['validation']:.4f} | {h['eval']:.4f} |" for h in metrics["history"]),
            "",
        ]
    return lines


def wikiann(tmp: Path) -> list[str]:
    out = tmp / "wikiann"
    cmd = [
        "finetune.token_classification",
        "--train",
        str(WIKIANN / "en" / "train"),
        "--eval",
        str(WIKIANN / "en" / "test"),
        "--eval-other-language",
        str(WIKIANN / "de" / "test"),
        "--output",
        str(out),
    ]
    wall, cpu, others = timed_run(cmd + WIKIANN_ARGS)
    return wikiann_lines(json.loads((out / "metrics.json").read_text()), wall, cpu, others)


def wikiann_lines(metrics: dict, wall: float, cpu: float, others: float) -> list[str]:
    ev = metrics["evaluations"]
    lines = [
        "## WikiANN NER: train English, measure English and German (zero-shot), entity-level",
        "",
        f"Command: `python -m finetune.token_classification --train en/train --eval en/test "
        f"--eval-other-language de/test --output DIR {' '.join(WIKIANN_ARGS)}`. "
        f"Settings: `{json.dumps(metrics['config'])}`.",
        f"Stopped: {metrics['stopped']}; weights of epoch {metrics['best_epoch']}. Wall {wall / 60:.1f} min, "
        f"CPU {cpu / 60:.1f} min ({metrics['device']}, {metrics['precision']}); other processes kept {others:.2f} "
        "cores busy.",
        "",
        "| test file | sentences | precision | recall | entity F1 |",
        "|---|---|---|---|---|",
    ]
    for name, lang in metrics["settings"]["measured"].items():
        m = ev[name]["entity"]["micro"]
        lines.append(
            f"| {lang} | {ev[name]['sentences']:,} | {m['precision'] * 100:.1f} | {m['recall'] * 100:.1f} | "
            f"{m['f1'] * 100:.1f} |"
        )
    lines += ["", "English test, entities:", "", "```", ev["eval"]["entity_report"], "```", ""]
    lines += ["English test, per word tag (the seed article's report):", "", "```", ev["eval"]["token_report"], "```"]
    lines += ["", "German test (zero-shot), entities:", "", "```", ev["de"]["entity_report"], "```", ""]
    return lines


def main() -> None:
    wanted = sys.argv[1:] or ["umsab", "wikiann"]
    for name in wanted:
        with tempfile.TemporaryDirectory() as tmp:
            lines = {"umsab": umsab, "wikiann": wikiann}[name](Path(tmp))
        header = [
            f"# Fine-tuning benchmark: {name}",
            "",
            f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.machine()}, "
            f"{os.cpu_count()} cores; `python bench/finetune.py {name}`",
            "",
        ]
        path = RESULTS / f"finetune_{name}.md"
        path.write_text("\n".join(header + lines) + "\n", encoding="utf-8")
        print(path.read_text())


if __name__ == "__main__":
    main()
