"""What both fine-tuning commands share: their options, model loading, and the run around a loop.Trainer."""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import NamedTuple

import torch
import transformers
from transformers import AutoTokenizer

from xlmr_demo.encoders import auto_precision, default_device, resolve_model_folder
from xlmr_demo.errors import UserError
from xlmr_demo.models import EMBEDDED_NAME
from xlmr_demo.progress import Progress

from .loop import Example, FineTuneConfig, FitResult, Measure, Trainer, finish

_log = logging.getLogger(__name__)


def add_training_options(p: argparse.ArgumentParser, defaults: FineTuneConfig) -> None:
    p.add_argument("--output", required=True, help="folder for the fine-tuned model (new or empty)")
    p.add_argument("--model", default=EMBEDDED_NAME, help="'embedded' (default), a Hugging Face id, or a folder")
    epochs_help = f"passes over the data (default {defaults.epochs})"
    p.add_argument("--epochs", type=int, default=defaults.epochs, help=epochs_help)
    p.add_argument("--lr", type=float, default=defaults.lr, help="peak learning rate (AdamW, linear warm-up)")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument("--max-length", type=int, default=defaults.max_length, help="tokens per example; longer are cut")
    p.add_argument(
        "--freeze-layers",
        type=int,
        default=defaults.freeze_layers,
        help="keep the lower N transformer layers fixed and compute their output once (faster on CPU)",
    )
    p.add_argument(
        "--train-embeddings", action="store_true", help="also train the word-embedding matrix (slow; off by default)"
    )
    p.add_argument("--patience", type=int, default=defaults.patience, help="epochs without improvement before stopping")
    p.add_argument("--max-minutes", type=float, default=None, help="time budget for the whole run, saving included")
    p.add_argument("--checkpoint-minutes", type=float, default=defaults.checkpoint_minutes)
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto")
    p.add_argument("--seed", type=int, default=defaults.seed)


def config_from(args: argparse.Namespace) -> FineTuneConfig:
    return FineTuneConfig(
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        max_length=args.max_length,
        freeze_layers=args.freeze_layers,
        train_embeddings=args.train_embeddings,
        patience=args.patience,
        max_minutes=args.max_minutes,
        checkpoint_minutes=args.checkpoint_minutes,
        precision=args.precision,
        seed=args.seed,
    )


def load_model(model_class, model: str, seed: int, **kwargs):
    """(model, tokenizer, folder): ``model_class`` from the embedded model, a folder or a hub id, seeded."""
    folder = resolve_model_folder(model)
    verbosity = transformers.utils.logging.get_verbosity()
    transformers.utils.logging.set_verbosity_error()  # the new head's "newly initialized" notice is expected
    transformers.utils.logging.disable_progress_bar()
    torch.manual_seed(seed)  # the new head's initial weights
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        network = model_class.from_pretrained(folder, **kwargs)
    except (OSError, ValueError) as exc:
        raise UserError(f"Could not load model {model!r} for fine-tuning: {exc}") from exc
    finally:  # quiet for this load only: the server's later warnings still show
        transformers.utils.logging.set_verbosity(verbosity)
    if not tokenizer.is_fast:
        raise UserError(f"Model {model!r} has no fast tokenizer (tokenizer.json), which fine-tuning needs.")
    return network, tokenizer, folder


def save_pretrained(*parts) -> Callable[[Path], None]:
    """A ``save(folder)`` writing each of ``parts`` (models, tokenizers) with ``save_pretrained`` (safetensors)."""

    def save(folder: Path) -> None:
        for part in parts:
            part.save_pretrained(folder)

    return save


class Fitting(NamedTuple):
    """What a prepared job hands to :func:`fit` and :func:`run` (``**fitting._asdict()``): the network to
    train, the examples it learns from and is chosen and measured on, how to measure, and its settings."""

    model: object
    train: list[Example]
    validation: list[Example]
    evaluations: dict[str, list[Example]]
    measure: Measure
    settings: dict


def fit(
    *,
    task: str,
    model,
    train: list[Example],
    validation: list[Example],
    evaluations: dict[str, list[Example]],
    measure: Measure,
    config: FineTuneConfig,
    output: Path | None,
    settings: dict,
    started: float,
    describe: Callable[[FitResult], dict],
    baseline: bool = False,
    progress: Progress | None = None,
) -> dict:
    """Train ``model`` (best weights left in it, on the CPU); return the metrics of the run.

    ``output``: where checkpoints go (None: none are written). ``progress``: see :class:`loop.Trainer`.
    """
    device = config.device or default_device()
    precision = auto_precision(device) if config.precision == "auto" else config.precision
    model.to(device)
    _log.info(
        f"fine-tuning on {device} ({precision}): {len(train):,} training and {len(validation):,} validation "
        f"examples, {config.epochs} epoch(s) of {-(-len(train) // config.batch_size)} steps"
    )
    trainer = Trainer(model, train, validation, evaluations, measure, config, output, settings, device, precision,
                      started, progress)  # fmt: skip
    result = trainer.run(baseline)
    model.to("cpu").eval()  # no dropout in what predicts from here on
    return {
        "task": task,
        "settings": settings,
        "config": asdict(config),
        "device": result.device,
        "precision": result.precision,
        "trainable_parameters": result.trainable_parameters,
        "trained": sorted(trainer.params),  # the names of the weights training changed
        "best_epoch": result.best_epoch,
        "steps": result.steps,
        "stopped": result.stopped,
        "seconds": result.seconds,
        "history": result.history,
        **describe(result),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def run(*, save: Callable[[Path], None], folder: Path, output: Path, **fitting) -> dict:
    """:func:`fit`, then write the model folder (``save(output)``) and ``metrics.json``; return the metrics written."""
    metrics = fit(output=output, **fitting)
    for evaluation in metrics.get("evaluations", {}).values():  # one label per row: the figures are what is kept
        evaluation.pop("predicted", None)
    finish(save, folder, output, metrics)
    return metrics


RESUME_HINT = "interrupted (run the same command again to resume from the last checkpoint)"
