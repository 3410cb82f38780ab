"""Full fine-tuning on the whole benchmark files, against the frozen-head classifier in the same run.

    python bench/finetune.py [umsab] [wikiann] [speed] [browser] [trainer]

1. UMSAB (en, es, fr, ar): ``python -m finetune.text_classification`` on the train files (val files
   as the validation split), measured on the test files, with each ``--classifier``; the product's
   frozen encoder + MLP head (``python -m xlmr_demo train``) on the same CSVs is the peer. Budget:
   15 minutes of wall time per run.
   Published reference (XLM-T paper): XLM-R-base fully fine-tuned on GPU, 67.3 mean macro-F1.
2. WikiANN: ``python -m finetune.token_classification`` trained on English, measured on the English
   test file and zero-shot on the German one. Budget: 20 CPU minutes (2 cores: 10 minutes of wall time).

3. Speed: training examples per second with each CPU speed-up added in turn, against the seed
   article's recipe (fixed padding to 128 tokens, random batches, fp32, every weight trained).
4. Browser: UMSAB (train, val and test files in one CSV with a split column) fine-tuned through the
   app's ``finetune`` API (gradio_client, as the page calls it) with a 10-minute budget, beside the
   quick head of the same page; then ``python -m finetune.text_classification --train THAT.csv
   --max-minutes 10`` on the same file: the two figures must be equal. Writes ``finetune_browser.md``.
5. Trainer: the product's fine-tuning loop (``finetune.common.fit``) against Hugging Face's
   ``transformers.Trainer`` (needs ``accelerate``) on the same model, UMSAB slice, sequence length, batch size,
   epochs, learning-rate schedule and seed, each side in a fresh process: training tokens and examples per
   second, time in AdamW steps, validation macro-F1 after each epoch and the time each side takes to the lower
   of the two final scores; once with the same trainable weights, once with the product's defaults (word
   embeddings frozen; the CLI's ``--classifier head``). Then AdamW step times, the product's fused optimiser against
   torch's default foreach one. About 12 minutes on 2 cores. Writes ``finetune_trainer.md``.

Each fine-tuning run is a fresh process timed from the outside (wall and CPU seconds); the figures come from
the ``metrics.json`` it writes. Writes ``bench/results/finetune_umsab.md`` and ``bench/results/finetune_wikiann.md``.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))  # first: `finetune` is the package, not this file
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


SPEED_EXAMPLES, SPEED_WARMUP = 640, 64  # UMSAB training tweets timed per setting, after a few untimed steps


def speed(tmp: Path) -> list[str]:
    """Training examples per second, each speed-up added in turn, against the seed article's recipe."""
    import torch
    from heads import write_split
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from finetune.loop import Example, FineTuneConfig, Runner, epoch_batches, make_optimizer, trainable_parameters
    from xlmr_demo.dataset import load_dataset
    from xlmr_demo.embedded import materialize

    data = load_dataset(write_split(tmp / "train.csv", {"train": "train"}))
    rows = np.random.default_rng(0).permutation(len(data.texts))[: SPEED_WARMUP + SPEED_EXAMPLES]  # all languages
    texts = ["query: " + data.texts[i] for i in rows]
    labels = [data.classes.index(data.labels[i]) for i in rows]
    folder = materialize()
    tokenizer = AutoTokenizer.from_pretrained(folder)

    def fresh():
        torch.manual_seed(0)
        return AutoModelForSequenceClassification.from_pretrained(folder, num_labels=3).train()

    def seed_recipe() -> float:
        """The seed article: every text padded to 128 tokens, random batches, fp32, every weight trained."""
        model = fresh()
        optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)
        batch = tokenizer(texts, padding="max_length", truncation=True, max_length=128, return_tensors="pt")
        order = np.random.default_rng(0).permutation(len(texts))
        start = 0.0
        for i in range(0, len(texts), 32):
            if i == SPEED_WARMUP:
                start = time.perf_counter()
            rows = torch.as_tensor(order[i : i + 32])
            out = model(
                input_ids=batch["input_ids"][rows],
                attention_mask=batch["attention_mask"][rows],
                labels=torch.as_tensor(labels)[rows],
            )
            out.loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        return SPEED_EXAMPLES / (time.perf_counter() - start)

    def ours(config: FineTuneConfig, precision: str) -> float:
        model = fresh()
        ids = tokenizer(texts, truncation=True, max_length=128)["input_ids"]
        examples = [Example(x, y) for x, y in zip(ids, labels, strict=True)]
        optimizer = make_optimizer(trainable_parameters(model, config), config)
        runner = Runner(model, config, "cpu", precision)
        t0 = time.perf_counter()
        runner.precompute(examples)  # counted: the frozen layers' one pass is part of the cost
        precompute = time.perf_counter() - t0
        batches = epoch_batches(np.array([len(x) for x in ids]), 32, 0, 0)
        done, timed_from, start = 0, 0, 0.0
        for batch in batches:
            if not start and done >= SPEED_WARMUP:
                timed_from, start = done, time.perf_counter()
            runner.forward(examples, batch, with_labels=True).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            done += len(batch)
        timed = done - timed_from
        return timed / (time.perf_counter() - start + precompute * timed / len(texts))

    peer = seed_recipe()
    settings = [
        ("seed article recipe (peer): pad to 128, random batches, fp32, all weights", None),
        ("dynamic padding + length bucketing, fp32, all weights", (FineTuneConfig(train_embeddings=True), "fp32")),
        ("+ word embeddings frozen (fp32)", (FineTuneConfig(), "fp32")),
        ("+ bf16 autocast (the default on this CPU)", (FineTuneConfig(), "bf16")),
        ("+ `--freeze-layers 6` (lower half computed once)", (FineTuneConfig(freeze_layers=6), "bf16")),
    ]
    lines = [
        "## Training speed: examples per second on UMSAB tweets (batch 32, max 128 tokens)",
        "",
        f"{SPEED_EXAMPLES} training examples timed per setting after {SPEED_WARMUP} untimed ones; each row adds "
        "one speed-up to the row above; the frozen layers' one pass over the data is included in its time.",
        "",
        "| setting | examples/s | vs peer |",
        "|---|---|---|",
    ]
    for name, setting in settings:
        rate = peer if setting is None else ours(*setting)
        lines.append(f"| {name} | {rate:.1f} | {rate / peer:.2f}x |")
    return lines


