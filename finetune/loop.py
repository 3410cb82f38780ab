"""The fine-tuning loop shared by sequence and token classification.

:class:`Trainer` trains a model with a BERT/XLM-R-style ``base_model`` whose forward takes ``input_ids``,
``attention_mask`` and ``labels`` and returns ``loss`` and ``logits`` (Hugging Face's
``*For{Sequence,Token}Classification`` models, :mod:`finetune.pooled`) on tokenised examples.
What makes it usable on a 2-core CPU:

- dynamic padding and length bucketing: each batch is padded to its own longest example, and
  batches are drawn from length-sorted pools, so little compute is spent on padding;
- the word-embedding matrix (250,037 x 384 for the embedded model, 82% of its 117.5M weights) is
  frozen by default: AdamW then updates 21.6M numbers a step instead of 117.5M, and words never
  seen in training keep their pre-trained (cross-lingual) vectors;
- ``freeze_layers=N`` also freezes the lower N transformer layers and computes their output
  once for every example, so each epoch runs only the upper layers;
- bf16 autocast where the hardware runs it natively (CUDA, AVX512-BF16/AMX CPUs), fp32 elsewhere;
- a time budget (``max_minutes``): once the speed is known, the learning-rate schedule is fitted to
  end with the budget, and training stops early enough to still evaluate and save.

The model is chosen on the validation examples (never on the evaluation files, which are only
reported), with early stopping after ``patience`` epochs without improvement. A checkpoint
(safetensors + JSON, no pickle) is written every ``checkpoint_minutes`` and at each epoch end;
running the same command again resumes from it, and with the same seed on the same machine the
resumed run ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from xlmr_demo.errors import UserError
from xlmr_demo.jobs import Stopped
from xlmr_demo.progress import Progress, TuningEvaluation, TuningStep
from xlmr_demo.writers import write_file_atomically

_log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoint"
CHECKPOINT_FORMAT = "xlmr_demo.finetune-checkpoint/2"  # 2: the optimiser through its state_dict
METRICS_FILE = "metrics.json"
RESUMABLE_CHANGES = ("max_minutes", "checkpoint_minutes", "device")
POOL_BATCHES = 50  # length bucketing sorts pools of this many batches
FIT_SCHEDULE_AFTER = 20  # steps timed before the schedule is fitted to a time budget
STAGE = "fine-tuning"  # the Step stage a Trainer reports
# sentence-transformers files copied from the base model, so the product's encoder reads the new folder
# with the same pooling and prompt
SENTENCE_TRANSFORMERS_FILES = ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json")
SENTENCE_TRANSFORMERS_DIRS = ("1_Pooling", "2_Normalize")


@dataclass(frozen=True)
class FineTuneConfig:
    """How to train. Defaults for NER; text classification uses 2 epochs (about 4 minutes for UMSAB on 2 cores)."""

    epochs: int = 3
    lr: float = 5e-5
    batch_size: int = 32
    max_length: int = 128  # tokens per example, longer ones are cut
    freeze_layers: int = 0  # lower transformer layers kept fixed (their outputs computed once)
    train_embeddings: bool = False  # the word-embedding matrix: frozen unless True
    warmup: float = 0.1  # fraction of the steps with a linearly rising learning rate
    weight_decay: float = 0.01
    patience: int = 2  # epochs without a better validation score before stopping
    max_minutes: float | None = None  # wall-clock budget for the whole run, evaluation and saving included
    checkpoint_minutes: float = 5.0
    seed: int = 0
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    device: str | None = None  # None: CUDA when present, else the CPU

    def __post_init__(self) -> None:
        checks = [
            (self.epochs >= 1, "--epochs must be at least 1"),
            (self.lr > 0, "--lr must be positive"),
            (self.batch_size >= 1, "--batch-size must be at least 1"),
            (8 <= self.max_length <= 4096, "--max-length must be between 8 and 4096 tokens"),
            (self.freeze_layers >= 0, "--freeze-layers cannot be negative"),
            (0 <= self.warmup < 1, "warm-up must be a fraction in [0, 1)"),
            (self.patience >= 1, "--patience must be at least 1"),
            (self.max_minutes is None or self.max_minutes > 0, "--max-minutes must be positive"),
            (self.checkpoint_minutes > 0, "checkpoint interval must be positive"),
            (self.precision in ("auto", "fp32", "bf16"), "precision must be auto, fp32 or bf16"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(message)


@dataclass
class Example:
    """One tokenised example: ids with special tokens, and a class id (sequences) or one per token (-100: none)."""

    input_ids: list[int]
    labels: int | list[int]


#: measure(name, logits per example) -> metrics with a "score" key (higher is better) and a "summary" string.
Measure = Callable[[str, list[np.ndarray]], dict]


@dataclass
class FitResult:
    best_epoch: float  # epochs of training behind the chosen weights (fractional when the budget cut an epoch)
    history: list[dict]
    evaluations: dict[str, dict]  # name -> metrics of the chosen model
    stopped: str  # why training ended
    seconds: float
    device: str
    precision: str
    trainable_parameters: int
    steps: dict  # planned (all epochs), scheduled (where the learning rate reaches zero), done


# -- model plumbing -------------------------------------------------------------------------------------


def encoder_layers(model) -> tuple[object, object]:
    """(embeddings module, list of transformer layers) of a BERT/XLM-R-family model."""
    base = model.base_model
    layers = getattr(getattr(base, "encoder", None), "layer", None)
    if not hasattr(base, "embeddings") or layers is None:
        raise UserError(
            f"Freezing layers needs a BERT or XLM-R style model; {type(model).__name__} is laid out differently. "
            "Use --freeze-layers 0."
        )
    return base.embeddings, layers


class LayerWindow(torch.nn.ModuleList):
    """A model's own transformer layers (the same modules, under the same names) of which a forward pass
    runs only those from ``start`` to ``stop``."""

    def __init__(self, layers) -> None:
        super().__init__(layers)
        self.start, self.stop = 0, len(layers)

    def __iter__(self):
        return iter([self[i] for i in range(self.start, self.stop)])


class FrozenLower:
    """A model that runs its lower ``n`` layers once per example and the others from their cached output.

    Installed once: the model's layer list becomes a :class:`LayerWindow` (parameter names and saved
    weights unchanged), and its embeddings module hands back the cached states while they are set.
    """

    def __init__(self, model, n: int) -> None:
        embeddings, layers = encoder_layers(model)
        self.model, self.n, self.states = model, n, None
        self.window = LayerWindow(layers)
        model.base_model.encoder.layer = self.window
        compute = embeddings.forward

        def forward(*args, **kwargs):
            return self.states if self.states is not None else compute(*args, **kwargs)

        embeddings.forward = forward

    @contextlib.contextmanager
    def lower(self) -> Iterator[None]:
        """Within the block the model runs its embeddings and lower ``n`` layers only."""
        self.window.stop = self.n
        try:
            yield
        finally:
            self.window.stop = len(self.window)

    @contextlib.contextmanager
    def upper(self, states) -> Iterator[None]:
        """Within the block the model starts at layer ``n``, from ``states`` (the lower layers' output)."""
        self.window.start, self.states = self.n, states
        try:
            yield
        finally:
            self.window.start, self.states = 0, None

    def states_of(self, examples: list[Example], batch_size: int, pad_id: int, device: str, precision: str):
        """The output of the embeddings and lower ``n`` layers for every example (unpadded, CPU)."""
        states: list = [None] * len(examples)
        base = self.model.base_model
        lengths = np.array([len(e.input_ids) for e in examples])
        order = np.argsort(-lengths, kind="stable")
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        training = self.model.training
        self.model.eval()  # no dropout in the frozen part: its output is computed once for every epoch
        with self.lower(), torch.inference_mode(), _autocast(device, precision):
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                ids, mask = pad([examples[i].input_ids for i in rows], pad_id)
                hidden = base(input_ids=ids.to(device), attention_mask=mask.to(device)).last_hidden_state
                for j, i in enumerate(rows):
                    states[i] = hidden[j, : lengths[i]].to("cpu", dtype)
        self.model.train(training)
        return states


def _autocast(device: str, precision: str):
    return torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=precision == "bf16")


