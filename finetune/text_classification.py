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
import logging
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
from transformers import AutoModel, AutoModelForSequenceClassification

from xlmr_demo.classifier import Classifier, TunedWeightsClassifier
from xlmr_demo.commands import run_cli
from xlmr_demo.dataset import DataConfig, Dataset, grouping_summary, load_dataset, with_found_groups
from xlmr_demo.encoders import Encoder, base_model_kwargs, embed, load_encoder, model_prompt
from xlmr_demo.errors import UserError
from xlmr_demo.heads import Head, HeadConfig, class_weights
from xlmr_demo.metrics import classification_metrics, classification_report, mean_language_macro_f1
from xlmr_demo.progress import Progress, Step, TuningStep
from xlmr_demo.saved import write_finetuned_head
from xlmr_demo.training import LABEL_ERRORS, TRANSFER, TrainResult, diagnose, fit_head

from .common import RESUME_HINT, Fitting, add_training_options, config_from, fit, load_model, run, save_pretrained
from .loop import Example, FineTuneConfig, prepare_output
from .pooled import PooledClassifier

_log = logging.getLogger(__name__)

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


class Prepared(NamedTuple):
    """A fine-tuning job ready to run: what :func:`fit` takes, and how to save the result."""

    fitting: Fitting
    tokenizer: object
    save: Callable[[Path], None]
    folder: Path  # the base model's folder
    encoder: Encoder | None  # the base encoder (the head classifier only)
    head: Head | None  # the head trained end to end with the encoder (the head classifier only)
    data: Dataset  # the training data as split: meaning groups found, translations kept on one side


def check_mean_pooling(encoder: Encoder) -> None:
    """Refuse an encoder whose sentence vector is not the mean of its token vectors (then normalised): the
    product's classifier is fine-tuned through mean pooling (:class:`PooledClassifier`), and any other
    pipeline (LaBSE's [CLS] token and dense layer) would be measured on one vector and predict from another."""
    kinds = [type(m).__name__ for m in encoder.model]
    pooling = [m for m in encoder.model if type(m).__name__ == "Pooling"]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]) or (
        getattr(pooling[0], "pooling_mode", None) != "mean"
    ):
        raise UserError(
            f"{encoder.name!r} makes its sentence vector another way than averaging its word vectors, which "
            "fine-tuning the product's classifier needs. Use the quick head with it, or fine-tune it from the "
            "command line with --classifier sequence."
        )


def _head_model(data: Dataset, model: str, config: FineTuneConfig, progress: Progress | None = None):
    """(network, tokenizer, save, folder, encoder, head): the product's classifier, to fine-tune end to end."""
    encoder = load_encoder(model)
    check_mean_pooling(encoder)
    _log.info("training the frozen-head classifier to start from ...")
    X = embed(data.texts, model=encoder, progress=progress).embeddings
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

    return module, tokenizer, save, folder, encoder, head


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