def browser(tmp: Path) -> list[str]:
    import urllib.request

    from gradio_client import Client, handle_file
    from heads import write_split

    data = write_split(tmp / "umsab.csv", {"train": "train", "val": "validation", "test": "test"})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1"}
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        client = Client(url, verbose=False)
        client.predict(handle_file(str(data)), api_name="/load_file")
        client.predict("text", "label", "language", "split", api_name="/check_data")
        start = time.perf_counter()
        quick = client.predict("embedded", "by_language", 0, api_name="/train")
        quick_wall = time.perf_counter() - start
        start = time.perf_counter()
        job = client.submit("embedded", 10, 0, api_name="/finetune")
        headline_at = None
        while not job.done():
            if headline_at is None and any(str(o[0]).startswith("### Macro-F1") for o in job.outputs()):
                headline_at = time.perf_counter() - start
            time.sleep(0.5)
        page = job.result()
        page_wall = time.perf_counter() - start
        download = Path(page[8])
        download_mb = download.stat().st_size / 2**20
        # WikiANN in the Entities tab: English training file, German test file zero-shot, 10 minutes
        start = time.perf_counter()
        entities = client.predict(
            handle_file(str(WIKIANN / "en" / "train")), handle_file(str(WIKIANN / "de" / "test")), "embedded", 10, 0,
            api_name="/train_entities",
        )  # fmt: skip
        entities_wall = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=60)
    cli_wall, cli_cpu, busy = timed_run(
        ["finetune.text_classification", "--train", str(data), "--max-minutes", "10", "--output", str(tmp / "cli")]
    )
    cli = json.loads((tmp / "cli" / "metrics.json").read_text())
    figure = cli["evaluations"]["eval"]
    from xlmr_demo.classifier import load_archive
    from xlmr_demo.dataset import load_dataset
    from xlmr_demo.embedded import materialize
    from xlmr_demo.metrics import mean_language_macro_f1
    from xlmr_demo.training import evaluate

    test_file = write_split(tmp / "test.csv", {"test": "test"})
    downloaded = evaluate(load_archive(download), load_dataset(test_file, purpose="evaluate", split_column=None))

    folder_mb = sum(f.stat().st_size for f in materialize().rglob("*") if f.is_file()) / 2**20
    langs = ["ar", "en", "es", "fr"]
    page_f1 = float(page[0].split()[2])
    page_mean = float(page[0].split("Mean over languages: ")[1][:5])
    same = (
        f"{figure['macro_f1']:.3f}" == f"{page_f1:.3f}"
        and f"{figure['mean_language_macro_f1']:.3f}" == f"{page_mean:.3f}"
    )
    return [
        "## UMSAB (en, es, fr, ar) fine-tuned in the browser, 10-minute budget",
        "",
        "One CSV of the train (train), val (validation) and test (test) files; the app's `finetune` API as the page "
        "calls it (gradio_client), then `python -m finetune.text_classification --train umsab.csv --max-minutes 10` "
        "on the same file.",
        "",
        "| | ar | en | es | fr | mean over languages | overall | wall | CPU |",
        "|---|---|---|---|---|---|---|---|---|",
        row("command line (finetune.text_classification)", figure, langs, cli_wall, cli_cpu),
        f"| page (`finetune` API): headline | | | | | {page_mean * 100:.1f} | {page_f1 * 100:.1f} | "
        f"{page_wall / 60:.1f} min | |",
        "",
        f"- The page's headline {page_f1:.3f} (mean over languages {page_mean:.3f}) "
        f"{'equals' if same else 'DIFFERS FROM'} the command line's {figure['macro_f1']:.3f} "
        f"({figure['mean_language_macro_f1']:.3f}): macro-F1 on the 3,480 test rows, to the page's 3 decimals.",
        f"- Page: headline after {headline_at / 60:.1f} min, the whole run (transfer and label errors after it) "
        f"{page_wall / 60:.1f} min; the quick head on the same page: {quick_wall:.0f} s, headline "
        f"{quick[0].split()[2]}.",
        f"- Command line: stopped: {cli['stopped']}; weights of epoch {cli['best_epoch']:g}; {cli['device']}, "
        f"{cli['precision']}; other processes kept {busy:.2f} cores busy.",
        f"- The download, loaded back (`load_archive`, as the Predict tab and the CLI do) and run on the same "
        f"test rows: macro-F1 {downloaded['macro_f1']:.3f}, mean over languages "
        f"{mean_language_macro_f1(downloaded):.3f} (it reads texts through the product's encoder, bf16 where native, "
        "with its float16 weights).",
        f"- Download: {download_mb:.1f} MB (the {cli['trainable_parameters']:,} weights fine-tuning changed, in "
        f"{len(cli['trained'])} tensors, float16, with the head) against {folder_mb:.0f} MB for the whole model "
        f"folder ({download_mb / folder_mb:.1%}).",
        "",
        "## WikiANN in the Entities tab: English training file, German test file zero-shot, 10-minute budget",
        "",
        "The app's `train_entities` API with `wikiann/en/train` (a tenth held out for testing, a tenth for "
        "choosing the epoch) and `wikiann/de/test` (measured on a seeded 2,000 of its sentences).",
        "",
        "```",
        entities[0],
        "",
        entities[1],
        "```",
        "",
        f"Wall time {entities_wall / 60:.1f} min. Per type (held-out English sentences):",
        "",
        "| type | precision | recall | F1 | entities |",
        "|---|---|---|---|---|",
        *(f"| {r[0]} | {r[1]:.3f} | {r[2]:.3f} | {r[3]:.3f} | {r[4]} |" for r in entities[2]["data"]),
    ]


