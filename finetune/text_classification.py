"""Fine-tune a whole encoder for text classification.

    python -m finetune.text_classification --train T.csv --eval E.csv --output DIR [--model NAME]
        [--text-column C] [--label-column C] [--language-column C] [--epochs N] [--lr X]
        [--batch-size N] [--max-length N] [--freeze-layers N] [--max-minutes M] [--seed N]
        [--classifier head|sequence]

Reads the same files as ``python -m xlmr_demo train`` (any table format, columns detected or
named, languages from a column or detected). Validation rows for early stopping and model choice
come from the training file: its split column's validation rows when it has one, else 10% of it,
stratified by label and language. The ``--eval`` file is only measured, each epoch, overall and
per language; it never picks anything.

Two classifiers (``--classifier``):

- ``head`` (default): the product's own classifier fine-tuned end to end. It starts from the
  classifier ``python -m xlmr_demo train`` builds on the same rows (masked mean pooling, L2
  normalisation, the MLP head; measured as "epoch 0", so the result is never worse on validation)
  and trains encoder and head together. Output: the encoder as a standard Hugging Face +
  sentence-transformers folder (``AutoModel`` loads it) with ``head.safetensors`` + ``head.json``
  beside it.
- ``sequence``: a new ``AutoModelForSequenceClassification`` ([CLS] pooler, random head), the
  layout of the seed article; its folder has the label names in ``config.json``.

Either folder also holds ``metrics.json``, and the product reads both:
``python -m xlmr_demo predict DIR data.csv`` predicts with it, ``evaluate`` measures it, and
``--model DIR`` uses its fine-tuned encoder for embeddings, maps and new heads.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Literal

import numpy as np
from transformers import AutoModel, AutoModelForSequenceClassification

from xlmr_demo.cli import run_cli
from xlmr_demo.dataset import DataConfig, Dataset, load_dataset
from xlmr_demo.encoders import base_model_kwargs, embed, load_encoder, model_prompt
from xlmr_demo.errors import UserError
from xlmr_demo.heads import HeadConfig, class_weights
from xlmr_demo.metrics import classification_metrics, classification_report, mean_language_macro_f1
from xlmr_demo.saved import write_finetuned_head
from xlmr_demo.training import fit_head

from .common import RESUME_HINT, add_training_options, config_from, load_model, run, save_pretrained
from .loop import Example, FineTuneConfig, FitResult, prepare_output, say
from .pooled import PooledClassifier

TASK = "text-classification"
# 2 epochs tied 3 on UMSAB validation macro-F1 (68.99 vs 69.00) in two-thirds of the time
DEFAULTS = FineTuneConfig(epochs=2)


def language_table(metrics: dict) -> str:
    rows = [f"{'language':>10}  {'macro-F1':>8}  {'accuracy':>8}  {'n':>6}"]
    for lang, r in metrics["per_language"].items():
        rows.append(f"{lang:>10}  {r['macro_f1']:8.4f}  {r['accuracy']:8.4f}  {r['n']:6d}")
    return "\n".join(rows)


def tokenize(tokenizer, texts: list[str], prompt: str, max_length: int) -> tuple[list[list[int]], int]:
    """Ids of ``prompt + text`` cut to ``max_length`` (keeping the closing special token), and how many were cut."""
    ids = tokenizer([prompt + t for t in texts], add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
    cut = sum(len(x) > max_length for x in ids)
    return [x if len(x) <= max_length else [*x[: max_length - 1], x[-1]] for x in ids], cut


def _head_model(data: Dataset, model: str, config: FineTuneConfig):
    """(network, tokenizer, save, folder, head settings): the product's classifier, to fine-tune end to end."""
    encoder = load_encoder(model)
    say("training the frozen-head classifier to start from ...")
    X = embed(data.texts, model=encoder).embeddings
    train = data.indices("train")
    head_config = HeadConfig(kind="mlp", seed=config.seed)  # fine-tuned end to end: one network for every language
    head = fit_head(X, data.labels, train, data.indices("validation"), head_config)  # as `xlmr_demo train` does
    counts = np.unique([data.labels[i] for i in train], return_counts=True)[1]  # classes in sorted order, as the head
    network, tokenizer, folder = load_model(AutoModel, model, config.seed, **base_model_kwargs(encoder.folder))
    module = PooledClassifier(network, head, class_weights(counts, head_config.class_weight))

    def save(output: Path) -> None:
        network.save_pretrained(output)
        tokenizer.save_pretrained(output)
        about = {"labels": head.classes_.tolist(), "head": head.settings(), "base_model": encoder.name}
        write_finetuned_head(output, about, head.tensors())

    return module, tokenizer, save, folder, asdict(head_config)


def _sequence_model(labels: list[str], model: str, config: FineTuneConfig):
    """(network, tokenizer, save, folder): a new AutoModelForSequenceClassification ([CLS] pooler, new head)."""
    network, tokenizer, folder = load_model(
        AutoModelForSequenceClassification,
        model,
        config.seed,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={c: i for i, c in enumerate(labels)},
    )
    return network, tokenizer, save_pretrained(network, tokenizer), folder