def prepare(
    data: Dataset,
    held_out: Dataset | None,
    model: str = "embedded",
    config: FineTuneConfig = DEFAULTS,
    classifier: Literal["head", "sequence"] = "head",
    sources: dict | None = None,
    progress: Progress | None = None,
) -> Prepared:
    """A fine-tuning job on a checked dataset: trained on its train rows, the epoch chosen on its
    validation rows, measured on ``held_out`` (every row), or on its test rows when None.

    ``sources`` (file names and the like) go into the job's settings, which identify its checkpoints.
    """
    if held_out is not None:
        data = data.test_rows_trained_on()  # the evaluation file measures: every row here is learnt from
    else:  # the file's own test rows measure: no translation or copy of theirs may be trained on
        data = with_found_groups(data, embed(data.texts, model=load_encoder(model), progress=progress).embeddings)
    labels = data.classes
    train_rows, val_rows = data.indices("train"), data.indices("validation")
    if len(val_rows) == 0:
        raise UserError("The training file leaves no rows for validation; it needs a few rows per class.")
    if held_out is None:
        held_out, eval_rows = data, data.indices("test")
        if len(eval_rows) == 0:
            raise UserError("No rows are marked for testing, so nothing can be measured. Add test rows or --eval data.")
    else:
        eval_rows = np.arange(len(held_out.texts))
    unseen = sorted(set(held_out.labels[i] for i in eval_rows) - set(labels))
    if unseen:
        unseen_text = ", ".join(unseen)
        _log.info("note: the measured rows have labels never seen in training (%s); they count as errors", unseen_text)
    encoder = head = None
    if classifier == "head":
        network, tokenizer, save, folder, encoder, head = _head_model(data, model, config, progress)
    elif classifier == "sequence":
        network, tokenizer, save, folder = _sequence_model(labels, model, config)
    else:
        raise UserError(f"--classifier must be 'head' or 'sequence', not {classifier!r}.")
    prompt = model_prompt(folder)
    index = {c: i for i, c in enumerate(labels)}

    def examples(ds: Dataset, rows: np.ndarray, name: str) -> list[Example]:
        ids, cut = tokenize(tokenizer, [ds.texts[i] for i in rows], prompt, config.max_length)
        if cut:
            _log.info(f"note: {cut} {name} text(s) are longer than {config.max_length} tokens and were cut")
        return [Example(x, index.get(ds.labels[i], -1)) for x, i in zip(ids, rows, strict=True)]

    sets = {"validation": (data, val_rows), "eval": (held_out, eval_rows)}
    labels_out = labels + unseen

    def measure(name: str, logits: list[np.ndarray]) -> dict:
        ds, rows = sets[name]
        predicted = [labels[int(np.argmax(x))] for x in logits]
        truth = [ds.labels[i] for i in rows]
        languages, groups = [ds.languages[i] for i in rows], [ds.groups[i] for i in rows]
        metrics = classification_metrics(truth, predicted, labels_out, languages, groups, config.seed)
        metrics["mean_language_macro_f1"] = mean_language_macro_f1(metrics)
        metrics["score"] = metrics["macro_f1"]
        metrics["predicted"] = predicted  # for paired comparisons on the same rows; not written to metrics.json
        if unseen:
            metrics["unseen_labels"] = unseen
        metrics["summary"] = (
            f"{name}: macro-F1 {metrics['macro_f1']:.4f} (mean over languages {metrics['mean_language_macro_f1']:.4f})"
            f", accuracy {metrics['accuracy']:.4f}\n{classification_report(metrics)}\n{language_table(metrics)}\n"
        )
        return metrics

    settings = {
        "task": TASK,
        "model": model,
        "classifier": classifier,
        **(sources or {}),
        "labels": labels,
        "columns": vars(data.columns),
        "rows": {"train": len(train_rows), "validation": len(val_rows), "eval": len(eval_rows)},
        "prompt": prompt,
        "head": None if head is None else asdict(head.config),
    }
    fitting = Fitting(
        network,
        train=examples(data, train_rows, "training"),
        validation=examples(data, val_rows, "validation"),
        evaluations={"eval": examples(held_out, eval_rows, "evaluation")},
        measure=measure,
        settings=settings,
    )
    return Prepared(fitting, tokenizer, save, folder, encoder, head, data)


def finetune(
    train_path: str | Path,
    eval_path: str | Path | None,
    output: str | Path,
    model: str = "embedded",
    config: FineTuneConfig = DEFAULTS,
    classifier: Literal["head", "sequence"] = "head",
    text_column: str | None = None,
    label_column: str | None = None,
    language_column: str | None = None,
) -> dict:
    """Fine-tune ``model`` on ``train_path``, measure on ``eval_path`` (None: the training file's test
    rows), save to ``output``; return the metrics."""
    started = time.monotonic()
    output = Path(output)
    prepare_output(output)
    columns = {"text_column": text_column, "label_column": label_column, "language_column": language_column}
    data = load_dataset(train_path, DataConfig(seed=config.seed), **columns)
    held_out = None
    if eval_path is not None:
        held_out = load_dataset(
            eval_path, DataConfig(seed=config.seed), purpose="evaluate", **columns, split_column=None
        )
    for note in data.warnings + data.notes + (held_out.warnings + held_out.notes if held_out else []):
        _log.info(f"note: {note}")
    sources = {"train": str(Path(train_path).resolve()), "eval": eval_path and str(Path(eval_path).resolve())}
    job = prepare(data, held_out, model, config, classifier, sources)
    return run(
        task=TASK,
        **job.fitting._asdict(),
        save=job.save,
        folder=job.folder,
        config=config,
        output=output,
        started=started,
        describe=lambda result: {"labels": job.fitting.settings["labels"], "evaluations": result.evaluations},
        baseline=classifier == "head",  # epoch 0 is the frozen-head classifier: fine-tuning must beat it
    )