# -- the product's loop against Hugging Face's Trainer ----------------------------------------------------

TRAINER_ROWS = {"train": 800, "validation": 150}  # tweets per language, drawn from the train files (seed 0)
TRAINER_EPOCHS = 2  # what `python -m finetune.text_classification` does by default
TRAINER_SIDES = {
    "hf-trainer": "HF `Trainer` (peer): sequence model, all weights, bf16, group_by_length, fused AdamW",
    "loop-all": "product loop, same work: sequence model, all weights (`--train-embeddings`), bf16, bucketing",
    "loop-sequence": "product loop, its defaults on the sequence model (word embeddings frozen)",
    "loop-default": "product loop, CLI default (`--classifier head`: frozen-head fit first, embeddings frozen)",
}


def trainer_csv(path: Path) -> Path:
    """One CSV (text, label, language, split) of a seeded slice of each language's UMSAB train file."""
    import csv

    from heads import LANGS, read_rows

    rng = np.random.default_rng(0)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label", "language", "split"])
        for folder, lang in LANGS.items():
            texts, labels = read_rows(folder, "train")
            order = rng.permutation(len(texts))
            n_train = TRAINER_ROWS["train"]
            for k, i in enumerate(order[: n_train + TRAINER_ROWS["validation"]]):
                writer.writerow([texts[i], labels[i], lang, "train" if k < n_train else "validation"])
    return path