def finetune(
    train_path: str | Path,
    eval_path: str | Path,
    output: str | Path,
    model: str = "embedded",
    config: FineTuneConfig = DEFAULTS,
    classifier: Literal["head", "sequence"] = "head",
    text_column: str | None = None,
    label_column: str | None = None,
    language_column: str | None = None,
) -> dict:
    """Fine-tune ``model`` on ``train_path``, measure on ``eval_path``, save to ``output``; return the metrics."""
    started = time.monotonic()
    output = Path(output)
    prepare_output(output)
    columns = {"text_column": text_column, "label_column": label_column, "language_column": language_column}
    data = load_dataset(train_path, DataConfig(seed=config.seed), **columns).test_rows_trained_on()  # --eval measures
    held_out = load_dataset(eval_path, DataConfig(seed=config.seed), purpose="evaluate", **columns, split_column=None)
    for note in data.warnings + data.notes + held_out.warnings + held_out.notes:
        say(f"note: {note}")
    labels = data.classes
    unseen = sorted(set(held_out.labels) - set(labels))
    if unseen:
        say(f"note: the --eval file has labels never seen in training ({', '.join(unseen)}); they count as errors")
    train_rows, val_rows = data.indices("train"), data.indices("validation")
    if len(val_rows) == 0:
        raise UserError("The training file leaves no rows for validation; it needs a few rows per class.")
    eval_rows = np.arange(len(held_out.texts))
    head_settings = None
    if classifier == "head":
        network, tokenizer, save, folder, head_settings = _head_model(data, model, config)
    elif classifier == "sequence":
        network, tokenizer, save, folder = _sequence_model(labels, model, config)
    else:
        raise UserError(f"--classifier must be 'head' or 'sequence', not {classifier!r}.")
    prompt = model_prompt(folder)
    index = {c: i for i, c in enumerate(labels)}

    def examples(ds: Dataset, rows: np.ndarray, name: str) -> list[Example]:
        ids, cut = tokenize(tokenizer, [ds.texts[i] for i in rows], prompt, config.max_length)
        if cut:
            say(f"note: {cut} {name} text(s) are longer than {config.max_length} tokens and were cut")
        return [Example(x, index.get(ds.labels[i], -1)) for x, i in zip(ids, rows, strict=True)]

    sets = {"validation": (data, val_rows), "eval": (held_out, eval_rows)}
    labels_out = labels + unseen

    def measure(name: str, logits: list[np.ndarray]) -> dict:
        ds, rows = sets[name]
        predicted = [labels[int(np.argmax(x))] for x in logits]
        truth = [ds.labels[i] for i in rows]
        metrics = classification_metrics(truth, predicted, labels_out, [ds.languages[i] for i in rows])
        metrics["mean_language_macro_f1"] = mean_language_macro_f1(metrics)
        metrics["score"] = metrics["macro_f1"]
        metrics["summary"] = (
            f"{name}: macro-F1 {metrics['macro_f1']:.4f} (mean over languages {metrics['mean_language_macro_f1']:.4f})"
            f", accuracy {metrics['accuracy']:.4f}\n{classification_report(metrics)}\n{language_table(metrics)}\n"
        )
        return metrics

    settings = {
        "task": TASK,
        "model": model,
        "classifier": classifier,
        "train": str(Path(train_path).resolve()),
        "eval": str(Path(eval_path).resolve()),
        "labels": labels,
        "columns": vars(data.columns),
        "rows": {"train": len(train_rows), "validation": len(val_rows), "eval": len(eval_rows)},
        "prompt": prompt,
        "head": head_settings,
    }

    def describe(result: FitResult) -> dict:
        return {"labels": labels, "evaluations": result.evaluations}

    return run(
        task=TASK,
        model=network,
        save=save,
        folder=folder,
        train=examples(data, train_rows, "training"),
        validation=examples(data, val_rows, "validation"),
        evaluations={"eval": examples(held_out, eval_rows, "evaluation")},
        measure=measure,
        config=config,
        output=output,
        settings=settings,
        started=started,
        describe=describe,
        baseline=classifier == "head",  # epoch 0 is the frozen-head classifier: fine-tuning must beat it
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m finetune.text_classification",
        description="Fine-tune a whole XLM-R-family encoder for text classification.",
    )
    p.add_argument("--train", required=True, help="labelled table (CSV, TSV, Excel, JSON Lines, Parquet)")
    p.add_argument("--eval", required=True, help="labelled table measured each epoch (never used to choose)")
    p.add_argument("--text-column")
    p.add_argument("--label-column")
    p.add_argument("--language-column")
    p.add_argument(
        "--classifier",
        choices=["head", "sequence"],
        default="head",
        help="head (default): the product's classifier (mean pooling and its MLP head, started from the frozen-head "
        "fit) fine-tuned end to end; sequence: a new AutoModelForSequenceClassification ([CLS] pooler)",
    )
    add_training_options(p, DEFAULTS)
    p.set_defaults(run=_command)
    return p


def _command(args: argparse.Namespace) -> None:
    metrics = finetune(
        args.train,
        args.eval,
        args.output,
        model=args.model,
        config=config_from(args),
        classifier=args.classifier,
        text_column=args.text_column,
        label_column=args.label_column,
        language_column=args.language_column,
    )
    scores = metrics["evaluations"]["eval"]
    print(scores["summary"])
    print(
        f"eval macro-F1 {scores['macro_f1']:.4f} (mean over languages "
        f"{scores['mean_language_macro_f1']:.4f}) after {metrics['seconds'] / 60:.1f} min; "
        f"saved to {args.output}",
        file=sys.stderr,
    )


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), argv, interrupted=RESUME_HINT)


if __name__ == "__main__":
    sys.exit(main())