def finetune_stages(
    dataset: Dataset,
    model: str = "embedded",
    minutes: float = 10.0,
    seed: int = 0,
    progress: Progress | None = None,
) -> Iterator[TrainResult]:
    """Fine-tune the product's classifier (the ``head`` classifier) within ``minutes``, in memory, in stages.

    What the app's "Fine-tune the whole model" runs; nothing is written to disk. It trains on the
    dataset's train rows, chooses the epoch on its validation rows and measures on its test rows,
    with the settings of ``python -m finetune.text_classification --train FILE --max-minutes M``
    (:data:`DEFAULTS`), so both give the same figures on the same rows. Then, like
    :func:`xlmr_demo.training.train_stages`: the headline (a :class:`~xlmr_demo.training.TrainResult`
    whose classifier is a :class:`~xlmr_demo.classifier.TunedWeightsClassifier`, or the starting head on the
    frozen model when fine-tuning never beat it), then the cross-lingual transfer and the suspected
    label errors, measured with heads on the kept model's embeddings.

    ``progress`` gets the embedding steps, then a :class:`~xlmr_demo.progress.TuningStep` after every
    optimiser step and a :class:`~xlmr_demo.progress.TuningEvaluation` after every evaluation; a
    :class:`~xlmr_demo.jobs.Stopped` it raises during fine-tuning keeps the best weights measured so far.
    """
    if dataset.multi_label:
        raise UserError(
            "Fine-tuning the whole model takes one label per row. With several labels per row, train the quick "
            "head (How to train: Quick): one yes-or-no per label on the frozen model."
        )
    started = time.monotonic()
    config = replace(DEFAULTS, max_minutes=minutes, seed=seed)
    step_losses: list[list[float]] = []  # (epoch, loss) of every step: the curve the report draws

    def report(step: Step) -> None:
        if isinstance(step, TuningStep):
            step_losses.append([step.epoch, round(step.train_loss, 4)])
        if progress:
            progress(step)

    job = prepare(dataset, None, model, config, "head", {"source": "app"}, progress)
    metrics = fit(
        task=TASK, **job.fitting._asdict(), config=config, output=None, started=started,
        describe=lambda result: {"evaluations": result.evaluations}, baseline=True, progress=report,
    )  # fmt: skip
    head_config, dataset = job.head.config, job.data
    if metrics["best_epoch"] == 0:  # fine-tuning never beat its starting point: that head on the frozen model
        classifier = Classifier(job.encoder, job.head)
    else:
        prefix = "encoder."  # PooledClassifier's encoder; the rest ("network.") is the head, trained in place
        weights = {
            name[len(prefix) :]: tensor.detach().float().numpy()
            for name, tensor in job.fitting.model.state_dict().items()
            if name in metrics["trained"] and name.startswith(prefix)
        }
        classifier = TunedWeightsClassifier(job.encoder, job.head, weights, config.max_length)
    del job  # the training copy of the network (with its float32 word embeddings): the classifier has its own
    measured = {k: v for k, v in metrics["evaluations"]["eval"].items() if k not in ("summary", "score", "predicted")}
    training = {
        "rows": {s: len(dataset.indices(s)) for s in ("train", "validation", "test")},
        "columns": vars(dataset.columns),
        "languages_detected": dataset.languages_detected,
        "groups": grouping_summary(dataset),
        "fine_tuning": {k: metrics[k] for k in ("config", "device", "precision", "trainable_parameters", "best_epoch",
                                                "steps", "stopped", "seconds", "history")},
    }  # fmt: skip
    training["fine_tuning"]["step_losses"] = step_losses
    test = dataset.indices("test")
    evaluated = {
        "rows": [dataset.rows[i] for i in test], "truth": [dataset.labels[i] for i in test],
        "predicted": metrics["evaluations"]["eval"]["predicted"], "groups": [dataset.groups[i] for i in test],
    }  # fmt: skip
    result = TrainResult(
        classifier, {**measured, "evaluated_on": "test split"}, training=training, pending=(TRANSFER, LABEL_ERRORS),
        evaluated=evaluated, dataset=dataset,
    )  # fmt: skip
    yield result

    def embedding(step: Step) -> None:
        if progress:
            progress(replace(step, stage="embedding with the kept model"))

    X = embed(dataset.texts, model=classifier.encoder, progress=embedding).embeddings
    evaluation = (X[test], [dataset.labels[i] for i in test], [dataset.languages[i] for i in test])
    groups = [dataset.groups[i] for i in test]
    yield from diagnose(result, X, dataset, evaluation, head_config, progress, eval_groups=groups)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m finetune.text_classification",
        description="Fine-tune a whole XLM-R-family encoder for text classification.",
    )
    p.add_argument("--train", required=True, help="labelled table (CSV, TSV, Excel, JSON Lines, Parquet)")
    p.add_argument(
        "--eval",
        help="labelled table measured each epoch (never used to choose); default: the training file's test rows",
    )
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