def trainer_side(side: str, data_path: Path) -> dict:
    """Train one side on the slice in ``data_path``; the clock starts when training is set up (model loaded,
    texts tokenised), except for the head classifier, whose frozen-head fit is part of what its CLI runs."""
    import torch
    from sklearn.metrics import accuracy_score, f1_score
    from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook
    from transformers import AutoModelForSequenceClassification

    from finetune.common import Fitting, fit, load_model
    from finetune.loop import Example, FineTuneConfig
    from finetune.text_classification import _head_model, tokenize
    from xlmr_demo.dataset import load_dataset
    from xlmr_demo.encoders import auto_precision, model_prompt
    from xlmr_demo.progress import TuningStep

    data = load_dataset(data_path)
    config = FineTuneConfig(epochs=TRAINER_EPOCHS, train_embeddings=side in ("hf-trainer", "loop-all"), patience=9)
    precision = auto_precision("cpu")
    rows = {s: data.indices(s) for s in ("train", "validation")}
    truth = {s: np.array([data.classes.index(data.labels[i]) for i in r]) for s, r in rows.items()}
    evaluations: list[dict] = []  # each validation measurement: seconds since the start, scores
    optimizer_seconds = [0.0, 0.0]  # in optimizer.step (both sides call torch's AdamW), when the latest began

    def step_began(*_) -> None:
        optimizer_seconds[1] = time.perf_counter()

    def step_ended(*_) -> None:
        optimizer_seconds[0] += time.perf_counter() - optimizer_seconds[1]

    register_optimizer_step_pre_hook(step_began)
    register_optimizer_step_post_hook(step_ended)
    started = time.monotonic()
    if side == "loop-default":
        model, tokenizer, _, folder, _, _ = _head_model(data, "embedded", config)
    else:
        model, tokenizer, folder = load_model(
            AutoModelForSequenceClassification, "embedded", config.seed, num_labels=len(data.classes)
        )
    ids = {s: tokenize(tokenizer, [data.texts[i] for i in r], model_prompt(folder), config.max_length)[0]
           for s, r in rows.items()}  # fmt: skip
    tokens = sum(len(x) for x in ids["train"]) * config.epochs

    def scores(logits, labels) -> dict:
        predicted = np.asarray(logits).argmax(-1)
        return {"macro_f1": f1_score(labels, predicted, average="macro"),
                "accuracy": accuracy_score(labels, predicted)}  # fmt: skip

    if side == "hf-trainer":
        from transformers import DataCollatorWithPadding, TrainerCallback, TrainingArguments
        from transformers import Trainer as HFTrainer

        class Clock(TrainerCallback):
            def on_evaluate(self, args, state, control, metrics=None, **kwargs):
                evaluations.append({"epoch": round(state.epoch, 3), "at": time.monotonic() - started,
                                    "eval_seconds": metrics["eval_runtime"], "macro_f1": metrics["eval_macro_f1"],
                                    "accuracy": metrics["eval_accuracy"]})  # fmt: skip

        def dataset(split: str) -> list[dict]:
            return [{"input_ids": x, "labels": int(y)} for x, y in zip(ids[split], truth[split], strict=True)]

        with tempfile.TemporaryDirectory() as out:
            args = TrainingArguments(
                output_dir=out, use_cpu=True, bf16=precision == "bf16", seed=config.seed,
                num_train_epochs=config.epochs, per_device_train_batch_size=config.batch_size,
                per_device_eval_batch_size=config.batch_size * 2, learning_rate=config.lr,
                warmup_steps=config.warmup, weight_decay=config.weight_decay, lr_scheduler_type="linear",
                max_grad_norm=1.0, train_sampling_strategy="group_by_length", eval_strategy="epoch",
                save_strategy="no", logging_strategy="no", report_to="none", dataloader_num_workers=0,
                disable_tqdm=True,
            )  # fmt: skip
            trainer = HFTrainer(
                model=model, args=args, train_dataset=dataset("train"), eval_dataset=dataset("validation"),
                processing_class=tokenizer, data_collator=DataCollatorWithPadding(tokenizer),
                compute_metrics=lambda p: scores(p.predictions, p.label_ids), callbacks=[Clock()],
            )  # fmt: skip
            created = trainer.create_optimizer()
            optimizer = f"torch.optim.{type(created).__name__}(fused={created.defaults.get('fused')})"
            trainer.train()
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        wall = time.monotonic() - started
    else:
        last_step = [0.0]  # when the latest training step (or the set-up) ended: where an evaluation starts

        def measure(name: str, logits: list[np.ndarray]) -> dict:
            now = time.monotonic() - started
            evaluations.append(
                {"at": now, "eval_seconds": now - last_step[0], **scores(np.stack(logits), truth["validation"])}
            )
            return {"score": evaluations[-1]["macro_f1"], "summary": ""}

        def progress(step) -> None:
            if isinstance(step, TuningStep):
                last_step[0] = time.monotonic() - started

        labelled = {s: [Example(x, int(y)) for x, y in zip(ids[s], truth[s], strict=True)] for s in ids}
        measured = Fitting(model, labelled["train"], labelled["validation"], {}, measure, {})._asdict()
        last_step[0] = time.monotonic() - started
        result = fit(task="bench", **measured, config=config, output=None, started=started,
                     describe=lambda r: {}, baseline=side == "loop-default", progress=progress)  # fmt: skip
        wall = time.monotonic() - started
        optimizer, trainable = "make_optimizer: torch.optim.AdamW(fused=True)", result["trainable_parameters"]
        for e, h in zip(evaluations, result["history"], strict=True):
            e["epoch"] = h["epoch"]
    return {"side": side, "wall": wall, "evaluations": evaluations, "tokens": tokens,
            "examples": len(ids["train"]) * config.epochs, "trainable": trainable, "precision": precision,
            "optimizer": optimizer, "threads": torch.get_num_threads(),
            "optimizer_seconds": optimizer_seconds[0]}  # fmt: skip


