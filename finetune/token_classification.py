"""Fine-tune a whole encoder for named-entity recognition (token classification).

    python -m finetune.token_classification --train T --eval E [--eval-other-language F ...]
        --output DIR [--validation V] [--model NAME] [--epochs N] [--lr X] [--batch-size N]
        [--max-length N] [--freeze-layers N] [--max-minutes M] [--seed N]

Files are CoNLL/WikiANN style (one word and its IOB2 tag a line, a blank line between sentences;
WikiANN's ``en:`` prefixes name the language) or JSON Lines with character spans: see
:mod:`finetune.corpora`. Each word's tag is learnt and
predicted on its first sub-token. Training sentences are cut at ``--max-length`` sub-tokens, measured
ones at the model's limit (512). Validation (model choice, early stopping) uses ``--validation``
or else 10% of the training sentences; ``--eval`` and each ``--eval-other-language`` file (zero-shot
cross-lingual transfer) are only measured.

Reported: entity-level precision/recall/F1 per type, per language and micro-averaged (as seqeval),
and a per-tag word-level report like the seed article's. Output: a standard Hugging Face folder that
``AutoModelForTokenClassification`` loads, plus ``metrics.json``.

The app's Entities tab runs :func:`finetune_entities` (in memory, within a time budget) and tags typed
text with its :class:`Tagger`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
from transformers import AutoModelForTokenClassification

from xlmr_demo.commands import run_cli
from xlmr_demo.encoders import Encoder, auto_precision, default_device, load_encoder
from xlmr_demo.errors import UserError
from xlmr_demo.progress import Progress

from .common import RESUME_HINT, Fitting, add_training_options, config_from, fit, load_model, run, save_pretrained
from .corpora import Corpus, read_corpus, words_of
from .loop import Example, FineTuneConfig, prepare_output
from .loop import pad as pad_batch
from .ner_metrics import entities, entity_report, entity_scores, token_report

_log = logging.getLogger(__name__)

TASK = "token-classification"
VALIDATION_FRACTION = 0.1
MEASURE_MAX_LENGTH = 512  # sub-tokens of a measured sentence (XLM-R's limit); beyond it words count as "O"


def align(tokenizer, corpus: Corpus, tag_ids: dict[str, int], max_length: int) -> tuple[list[Example], list[list[int]]]:
    """Examples with each word's tag on its first sub-token (-100 elsewhere), and each word's first-token index.

    A word cut off by ``max_length`` has index -1. Tags unknown to ``tag_ids`` are not learnt (-100).
    """
    enc = tokenizer(corpus.words, is_split_into_words=True, truncation=True, max_length=max_length)
    examples, firsts = [], []
    for i, sent_tags in enumerate(corpus.tags):
        word_ids = enc.word_ids(i)
        first = [-1] * len(sent_tags)
        labels = [-100] * len(word_ids)
        for pos, w in enumerate(word_ids):
            if w is not None and first[w] == -1:
                first[w] = pos
                labels[pos] = tag_ids.get(sent_tags[w], -100)
        examples.append(Example(enc["input_ids"][i], labels))
        firsts.append(first)
    return examples, firsts


def word_tags(logits: np.ndarray, first: list[int], tag_names: list[str]) -> list[str]:
    """Each word's tag from its first sub-token's logits ("O" for a word beyond the length limit)."""
    return [tag_names[int(np.argmax(logits[f]))] if f >= 0 else "O" for f in first]


def held_out(corpus: Corpus, fraction: float, seed: int, what: str) -> tuple[Corpus, Corpus]:
    """(the rest, a seeded ``fraction`` of the sentences), both in file order."""
    order = np.random.default_rng(seed).permutation(len(corpus.words))
    n = max(1, round(len(order) * fraction))
    if len(order) - n < 1:
        raise UserError(f"{corpus.name} has too few sentences to keep some for {what}.")
    return corpus.subset(sorted(order[n:])), corpus.subset(sorted(order[:n]), f"{corpus.name} ({what})")


class Prepared(NamedTuple):
    """A named-entity fine-tuning job ready to run: what :func:`fit` takes, and what tagging needs."""

    fitting: Fitting
    tokenizer: object
    folder: Path
    tag_names: list[str]


def prepare(
    train: Corpus, validation: Corpus, measured: dict[str, Corpus], model: str, config: FineTuneConfig,
    sources: dict | None = None,
) -> Prepared:  # fmt: skip
    """A token-classification job: learn ``train``, choose on ``validation``, measure each of ``measured``
    (entity scores per type, per language and overall, and the per-tag word report)."""
    kinds = train.types
    if not kinds:
        raise UserError(f"{train.name} has no entity tags (only O); there is nothing to learn.")
    tag_names = ["O"] + [f"{p}-{k}" for k in kinds for p in "BI"]
    tag_ids = {t: i for i, t in enumerate(tag_names)}
    for name, corpus in measured.items():
        extra = sorted(set(corpus.types) - set(kinds))
        if extra:
            types = ", ".join(extra)
            _log.info("note: %s has entity types never seen in training (%s); they count as missed", name, types)
    network, tokenizer, folder = load_model(
        AutoModelForTokenClassification,
        model,
        config.seed,
        num_labels=len(tag_names),
        id2label=dict(enumerate(tag_names)),
        label2id=tag_ids,
    )
    corpora = {"validation": validation, **measured}
    # training sentences are cut at --max-length; measured ones only at the model's own limit
    limit = max(config.max_length, min(tokenizer.model_max_length, MEASURE_MAX_LENGTH))
    aligned = {name: align(tokenizer, c, tag_ids, limit) for name, c in corpora.items()}
    train_examples, _ = align(tokenizer, train, tag_ids, config.max_length)
    for name, (_, firsts) in aligned.items():
        lost = sum(f == -1 for s in firsts for f in s)
        if lost:
            _log.info(f"note: {lost} word(s) of {name} lie beyond {limit} sub-tokens; they are predicted O")

    def measure(name: str, logits: list[np.ndarray]) -> dict:
        corpus, firsts = corpora[name], aligned[name][1]
        predicted = [word_tags(x, first, tag_names) for x, first in zip(logits, firsts, strict=True)]
        scores = entity_scores(corpus.tags, predicted)
        report = entity_report(scores)
        per_language = {}
        for lang in sorted(set(corpus.languages)):
            rows = [i for i, other in enumerate(corpus.languages) if other == lang]
            per_language[lang] = entity_scores([corpus.tags[i] for i in rows], [predicted[i] for i in rows])["micro"]
            per_language[lang]["sentences"] = len(rows)
        return {
            "language": corpus.language,
            "sentences": len(corpus.words),
            "entity": scores,
            "per_language": per_language,
            "entity_report": report,
            "token_report": token_report(corpus.tags, predicted, tag_names),
            "score": scores["micro"]["f1"],
            "summary": f"{name} ({corpus.language}): entity F1 {scores['micro']['f1']:.4f}\n{report}\n",
        }

    settings = {
        "task": TASK,
        "model": model,
        **(sources or {}),
        "measured": {name: c.language for name, c in measured.items()},
        "tags": tag_names,
        "sentences": {"train": len(train.words), **{name: len(c.words) for name, c in corpora.items()}},
    }
    evaluations = {name: aligned[name][0] for name in measured}
    fitting = Fitting(network, train_examples, aligned["validation"][0], evaluations, measure, settings)
    return Prepared(fitting, tokenizer, folder, tag_names)


def finetune(
    train_path: str | Path,
    eval_path: str | Path,
    output: str | Path,
    *,
    other_languages: list[str | Path] = (),
    validation_path: str | Path | None = None,
    model: str = "embedded",
    config: FineTuneConfig = FineTuneConfig(),
) -> dict:
    """Fine-tune ``model`` for NER on ``train_path``; measure on the other files; save to ``output``."""
    started = time.monotonic()
    output = Path(output)
    prepare_output(output)
    train = read_corpus(train_path)
    if validation_path is not None:
        validation = read_corpus(validation_path)
    else:
        train, validation = held_out(train, VALIDATION_FRACTION, config.seed, "validation")
    measured = {"eval": read_corpus(eval_path)}
    for path in other_languages:
        corpus = read_corpus(path)
        key = corpus.language if corpus.language not in measured and corpus.language != "eval" else Path(path).name
        measured[key] = corpus
    sources = {
        "train": str(Path(train_path).resolve()),
        "validation": str(Path(validation_path).resolve()) if validation_path else None,
    }
    job = prepare(train, validation, measured, model, config, sources)
    return run(
        task=TASK,
        **job.fitting._asdict(),
        save=save_pretrained(job.fitting.model, job.tokenizer),
        folder=job.folder,
        config=config,
        output=output,
        started=started,
        describe=lambda result: {"tags": job.tag_names, "evaluations": result.evaluations},
    )


class Tagger:
    """A fine-tuned token classifier in memory: words or raw text in, IOB2 tags or entity spans out.

    Its network predicts on the encoders' device in their precision (CUDA and bf16 where present, bf16
    on CPUs that run it natively) and, where that matches, shares the base model's word-embedding
    matrix (82% of the weights) instead of holding a copy.
    """

    BATCH = 32

    def __init__(self, network, tokenizer, tag_names: list[str], base: Encoder | None = None) -> None:
        import torch

        self.device = default_device()
        dtype = torch.bfloat16 if auto_precision(self.device) == "bf16" else torch.float32
        network = network.to(self.device, dtype).eval()
        self.shared_embeddings = None
        if base is not None:
            shared = base.model[0].auto_model.get_input_embeddings()
            own = network.get_input_embeddings()
            same = shared.weight.dtype == dtype and shared.weight.shape == own.weight.shape
            if same and torch.equal(shared.weight, own.weight):  # frozen in training: unchanged
                network.set_input_embeddings(shared)
                self.shared_embeddings = shared
        self.network, self.tokenizer, self.tag_names, self.base = network, tokenizer, tag_names, base

    def __reduce__(self):
        """Pickled with its weights on the CPU, less the word embeddings it shares with its base encoder (which
        pickles as how to load it): a tagger trained in a ZeroGPU call reaches the server ready to tag on its
        CPU (:mod:`xlmr_demo.zerogpu`)."""
        shared = self.shared_embeddings.weight if self.shared_embeddings is not None else None
        left_out = {n for n, p in self.network.named_parameters() if p is shared}
        state = {n: t.detach().cpu() for n, t in self.network.state_dict().items() if n not in left_out}
        return (_unpickled_tagger, (self.network.config, state, self.tokenizer, self.tag_names, self.base))

    @property
    def nbytes(self) -> int:
        """Memory of its own: its weights but the word embeddings it shares with the base model."""
        shared = self.shared_embeddings.weight if self.shared_embeddings is not None else None
        return sum(p.numel() * p.element_size() for p in self.network.parameters() if p is not shared)

    def tag(self, sentences: list[list[str]]) -> list[list[str]]:
        """IOB2 tags of each sentence's words."""
        import torch

        corpus = Corpus("text", sentences, [["O"] * len(s) for s in sentences], ["und"] * len(sentences))
        examples, firsts = align(self.tokenizer, corpus, {}, MEASURE_MAX_LENGTH)
        pad = self.tokenizer.pad_token_id or 0
        out = []
        with torch.inference_mode():
            for start in range(0, len(examples), self.BATCH):
                ids, mask = pad_batch([e.input_ids for e in examples[start : start + self.BATCH]], pad)
                ids, mask = ids.to(self.device), mask.to(self.device)
                logits = self.network(input_ids=ids, attention_mask=mask).logits.float().cpu().numpy()
                for x, first in zip(logits, firsts[start : start + self.BATCH], strict=True):
                    out.append(word_tags(x, first, self.tag_names))
        return out

    def entities(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, type) character spans of the entities in ``text``, in order."""
        offsets = words_of(text)
        if not offsets:
            return []
        tags = self.tag([[text[s:e] for s, e in offsets]])[0]
        return sorted((offsets[first][0], offsets[last][1], kind) for kind, first, last in entities(tags))


def _unpickled_tagger(config, state: dict, tokenizer, tag_names: list[str], base: Encoder | None) -> Tagger:
    """A :class:`Tagger` as :meth:`Tagger.__reduce__` describes it; the word embeddings it shared, from ``base``."""
    import torch

    network = AutoModelForTokenClassification.from_config(config)
    missing, _ = network.load_state_dict(state, strict=False)
    embedding = network.get_input_embeddings()
    if base is not None and missing:
        with torch.no_grad():
            embedding.weight.copy_(base.model[0].auto_model.get_input_embeddings().weight)
    left = set(missing) - {n for n, p in network.named_parameters() if p is embedding.weight}
    if left:
        raise ValueError(f"the pickled tagger lacks {sorted(left)[:3]}")
    return Tagger(network, tokenizer, tag_names, base)


class EntityResult(NamedTuple):
    """What fine-tuning for entities in the app made: the tagger and its measurements."""

    tagger: Tagger
    evaluations: dict  # name ("test", or the other file's language) -> measure()'s metrics of the kept weights
    training: dict  # the run: sentences, history, stopped, seconds, device, precision

    @property
    def nbytes(self) -> int:
        return self.tagger.nbytes


TEST_FRACTION = 0.1
# a new token-classification layer learns nothing in a few dozen steps at the default learning rate: a small
# file gets more epochs (up to MAX_EPOCHS) to make MIN_STEPS steps
MIN_STEPS, MAX_EPOCHS = 300, 30
MAX_MEASURED = 2_000  # sentences of each measured set (validation, test, another language's file)


def finetune_entities(
    corpus: Corpus, other: Corpus | None = None, model: str = "embedded", minutes: float = 5.0, seed: int = 0,
    progress: Progress | None = None,
) -> EntityResult:  # fmt: skip
    """Fine-tune ``model`` for the entities of ``corpus`` within ``minutes``, in memory (the app's Entities tab).

    A seeded tenth of its sentences is held out for testing and another tenth chooses the epoch; the
    rest is learnt. ``other`` (another language's file) is measured zero-shot. ``progress``: as
    :func:`finetune.text_classification.finetune_stages`; a stop keeps the best weights measured.
    """
    started = time.monotonic()
    rest, test = held_out(corpus, TEST_FRACTION, seed, "test")
    train, validation = held_out(rest, VALIDATION_FRACTION / (1 - TEST_FRACTION), seed, "validation")
    config = FineTuneConfig()
    steps = -(-len(train.words) // config.batch_size)  # a small file gets more epochs: MIN_STEPS steps in all
    epochs = min(MAX_EPOCHS, max(config.epochs, -(-MIN_STEPS // steps)))
    # short epochs: a score stuck at 0 while the new layer starts to learn must not end training
    patience = max(config.patience, epochs // 3)
    config = replace(config, epochs=epochs, patience=patience, max_minutes=minutes, seed=seed)
    measured = {"test": test}
    if other is not None:
        measured[other.language if other.language != "test" else "other"] = other
    # every measured set is scored after every epoch: a seeded sample of at most MAX_MEASURED sentences each
    totals = {name: len(c.words) for name, c in {"validation": validation, **measured}.items()}
    validation, *kept = (
        c if len(c.words) <= MAX_MEASURED
        else c.subset(sorted(np.random.default_rng(seed).choice(len(c.words), MAX_MEASURED, replace=False)))
        for c in (validation, *measured.values())
    )  # fmt: skip
    measured = dict(zip(measured, kept, strict=True))
    job = prepare(train, validation, measured, model, config, {"source": "app"})
    metrics = fit(
        task=TASK, **job.fitting._asdict(), config=config, output=None, started=started,
        describe=lambda result: {"evaluations": result.evaluations}, progress=progress,
    )  # fmt: skip
    evaluations = {k: {n: v for n, v in m.items() if n not in ("summary", "score")}
                   for k, m in metrics["evaluations"].items() if k != "validation"}  # fmt: skip
    training = {k: metrics[k] for k in ("settings", "device", "precision", "best_epoch", "steps", "stopped", "seconds",
                                        "history")}  # fmt: skip
    training["sentences_in_file"] = totals  # the measured sets before sampling
    tagger = Tagger(job.fitting.model, job.tokenizer, job.tag_names, load_encoder(model))
    return EntityResult(tagger, evaluations, training)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m finetune.token_classification",
        description="Fine-tune a whole XLM-R-family encoder for named-entity recognition (CoNLL/WikiANN files).",
    )
    p.add_argument("--train", required=True, help="CoNLL/WikiANN file to learn from")
    p.add_argument("--eval", required=True, help="file measured each epoch (same language)")
    p.add_argument(
        "--eval-other-language",
        nargs="+",
        default=[],
        metavar="F",
        help="files in other languages, measured zero-shot",
    )
    p.add_argument("--validation", help="file for choosing the epoch (default: 10%% of --train)")
    add_training_options(p, FineTuneConfig())
    p.set_defaults(run=_command)
    return p


def _command(args: argparse.Namespace) -> None:
    metrics = finetune(
        args.train,
        args.eval,
        args.output,
        other_languages=args.eval_other_language,
        validation_path=args.validation,
        model=args.model,
        config=config_from(args),
    )
    for name in metrics["settings"]["measured"]:
        m = metrics["evaluations"][name]
        print(f"== {name} ({m['language']}, {m['sentences']} sentences)\n\nentities\n{m['entity_report']}\n")
        print(f"words (tags on each word; the 'O' rows inflate the averages)\n{m['token_report']}")
    measured = metrics["settings"]["measured"].items()
    summary = ", ".join(f"{lang}: {metrics['evaluations'][k]['score']:.4f}" for k, lang in measured)
    print(f"entity F1 {summary} after {metrics['seconds'] / 60:.1f} min; saved to {args.output}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), argv, interrupted=RESUME_HINT)


if __name__ == "__main__":
    sys.exit(main())