def pad(sequences: list[list[int]], value: int):
    """(ids, attention mask) as int64 tensors padded to the longest sequence."""

    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), value, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for i, s in enumerate(sequences):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, : len(s)] = 1
    return ids, mask


def _pad_states(states: list):

    width = max(s.shape[0] for s in states)
    out = torch.zeros((len(states), width, states[0].shape[1]), dtype=states[0].dtype)
    for i, s in enumerate(states):
        out[i, : s.shape[0]] = s
    return out


def _labels(examples: list[Example], width: int):

    if isinstance(examples[0].labels, int):
        return torch.tensor([e.labels for e in examples], dtype=torch.long)
    out = torch.full((len(examples), width), -100, dtype=torch.long)
    for i, e in enumerate(examples):
        out[i, : len(e.labels)] = torch.tensor(e.labels, dtype=torch.long)
    return out


def epoch_batches(lengths: np.ndarray, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """Shuffled batches of similar lengths: shuffle, sort pools of :data:`POOL_BATCHES` batches, shuffle batches."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    pool = batch_size * POOL_BATCHES
    batches = []
    for start in range(0, len(order), pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


class Runner:
    """The model on its device, with its frozen part precomputed: forward passes over example batches."""

    def __init__(self, model, config: FineTuneConfig, device: str, precision: str) -> None:
        self.model, self.config, self.device, self.precision = model, config, device, precision
        self.pad_id = model.config.pad_token_id if model.config.pad_token_id is not None else 0
        self.frozen = FrozenLower(model, config.freeze_layers) if config.freeze_layers else None
        self.states: dict[int, list] = {}  # id(example list) -> frozen states

    def precompute(self, examples: list[Example]) -> None:
        if self.frozen is not None and id(examples) not in self.states:
            self.states[id(examples)] = self.frozen.states_of(
                examples, self.config.batch_size * 2, self.pad_id, self.device, self.precision
            )

    def forward(self, examples: list[Example], rows: np.ndarray, with_labels: bool):
        batch = [examples[i] for i in rows]
        ids, mask = pad([e.input_ids for e in batch], self.pad_id)
        kwargs = {"input_ids": ids.to(self.device), "attention_mask": mask.to(self.device)}
        if with_labels:
            kwargs["labels"] = _labels(batch, ids.shape[1]).to(self.device)
        start_at = contextlib.nullcontext()
        if self.frozen is not None:
            states = self.states[id(examples)]
            start_at = self.frozen.upper(_pad_states([states[i] for i in rows]).to(self.device))
        with start_at, _autocast(self.device, self.precision):
            return self.model(**kwargs)

    def logits(self, examples: list[Example]) -> list[np.ndarray]:
        """Per-example logits (sequence: (n_classes,), tokens: (length, n_classes)), input order."""

        self.precompute(examples)
        self.model.eval()
        lengths = np.array([len(e.input_ids) for e in examples])
        order = np.argsort(-lengths, kind="stable")
        out: list = [None] * len(examples)
        with torch.inference_mode():
            for start in range(0, len(order), self.config.batch_size * 2):
                rows = order[start : start + self.config.batch_size * 2]
                logits = self.forward(examples, rows, with_labels=False).logits.float().cpu().numpy()
                for j, i in enumerate(rows):
                    out[i] = logits[j] if logits.ndim == 2 else logits[j, : lengths[i]]
        return out


# -- parameters, optimiser, checkpoints ------------------------------------------------------------------


def trainable_parameters(model, config: FineTuneConfig) -> dict[str, object]:
    """Freeze what the config says and return the parameters left to train, by name."""
    frozen = set()
    if config.freeze_layers:
        embeddings, layers = encoder_layers(model)
        if config.freeze_layers >= len(layers):
            raise UserError(f"--freeze-layers {config.freeze_layers}: the model has {len(layers)} layers; leave one.")
        frozen = {id(p) for m in [embeddings, *list(layers)[: config.freeze_layers]] for p in m.parameters()}
    if not config.train_embeddings:
        frozen.add(id(model.get_input_embeddings().weight))
    out = {}
    for name, p in model.named_parameters():
        p.requires_grad_(id(p) not in frozen)
        if p.requires_grad:
            out[name] = p
    return out


def make_optimizer(params: dict[str, object], config: FineTuneConfig):

    def decays(name: str) -> bool:  # biases and layer norms are not decayed
        return not (name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name)

    groups = [
        {"params": [p for n, p in params.items() if decays(n)], "weight_decay": config.weight_decay},
        {"params": [p for n, p in params.items() if not decays(n)], "weight_decay": 0.0},
    ]
    # fused: one kernel per step for all weights. torch's default (foreach) took 0.41 s a step for every weight of
    # e5-small on 2 cores, fused 0.08 s: half of all the training time (bench/results/finetune_trainer.md)
    return torch.optim.AdamW(groups, lr=config.lr, fused=True)


def learning_rate(step: int, total: int, config: FineTuneConfig) -> float:
    """Linear warm-up over the first ``warmup`` fraction of steps, then linear decay to zero."""
    warm = max(1, math.ceil(total * config.warmup)) if config.warmup > 0 else 0
    if step < warm:
        return config.lr * (step + 1) / warm
    return config.lr * max(0.0, (total - step) / max(1, total - warm))


def fitted_schedule(
    done: int, planned: int, steps_per_epoch: int, step_seconds: float, seconds_left: float, eval_seconds: float
) -> int:
    """The step at which a schedule of ``planned`` steps should end to finish within ``seconds_left``.

    ``done`` steps are behind us; each further step takes ``step_seconds`` and each epoch ends with an
    evaluation of ``eval_seconds``. The remaining epochs are walked in order: whole epochs while they
    fit, then the first that does not is cut where its own (last) evaluation still fits. Returns
    ``planned`` when everything fits, else that step (at least one more).
    """
    step, left = done, seconds_left
    while step < planned:
        epoch_end = min(planned, (step // steps_per_epoch + 1) * steps_per_epoch)
        cost = (epoch_end - step) * step_seconds + eval_seconds
        if cost > left:
            affordable = int(max(0.0, left - eval_seconds) / step_seconds)
            return max(done + 1, step + affordable)
        step, left = epoch_end, left - cost
    return planned


@dataclass
class RunState:
    """Where training is; saved in every checkpoint."""

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    loss_sum: float = 0.0
    loss_count: int = 0
    history: list[dict] = field(default_factory=list)
    best_score: float = -math.inf
    best_epoch: float = 0.0
    bad_epochs: int = 0
    elapsed: float = 0.0  # seconds spent in earlier runs of the same job
    scheduled_steps: int = 0  # where the learning-rate schedule ends when fitted to a time budget (0: all epochs)


def optimizer_tensors(optimizer) -> tuple[dict, dict]:
    """The optimiser's ``state_dict`` as safetensors-ready tensors (``optimizer.<param index>.<name>``) and JSON
    (its parameter groups, and any state that is not a tensor)."""

    state = optimizer.state_dict()
    tensors, other = {}, {}
    for index, entries in state["state"].items():
        for name, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                other.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "state": other}


def load_optimizer(optimizer, tensors: dict, record: dict) -> None:
    """Put back what :func:`optimizer_tensors` saved, through ``optimizer.load_state_dict``."""
    state: dict[int, dict] = {int(index): dict(entries) for index, entries in record["state"].items()}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value.clone()
    optimizer.load_state_dict({"state": state, "param_groups": record["param_groups"]})


def save_checkpoint(folder: Path, params: dict, optimizer, best: dict | None, progress: RunState, settings: dict):

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{n}": p.detach().cpu().contiguous() for n, p in params.items()}
    optimizer_state, optimizer_record = optimizer_tensors(optimizer)
    tensors.update(optimizer_state)
    if best is not None:
        tensors.update({f"best.{n}": t.contiguous() for n, t in best.items()})
    tensors["rng.torch"] = torch.get_rng_state()
    tag = str(progress.global_step)  # both files carry it: a crash between the two writes is detected
    write_file_atomically(folder / "state.safetensors", lambda p: save_file(tensors, str(p), metadata={"step": tag}))
    record = {
        "format": CHECKPOINT_FORMAT,
        "settings": settings,
        "progress": asdict(progress),
        "optimizer": optimizer_record,
    }
    write_file_atomically(folder / "state.json", lambda p: p.write_text(json.dumps(record, indent=1)))


def load_checkpoint(folder: Path, settings: dict) -> tuple[dict, RunState, dict] | None:
    """(tensors, progress, optimiser record) of a checkpoint with the same ``settings``; None when there is none."""

    state_json, state_file = folder / "state.json", folder / "state.safetensors"
    if not state_json.is_file() or not state_file.is_file():
        return None
    record = json.loads(state_json.read_text())
    if record.get("format") != CHECKPOINT_FORMAT:
        return None
    if record["settings"] != settings:
        changed = sorted(k for k in settings if record["settings"].get(k) != settings[k])
        raise UserError(
            f"{folder.parent} holds an unfinished run with other settings ({', '.join(changed)}). "
            f"Run it again with the same settings to resume, or choose another --output."
        )
    with safe_open(str(state_file), "pt") as fh:
        if (fh.metadata() or {}).get("step") != str(record["progress"]["global_step"]):
            raise UserError(f"The checkpoint in {folder} is damaged (its two files disagree); delete {folder}.")
    return load_file(str(state_file)), RunState(**record["progress"]), record["optimizer"]


def restore(tensors: dict, params: dict, optimizer, optimizer_record: dict) -> dict | None:
    """Put checkpoint ``tensors`` back into the parameters and optimiser; return the best weights if any."""

    with torch.no_grad():
        for n, p in params.items():
            p.copy_(tensors[f"model.{n}"])
    load_optimizer(optimizer, tensors, optimizer_record)
    torch.set_rng_state(tensors["rng.torch"])
    best = {k[len("best.") :]: v for k, v in tensors.items() if k.startswith("best.")}
    return best or None


def prepare_output(output: Path) -> None:
    """Refuse to overwrite a finished model or an unrelated non-empty folder."""
    if output.exists() and not output.is_dir():
        raise UserError(f"--output {output} is a file; give a folder.")
    if not output.is_dir():
        return
    entries = {p.name for p in output.iterdir()}
    if CHECKPOINT_DIR in entries:
        return  # an unfinished run: resumed (or refused) by the checkpoint's settings
    if METRICS_FILE in entries:
        raise UserError(f"{output} already holds a finished fine-tuned model; choose another --output.")
    if entries:
        raise UserError(f"--output {output} is not empty; choose a new or empty folder.")


def copy_sentence_transformers_files(source: Path, target: Path) -> None:
    for name in SENTENCE_TRANSFORMERS_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, target / name)
    for name in SENTENCE_TRANSFORMERS_DIRS:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name, dirs_exist_ok=True)


# -- the loop -------------------------------------------------------------------------------------------


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


class Trainer:
    """One fine-tuning job: the model, its data, the optimiser and where the run is (:class:`RunState`).

    :meth:`run` trains epoch after epoch, evaluates after each, keeps the best weights by validation
    score, checkpoints, resumes from a checkpoint of the same job, stops early, and fits the
    learning-rate schedule to a time budget once the speed of a step is known.

    ``model`` is already on ``device``. ``measure`` scores the validation set (its ``score`` picks the
    model) and each evaluation set. ``settings`` identifies the job in checkpoints: a checkpoint with
    other settings is refused. ``output`` None: no checkpoints (nothing written). ``started`` is the
    ``time.monotonic()`` at which this run began (the budget counts from it, plus the time of earlier
    runs of the same job when resuming).

    ``progress`` gets a :class:`~xlmr_demo.progress.TuningStep` after every optimiser step and a
    :class:`~xlmr_demo.progress.TuningEvaluation` after every evaluation. When it raises
    :class:`~xlmr_demo.jobs.Stopped` (a Stop button, a job's time limit) training ends there and the
    best weights measured so far are kept, as when the budget ends.
    """

    def __init__(
        self, model, train: list[Example], validation: list[Example], evaluations: dict[str, list[Example]],
        measure: Measure, config: FineTuneConfig, output: Path | None, settings: dict, device: str, precision: str,
        started: float, progress: Progress | None = None,
    ) -> None:  # fmt: skip
        # a checkpoint resumes only the same job: same data and settings (the budget and checkpoint interval may change)
        self.settings = {**settings, "config": {k: v for k, v in asdict(config).items() if k not in RESUMABLE_CHANGES}}
        self.model, self.train_set, self.validation, self.evaluations = model, train, validation, evaluations
        self.measure, self.config, self.device, self.precision = measure, config, device, precision
        self.params = trainable_parameters(model, config)
        self.optimizer = make_optimizer(self.params, config)
        self.runner = Runner(model, config, device, precision)
        self.lengths = np.array([len(e.input_ids) for e in train])
        self.steps_per_epoch = math.ceil(len(train) / config.batch_size)
        self.planned = self.steps_per_epoch * config.epochs
        self.checkpoint_dir = None if output is None else output / CHECKPOINT_DIR
        self.progress, self.halted = progress, ""  # halted: why a Stopped ended training
        self.state = RunState()
        self.best: dict | None = None  # the best weights so far (CPU copies)
        self.best_metrics: dict[str, dict] = {}  # evaluations of the best weights, when measured in this run
        self.started = started
        self.budget = config.max_minutes * 60 if config.max_minutes else math.inf
        self.eval_seconds: float | None = None  # how long the last evaluation took
        self.train_seconds, self.train_examples, self.steps_this_run = 0.0, 0, 0
        self.n_measured = len(validation) + sum(len(e) for e in evaluations.values())
        found = None if self.checkpoint_dir is None else load_checkpoint(self.checkpoint_dir, self.settings)
        self.resumed = found is not None
        if found is not None:
            tensors, self.state, optimizer_record = found
            self.best = restore(tensors, self.params, self.optimizer, optimizer_record)
            _log.info(f"resuming from the checkpoint at epoch {self.state.epoch + 1}, step {self.state.step_in_epoch}")
        self.earlier = self.state.elapsed  # seconds spent in earlier runs of this job

    def elapsed(self) -> float:
        return self.earlier + time.monotonic() - self.started

    def report(self, step: TuningStep | TuningEvaluation) -> None:
        """Tell ``progress`` where training is; a :class:`Stopped` it raises halts training (kept in :attr:`halted`)."""
        if self.progress is None or self.halted:
            return
        total = self.state.scheduled_steps or self.planned
        try:
            self.progress(replace(step, done=self.state.global_step, total=total))
        except Stopped as exc:
            self.halted = str(exc)

    def checkpoint(self) -> None:
        if self.checkpoint_dir is None:
            return
        self.state.elapsed = self.elapsed()
        save_checkpoint(self.checkpoint_dir, self.params, self.optimizer, self.best, self.state, self.settings)

    def reserve(self) -> float:
        """Seconds to keep for the last evaluation and for saving."""
        if self.eval_seconds is not None:
            return self.eval_seconds * 1.2 + 15
        per_example = self.train_seconds / max(1, self.train_examples)  # inference runs about 3x faster than training
        return per_example * self.n_measured / 3 + 15

    def evaluate(self, epoch_done: float) -> None:
        """Measure the model now; keep its weights if the validation score is the best so far."""
        state, t0 = self.state, time.monotonic()
        results = {"validation": self.measure("validation", self.runner.logits(self.validation))}
        record = {
            "epoch": round(epoch_done, 3),
            "train_loss": round(state.loss_sum / state.loss_count, 5) if state.loss_count else None,
            "validation": results["validation"]["score"],
        }
        for name, examples in self.evaluations.items():
            results[name] = self.measure(name, self.runner.logits(examples))
            record[name] = results[name]["score"]
            _log.info(results[name]["summary"])
        improved = record["validation"] > state.best_score
        if improved:
            state.best_score, state.best_epoch, state.bad_epochs = record["validation"], epoch_done, 0
            self.best = {n: p.detach().cpu().clone() for n, p in self.params.items()}
            self.best_metrics = results
        else:
            state.bad_epochs += 1
        state.history.append(record)
        self.eval_seconds = time.monotonic() - t0
        self.report(TuningEvaluation(STAGE, epoch=record["epoch"], validation=record["validation"]))
        loss = f"train loss {record['train_loss']:.4f}" if record["train_loss"] is not None else "before training"
        _log.info(
            f"epoch {epoch_done:.2f}: {loss}, validation {record['validation']:.4f}"
            f"{' (best so far)' if improved else ''} [{_clock(self.elapsed())}]"
        )
        self.model.train()

    def fit_schedule(self) -> None:
        """Once the speed is known: end the learning-rate schedule where the time budget ends."""
        per_eval = self.eval_seconds if self.eval_seconds is not None else self.reserve() - 15
        seconds_left = self.budget - self.elapsed() - 15
        step_seconds = self.train_seconds / self.steps_this_run
        state = self.state
        end = fitted_schedule(
            state.global_step, self.planned, self.steps_per_epoch, step_seconds, seconds_left, per_eval * 1.2
        )
        if end < self.planned:
            self.state.scheduled_steps = end
            _log.info(
                f"note: the time budget allows about {end} of the {self.planned} planned steps; "
                "the learning rate now decays to zero there"
            )

    def step(self, rows: np.ndarray) -> None:
        """One optimiser step on the training rows ``rows``."""

        state, config, t0 = self.state, self.config, time.monotonic()
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(state.global_step, state.scheduled_steps or self.planned, config)
        loss = self.runner.forward(self.train_set, rows, with_labels=True).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(self.params.values()), 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        state.loss_sum += float(loss.detach()) * len(rows)
        state.loss_count += len(rows)
        state.step_in_epoch += 1
        state.global_step += 1
        self.train_seconds += time.monotonic() - t0
        self.train_examples += len(rows)
        self.steps_this_run += 1
        epoch = round(state.global_step / self.steps_per_epoch, 4)
        self.report(TuningStep(STAGE, epoch=epoch, train_loss=float(loss.detach())))
        if self.steps_this_run == FIT_SCHEDULE_AFTER and self.budget < math.inf and not state.scheduled_steps:
            self.fit_schedule()

    def out_of_time(self) -> bool:
        state = self.state
        over = state.scheduled_steps and state.global_step >= state.scheduled_steps
        return bool(over) or self.elapsed() + self.reserve() > self.budget

    def train_epoch(self) -> bool:
        """Train the rest of the current epoch, checkpointing on the way; False if the budget ended it early."""

        state, config = self.state, self.config
        batches = epoch_batches(self.lengths, config.batch_size, config.seed, state.epoch)
        bar = tqdm(
            total=len(batches), initial=state.step_in_epoch, desc=f"epoch {state.epoch + 1}/{config.epochs}",
            unit="batch", file=sys.stderr, disable=not sys.stderr.isatty(),
        )  # fmt: skip
        last_checkpoint, out_of_time = time.monotonic(), False
        try:
            for rows in batches[state.step_in_epoch :]:
                if self.halted:  # stopped: keep the best weights measured, measure nothing more
                    return False
                if self.out_of_time():
                    out_of_time = True
                    break
                self.step(rows)
                bar.update(1)
                if time.monotonic() - last_checkpoint > config.checkpoint_minutes * 60:
                    self.checkpoint()
                    last_checkpoint = time.monotonic()
        finally:
            bar.close()
        if out_of_time:
            if state.step_in_epoch:  # the partly trained epoch may still be the best
                self.evaluate(state.epoch + state.step_in_epoch / len(batches))
            return False
        self.evaluate(state.epoch + 1.0)
        state.epoch += 1
        state.step_in_epoch, state.loss_sum, state.loss_count = 0, 0.0, 0
        self.checkpoint()
        return True

    def run(self, baseline: bool = False) -> FitResult:
        """Train until the epochs, the patience or the time budget end; leave the best weights in the model.

        ``baseline``: also measure the model before any training ("epoch 0"), which then competes with
        the trained epochs.
        """

        config, state = self.config, self.state
        if config.freeze_layers:
            _log.info(f"computing the output of the {config.freeze_layers} frozen layers once ...")
            for examples in (self.train_set, self.validation, *self.evaluations.values()):
                self.runner.precompute(examples)
        if baseline and not self.resumed:
            self.evaluate(0.0)
        stopped = "all epochs done"
        self.model.train()
        while state.epoch < config.epochs and state.bad_epochs < config.patience:
            if not self.train_epoch():
                if self.halted:
                    stopped = self.halted
                    break
                minutes = f"{config.max_minutes:g} minute{'' if config.max_minutes == 1 else 's'}"
                stopped = f"time budget of {minutes} reached"
                if state.scheduled_steps:
                    stopped += " (the learning-rate schedule was fitted to it)"
                break
        else:
            if state.bad_epochs >= config.patience:
                stopped = f"early stopping: no better validation score for {config.patience} epochs"
        if self.best is None and self.halted and state.global_step:  # stopped before the first evaluation:
            self.evaluate(state.epoch + state.step_in_epoch / self.steps_per_epoch)  # measure what was learnt
        if self.best is None and self.halted:
            raise Stopped(f"{self.halted} Nothing had been learnt yet, so nothing was kept.")
        if self.best is None:
            raise UserError(
                f"The time budget ({config.max_minutes:g} minutes) ran out before one evaluation could be made. "
                "Give more --max-minutes."
            )
        with torch.no_grad():
            for n, p in self.params.items():
                p.copy_(self.best[n])
        _log.info(f"stopped: {stopped}; keeping the weights after epoch {state.best_epoch:.2f} (best validation score)")
        best_metrics = self.best_metrics
        if not best_metrics:  # the best weights came from an earlier run of this job
            best_metrics = {"validation": self.measure("validation", self.runner.logits(self.validation))}
            best_metrics |= {n: self.measure(n, self.runner.logits(e)) for n, e in self.evaluations.items()}
        return FitResult(
            best_epoch=state.best_epoch,
            history=state.history,
            evaluations=best_metrics,
            stopped=stopped,
            seconds=round(self.elapsed(), 1),
            device=self.device,
            precision=self.precision,
            trainable_parameters=int(sum(p.numel() for p in self.params.values())),
            steps={"planned": self.planned, "scheduled": state.scheduled_steps or self.planned,
                   "done": state.global_step},
        )  # fmt: skip


def finish(save: Callable[[Path], None], base_folder: Path, output: Path, metrics: dict) -> None:
    """Write the model (``save(output)``), the base model's sentence-transformers files and ``metrics.json``;
    then drop the checkpoint."""
    output.mkdir(parents=True, exist_ok=True)
    save(output)
    copy_sentence_transformers_files(base_folder, output)
    text = json.dumps(metrics, indent=2, ensure_ascii=False)
    write_file_atomically(output / METRICS_FILE, lambda p: p.write_text(text, encoding="utf-8"))
    shutil.rmtree(output / CHECKPOINT_DIR, ignore_errors=True)