def trainer(tmp: Path) -> list[str]:
    """Each side in a fresh process, one after the other, on the same slice; then the report."""
    from encode import _busy_seconds, machine_facts

    data = trainer_csv(tmp / "slice.csv")
    runs = {}
    for side in TRAINER_SIDES:
        out = tmp / f"{side}.json"
        before, busy = resource.getrusage(resource.RUSAGE_CHILDREN), _busy_seconds()
        start = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--side", side, str(data), str(out)], cwd=ROOT, check=True)
        process_wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        run = json.loads(out.read_text())
        runs[side] = {**run, "process_wall": process_wall, "cpu": cpu,
                      "others": max(0.0, _busy_seconds() - busy - cpu) / process_wall}  # fmt: skip
        print(json.dumps(runs[side]), file=sys.stderr)
    out = tmp / "optimizer.json"
    subprocess.run([sys.executable, __file__, "--optimizer", str(out)], cwd=ROOT, check=True)
    seconds = json.loads(out.read_text())
    return [*machine_facts()[1:], "", *trainer_lines(runs), *optimizer_lines(seconds, runs)]


def trainer_lines(runs: dict[str, dict]) -> list[str]:
    import importlib.metadata as md

    def reached(r: dict, target: float) -> float:  # seconds to the first validation score at or above target
        return next(e["at"] for e in r["evaluations"] if e["macro_f1"] >= target)

    peer = runs["hf-trainer"]
    for r in runs.values():
        r["train_seconds"] = r["wall"] - sum(e["eval_seconds"] for e in r["evaluations"])
        r["target"] = min(r["evaluations"][-1]["macro_f1"], peer["evaluations"][-1]["macro_f1"])
        r["reached"], r["peer_reached"] = reached(r, r["target"]), reached(peer, r["target"])
    rows = []
    for side, r in runs.items():
        final, best = r["evaluations"][-1], max(r["evaluations"], key=lambda e: e["macro_f1"])
        speed = r["tokens"] / r["train_seconds"]
        rows.append(
            f"| {TRAINER_SIDES[side]} | {r['trainable'] / 1e6:.1f}M | {r['wall']:.0f} s | {r['train_seconds']:.0f} s "
            f"| {r['optimizer_seconds']:.0f} s | {r['examples'] / r['train_seconds']:.1f} | {speed:,.0f} | "
            f"{peer['train_seconds'] / r['train_seconds']:.2f}x | {final['macro_f1'] * 100:.1f} / "
            f"{final['accuracy'] * 100:.1f} | {best['macro_f1'] * 100:.1f} (epoch {best['epoch']:g}) | "
            f"{r['target'] * 100:.1f}: {r['reached']:.0f} s against {r['peer_reached']:.0f} s | "
            f"{r['peer_reached'] / r['reached']:.2f}x |"
        )
    n_train, n_val = (TRAINER_ROWS[s] * 4 for s in ("train", "validation"))
    lines = [
        "## The product's fine-tuning loop against Hugging Face `transformers.Trainer`",
        "",
        f"- Versions: accelerate {md.version('accelerate')}; threads {peer['threads']}; precision "
        f"{peer['precision']} on both sides (autocast; the weights and AdamW state in fp32).",
        f"- Recipe, both sides: the embedded model (`intfloat/multilingual-e5-small`, {TRAINER_EPOCHS} epochs, "
        f"batch 32, max 128 tokens, `query: ` prompt, the same token ids), AdamW lr 5e-5, linear warm-up over 10% "
        "of the steps then linear decay to 0, weight decay 0.01 (not on biases and LayerNorms), gradients clipped "
        "to norm 1, seed 0 (the same initial head); UMSAB tweets: "
        f"{n_train:,} training and {n_val:,} validation rows, {TRAINER_ROWS['train']} + "
        f"{TRAINER_ROWS['validation']} per language (en, es, fr, ar) drawn with seed 0 from the train files; "
        "validation macro-F1 measured after every epoch on both sides (eval batch 64, length-grouped).",
        "- `Trainer`: `TrainingArguments(use_cpu=True, bf16=True, train_sampling_strategy='group_by_length', "
        "eval_strategy='epoch', save_strategy='no', logging_strategy='no', dataloader_num_workers=0, "
        f"default optim: {peer['optimizer']})`, `DataCollatorWithPadding`, no checkpoints.",
        "- The product: `finetune.common.fit` (the loop `python -m finetune.text_classification` runs), no "
        "checkpoints; its defaults are word embeddings frozen and, for the CLI, `--classifier head`.",
        "- Each side in a fresh process, one after the other; the clock starts when training is set up (model "
        "loaded, texts tokenised), except for the CLI default, whose frozen-head fit (loading the encoder, "
        f"embedding the {n_train + n_val:,} rows, fitting the MLP head, loading the model to fine-tune) is part of "
        "what it runs and is counted. Tokens: real (non-padding) training tokens, both epochs; training time: wall "
        "time less the validation passes.",
        '- "Time to the same score": for each row, the lower of its final validation macro-F1 and `Trainer`\'s; '
        "the seconds at which that row, and `Trainer`, first measured at least that much (scores are measured "
        "after each epoch, and before training for the CLI default, whose start is the frozen-head classifier).",
        "",
        "| setting | trained weights | wall | training | of which AdamW steps | examples/s | tokens/s | training "
        "speed vs `Trainer` | final val macro-F1 / accuracy | best val macro-F1 | time to the same score: "
        "target, this row against `Trainer` | vs `Trainer` |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Validation macro-F1 after each evaluation (seconds since the start):",
        "",
    ]
    for side, r in runs.items():
        history = ", ".join(f"epoch {e['epoch']:g}: {e['macro_f1'] * 100:.1f} at {e['at']:.0f} s"
                            for e in r["evaluations"])  # fmt: skip
        lines.append(f"- `{side}`: {history}; other processes kept {r['others']:.2f} cores busy.")
    return [*lines, ""]


