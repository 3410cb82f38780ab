"""Fine-tune a whole encoder for named-entity recognition (token classification).

    python -m finetune.token_classification --train T --eval E [--eval-other-language F ...]
        --output DIR [--validation V] [--model NAME] [--epochs N] [--lr X] [--batch-size N]
        [--max-length N] [--freeze-layers N] [--max-minutes M] [--seed N]

Files are CoNLL/WikiANN style: one word a line, the word first and its IOB2 tag last (tab or
space separated), a blank line between sentences; ``-DOCSTART-`` lines are skipped and WikiANN's
``en:`` style language prefix is removed (and names the language). Each word's tag is learnt and
predicted on its first sub-token. Training sentences are cut at ``--max-length`` sub-tokens, measured
ones at the model's limit (512). Validation (model choice, early stopping) uses ``--validation``
or else 10% of the training sentences; ``--eval`` and each ``--eval-other-language`` file (zero-shot
cross-lingual transfer) are only measured.

Reported: entity-level precision/recall/F1 per type and micro-averaged (as seqeval), and a per-tag
word-level report like the seed article's. Output: a standard Hugging Face folder that
``AutoModelForTokenClassification`` loads, plus ``metrics.json``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from transformers import AutoModelForTokenClassification

from xlmr_demo.cli import run_cli
from xlmr_demo.errors import UserError
from xlmr_demo.readers import check_file, decode_bytes

from .common import RESUME_HINT, add_training_options, config_from, load_model, run, save_pretrained
from .loop import Example, FineTuneConfig, FitResult, prepare_output, say
from .ner_metrics import entity_report, entity_scores, split_tag, token_report

TASK = "token-classification"
_PREFIX = re.compile(r"^([a-z]{2,3}(?:-[a-z]+)?):(?=.)")
_TAG = re.compile(r"^(O|[BI]-\S+)$")
VALIDATION_FRACTION = 0.1
MEASURE_MAX_LENGTH = 512  # sub-tokens of a measured sentence (XLM-R's limit); beyond it words count as "O"


@dataclass
class Corpus:
    """Sentences of one file: words and their tags, and the language its prefix named (or the file name)."""

    name: str
    words: list[list[str]]
    tags: list[list[str]]


def read_conll(path: str | Path) -> Corpus:
    """Read a CoNLL/WikiANN file (see the module docstring); errors name the line."""
    path = check_file(path)
    lines = decode_bytes(path.read_bytes(), path.name).splitlines()
    words, tags, sent_w, sent_t = [], [], [], []
    for number, line in enumerate([*lines, ""], start=1):
        line = line.strip()
        if not line or line.startswith("-DOCSTART-"):
            if sent_w:
                words.append(sent_w)
                tags.append(sent_t)
            sent_w, sent_t = [], []
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        if len(fields) < 2:
            raise UserError(f"{path.name}, line {number}: expected a word and its tag, found {line[:60]!r}.")
        tag = fields[-1].strip()
        if not _TAG.match(tag):
            raise UserError(
                f"{path.name}, line {number}: {tag!r} is not an IOB2 tag (O, B-TYPE or I-TYPE), e.g. B-PER."
            )
        sent_w.append(fields[0].strip())
        sent_t.append(tag)
    if not words:
        raise UserError(f"{path.name} holds no sentences (one word and tag a line, blank lines between sentences).")
    prefixes = Counter(m.group(1) for s in words for w in s if (m := _PREFIX.match(w)))
    n_words = sum(len(s) for s in words)
    name = path.name
    if prefixes:
        prefix, count = prefixes.most_common(1)[0]
        if count >= 0.95 * n_words:  # a WikiANN file: every word carries "xx:"
            cut = len(prefix) + 1
            words = [[w[cut:] if w.startswith(prefix + ":") else w for w in s] for s in words]
            name = prefix
    return Corpus(name=name, words=words, tags=tags)


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
    train = read_conll(train_path)
    if validation_path is not None:
        validation = read_conll(validation_path)
    else:
        order = np.random.default_rng(config.seed).permutation(len(train.words))
        n_val = max(1, round(len(order) * VALIDATION_FRACTION))
        if len(order) - n_val < 1:
            raise UserError(f"{Path(train_path).name} has too few sentences to keep some for validation.")
        pick = lambda rows: ([train.words[i] for i in rows], [train.tags[i] for i in rows])  # noqa: E731
        validation = Corpus(f"{train.name} (validation)", *pick(sorted(order[:n_val])))
        train = Corpus(train.name, *pick(sorted(order[n_val:])))
    measured = {"eval": read_conll(eval_path)}
    for path in other_languages:
        corpus = read_conll(path)
        key = corpus.name if corpus.name not in measured and corpus.name != "eval" else Path(path).name
        measured[key] = corpus
    kinds = sorted({split_tag(t)[1] for s in train.tags for t in s} - {""})
    if not kinds:
        raise UserError(f"{Path(train_path).name} has no entity tags (only O); there is nothing to learn.")
    tag_names = ["O"] + [f"{p}-{k}" for k in kinds for p in "BI"]
    tag_ids = {t: i for i, t in enumerate(tag_names)}
    for name, corpus in measured.items():
        extra = sorted({split_tag(t)[1] for s in corpus.tags for t in s} - set(kinds) - {""})
        if extra:
            say(f"note: {name} has entity types never seen in training ({', '.join(extra)}); they count as missed")
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
            say(f"note: {lost} word(s) of {name} lie beyond {limit} sub-tokens; they are predicted O")

    def measure(name: str, logits: list[np.ndarray]) -> dict:
        corpus, firsts = corpora[name], aligned[name][1]
        predicted = [
            [tag_names[int(np.argmax(x[f]))] if f >= 0 else "O" for f in first]
            for x, first in zip(logits, firsts, strict=True)
        ]
        scores = entity_scores(corpus.tags, predicted)
        report = entity_report(scores)
        words = token_report(corpus.tags, predicted, tag_names)
        return {
            "language": corpus.name,
            "sentences": len(corpus.words),
            "entity": scores,
            "entity_report": report,
            "token_report": words,
            "score": scores["micro"]["f1"],
            "summary": f"{name} ({corpus.name}): entity F1 {scores['micro']['f1']:.4f}\n{report}\n",
        }

    settings = {
        "task": TASK,
        "model": model,
        "train": str(Path(train_path).resolve()),
        "validation": str(Path(validation_path).resolve()) if validation_path else None,
        "measured": {name: c.name for name, c in measured.items()},
        "tags": tag_names,
        "sentences": {"train": len(train.words), **{name: len(c.words) for name, c in corpora.items()}},
    }

    def describe(result: FitResult) -> dict:
        return {"tags": tag_names, "evaluations": result.evaluations}

    return run(
        task=TASK,
        model=network,
        save=save_pretrained(network, tokenizer),
        folder=folder,
        train=train_examples,
        validation=aligned["validation"][0],
        evaluations={name: aligned[name][0] for name in measured},
        measure=measure,
        config=config,
        output=output,
        settings=settings,
        started=started,
        describe=describe,
    )


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