OPTIMIZER_STEPS = 5  # timed AdamW steps per setting, after one untimed


def optimizer_steps() -> dict[str, dict[str, float]]:
    """Seconds per AdamW step on the sequence model's weights (random gradients): the product's optimiser
    (``finetune.loop.make_optimizer``, fused, as `Trainer`'s default) against the same groups in torch's default
    multi-tensor ``foreach`` AdamW (the product's until 2026-12-03), all weights and word embeddings frozen."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from finetune.common import load_model
    from finetune.loop import FineTuneConfig, make_optimizer, trainable_parameters

    model, _, _ = load_model(AutoModelForSequenceClassification, "embedded", 0, num_labels=3)
    seconds: dict[str, dict[str, float]] = {}
    for weights, config in (("all", FineTuneConfig(train_embeddings=True)), ("embeddings frozen", FineTuneConfig())):
        params = trainable_parameters(model, config)
        for p in params.values():
            p.grad = torch.randn_like(p) * 1e-3
        product = make_optimizer(params, config)
        groups = [{"params": g["params"], "weight_decay": g["weight_decay"]} for g in product.param_groups]
        for name, optimizer in (("foreach", torch.optim.AdamW(groups, lr=config.lr, foreach=True)), ("fused", product)):
            optimizer.step()
            start = time.perf_counter()
            for _ in range(OPTIMIZER_STEPS):
                optimizer.step()
            seconds.setdefault(weights, {})[name] = (time.perf_counter() - start) / OPTIMIZER_STEPS
    return seconds


def optimizer_lines(seconds: dict[str, dict[str, float]], runs: dict[str, dict]) -> list[str]:
    return [
        "### The AdamW step",
        "",
        f"Seconds per optimiser step on the sequence model's weights ({OPTIMIZER_STEPS} timed steps after one, "
        "random gradients, the product's two parameter groups), in a separate process after the runs above:",
        "",
        "| trained weights | torch's default (`foreach`): the product's until 2026-12-03 | `fused=True`: the product's "
        "`make_optimizer` now, and `Trainer`'s | ratio |",
        "|---|---|---|---|",
        *(
            f"| {w} | {s['foreach']:.3f} s | {s['fused']:.3f} s | {s['foreach'] / s['fused']:.1f}x |"
            for w, s in seconds.items()
        ),
        "",
        *reading(seconds, runs),
    ]


def reading(seconds: dict[str, dict[str, float]], runs: dict[str, dict]) -> list[str]:
    """What the figures say, with the figures."""
    peer, same, frozen, default = (runs[k] for k in TRAINER_SIDES)

    def outside(r: dict) -> float:  # training seconds outside optimizer.step: batching, forward, backward, clipping
        return r["train_seconds"] - r["optimizer_seconds"]

    return [
        "### Reading",
        "",
        f"- Same work: the product's loop trains at {peer['train_seconds'] / same['train_seconds']:.2f}x "
        f"`Trainer`'s speed, not the 1.5x asked. Outside `optimizer.step` the two spend {outside(same):.0f} s and "
        f"{outside(peer):.0f} s ({outside(peer) / outside(same):.2f}x): both pad each batch to its longest text, "
        "both sort pools of 50 batches by length (`Trainer`'s `LengthGroupedSampler` does what "
        "`finetune.loop.epoch_batches` does), both run the same model under the same bf16 autocast, so the same "
        "PyTorch kernels do the same arithmetic, and that arithmetic (forward and backward) is nearly all of a "
        "step. No loop can be 1.5x faster than another at equal arithmetic; only less arithmetic can.",
        f"- The optimiser: the product's AdamW is fused, as `Trainer`'s is: {same['optimizer_seconds']:.0f} s in "
        f"`optimizer.step` against {peer['optimizer_seconds']:.0f} s. torch's default multi-tensor `foreach` AdamW, "
        f"the product's until 2026-12-03, takes {seconds['all']['foreach'] / seconds['all']['fused']:.1f}x as long a "
        f"step on all 117.7M weights (the word-embedding matrix is 96M of them) and "
        f"{seconds['embeddings frozen']['foreach'] / seconds['embeddings frozen']['fused']:.1f}x with it frozen.",
        f"- Less work is where the product is faster: its default of frozen word embeddings trains "
        f"{peer['train_seconds'] / frozen['train_seconds']:.2f}x `Trainer`'s speed (AdamW on 21.6M weights instead "
        f"of 117.7M, and no dense 96M-number gradient for the embedding matrix in each backward pass: "
        f"{outside(frozen):.0f} s outside the optimiser against {outside(peer):.0f} s), and its CLI default (the "
        f"frozen-head classifier fitted first, then fine-tuned) reached `Trainer`'s final score "
        f"{default['peer_reached'] / default['reached']:.2f}x sooner than `Trainer` did, its frozen-head fit "
        f"included (it scored {default['evaluations'][0]['macro_f1'] * 100:.1f} before any fine-tuning).",
        "",
    ]


def main() -> None:
    if sys.argv[1:2] == ["--optimizer"]:  # the `trainer` section's AdamW steps, in their own process
        Path(sys.argv[2]).write_text(json.dumps(optimizer_steps()))
        return
    if sys.argv[1:2] == ["--side"]:  # one side of the `trainer` section, in its own process
        side, data, out = sys.argv[2:5]
        Path(out).write_text(json.dumps(trainer_side(side, Path(data))))
        return
    wanted = sys.argv[1:] or ["umsab", "wikiann", "speed"]
    for name in wanted:
        with tempfile.TemporaryDirectory() as tmp:
            sections = {"umsab": umsab, "wikiann": wikiann, "speed": speed, "browser": browser, "trainer": trainer}
            lines = sections[name](Path(tmp))
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
