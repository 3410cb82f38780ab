"""Zero-shot classification from label names: nothing is trained, the encoder alone decides.

Each label is a point: the model's vector of "This text is about <label>.", plus that of the label's
description where one is given (:func:`xlmr_demo.prototypes.name_vectors`). A text goes to the nearest label
after the corrections of :mod:`xlmr_demo.prototypes`, which read the texts being classified, never their labels.
The labels a file holds, when it has them, are used only to measure (:func:`zero_shot_table`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .classifier import BaseClassifier
from .columns import detect_columns
from .dataset import MISSING, label_key, match_classes, quoted
from .encoders import Encoder, embed, load_encoder
from .errors import UserError
from .languages import detect_languages
from .limits import current as current_limits
from .limits import over_limit
from .predict import Predictions, predict_table
from .progress import Progress, Step
from .prototypes import (
    LANGUAGE_ROWS,
    REFINE_ROWS,
    SHOWN_TEMPERATURE,
    Comparison,
    name_vectors,
    similarities,
    soft_assignment,
)
from .table import Table, short

#: Bounds of what a user types: a label name, a description.
NAME_CHARS = 200
DESCRIPTION_CHARS = 1_000
#: Sentences in 30 languages shipped with the package: the centre for texts too few to give their own.
REFERENCE = Path(__file__).with_name("calibration.txt")


#: What may separate typed labels, in the order tried: commas (Latin, Chinese and Japanese, Arabic), then
#: semicolons, then bars (half- or full-width).
LABEL_SEPARATORS = ((",", "，", "、", "،"), (";", "；"), ("|", "｜"))


def parse_labels(text: str) -> list[str]:
    """Label names typed one per line, or as "a, b, c" (any script's comma; a semicolon where there is none,
    else a bar): stripped, blanks dropped, checked."""
    if "\n" in text.strip():
        parts = text.split("\n")
    else:
        group = next((g for g in LABEL_SEPARATORS if any(sep in text for sep in g)), (",",))
        for sep in group[1:]:
            text = text.replace(sep, group[0])
        parts = text.split(group[0])
    return check_labels([p.strip() for p in parts if p.strip()])


def check_labels(names: Sequence[str]) -> list[str]:
    """``names`` if they can be labels: two or more, short, each once (spellings compared as the Data tab does)."""
    names = [str(n).strip() for n in names if str(n).strip()]
    if len(names) < 2:
        raise UserError("Type at least two labels, separated by commas (for example: sports, politics, health).")
    limit = current_limits().classes
    if len(names) > limit:
        raise over_limit(f"{len(names):,} labels were typed; the limit is {limit:,} classes.", "classes")
    long = [n for n in names if len(n) > NAME_CHARS]
    if long:
        raise UserError(
            f"A label name may have up to {NAME_CHARS} characters; {quoted(long[:1])} has {len(long[0]):,}."
        )
    seen: dict[str, str] = {}
    for n in names:
        if label_key(n) in seen:
            raise UserError(f"The labels {quoted([seen[label_key(n)], n])} are the same label; type each once.")
        seen[label_key(n)] = n
    return names


def parse_descriptions(text: str, labels: Sequence[str]) -> dict[str, str]:
    """Descriptions typed (or read from a file) one per line as "label: what it means" (or a full-width "："); the
    label is the longest start of the line that is one of ``labels`` (matched as the Data tab matches spellings),
    so a label may hold a colon. Lines naming no label, or a label twice, are refused."""
    spelled = {label_key(c): c for c in labels}
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cuts = [i for i, ch in enumerate(line) if ch in ":："]
        named = [(line[:i], line[i + 1 :]) for i in reversed(cuts) if label_key(line[:i].strip()) in spelled]
        if not named:
            first = line[: cuts[0]].strip() if cuts else ""
            if not cuts or not first:
                raise UserError(f"Description line {number} should read 'label: what it means', not {quoted([line])}.")
            raise UserError(
                f"Description line {number} names {quoted([first])}, which is not one of the labels "
                f"({quoted(list(labels)[:10])})."
            )
        name, description = named[0]
        label = spelled[label_key(name.strip())]
        if not description.strip():
            raise UserError(f"Description line {number} gives {quoted([label])} no description after the colon.")
        if len(description.strip()) > DESCRIPTION_CHARS:
            raise UserError(f"A description may have up to {DESCRIPTION_CHARS:,} characters; line {number} is longer.")
        if label in out:
            raise UserError(f"Description line {number} describes {quoted([label])} again; give each label one line.")
        out[label] = description.strip()
    return out


def read_descriptions(path: str | Path, labels: Sequence[str]) -> dict[str, str]:
    """:func:`parse_descriptions` of a UTF-8 text file."""
    path = Path(path)
    try:
        if path.stat().st_size > (NAME_CHARS + DESCRIPTION_CHARS + 2) * current_limits().classes:
            raise UserError(f"{path.name} is too large to be label descriptions (one short line per label).")
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"Could not read the descriptions in {path.name}: {exc}") from exc
    return parse_descriptions(text, labels)


@dataclass
class ZeroShotClassifier(BaseClassifier):
    """Labels from their names (and descriptions): a classifier for :func:`predict_table` and the rest of the
    product that trained nothing. Its answers depend on the batch they are asked about (the corrections of
    :mod:`xlmr_demo.prototypes` read the batch's texts): a whole file is classified as one batch."""

    labels: list[str]
    descriptions: dict[str, str] = field(default_factory=dict)
    model: str = "embedded"
    encoder: Encoder | None = None
    notes: list[str] = field(default_factory=list)  # what the last predict_proba did, in words

    def __post_init__(self) -> None:
        self.labels = check_labels(self.labels)
        if self.encoder is None:
            self.encoder = load_encoder(self.model)
        self._vectors: np.ndarray | None = None
        self._reference: np.ndarray | None = None

    @property
    def classes_(self) -> list[str]:
        return self.labels

    def label_vectors(self) -> np.ndarray:
        """(n_labels, dim) unit vectors: each label's sentence, plus its description's where it has one."""
        if self._vectors is None:
            self._vectors = name_vectors(self.labels, self.encoder, self.descriptions)
        return self._vectors

    def reference_centre(self) -> np.ndarray:
        if self._reference is None:
            sentences = [s for s in REFERENCE.read_text(encoding="utf-8").splitlines() if s.strip()]
            self._reference = embed(sentences, self.encoder).embeddings.mean(axis=0)
        return self._reference

    def predict_proba(
        self, texts: Sequence[str], progress: Progress | None = None, languages: Sequence[str] | None = None
    ) -> np.ndarray:
        """(n, n_labels) shares of each text's vote (a softmax of the similarities at
        :data:`~xlmr_demo.prototypes.SHOWN_TEMPERATURE`: a similarity, not a trained probability).
        ``languages`` default to each text's detected language."""
        texts = list(texts)
        X = embed(texts, self.encoder, progress=progress).embeddings
        if progress:
            progress(Step("comparing with the label names", 0, 1))
        languages = detect_languages(texts) if languages is None else list(languages)
        compared = similarities(X, languages, self.label_vectors(), self.reference_centre())
        self.notes = calibration_notes(compared, languages, self.labels)
        if progress:
            progress(Step("comparing with the label names", 1, 1))
        return soft_assignment(compared.S, SHOWN_TEMPERATURE)


def calibration_notes(compared: Comparison, languages: Sequence[str], labels: Sequence[str]) -> list[str]:
    """What :meth:`ZeroShotClassifier.predict_proba` did, in words."""
    counts = Counter(languages)
    own = compared.own
    other = sorted(set(counts) - set(own) - set(compared.leaning))
    notes = []
    if own:
        notes.append(f"Each of {_listed(own)} was compared from its own centre.")
    for lang, (label, share) in compared.leaning.items():
        notes.append(
            f"⚠️ {share:.0%} of the {lang} rows lean to {labels[label]!r}, so that language's average mostly says "
            f"{labels[label]!r} and was not taken out (the package's own sentences gave the centre instead). If "
            "the file is not mostly about one label, check a sample of rows: such files are read less well."
        )
    if other:
        notes.append(
            f"{_listed(other)}: fewer than {LANGUAGE_ROWS} different rows, compared from the package's own sentences' "
            "centre."
        )
    if compared.refined:
        notes.append("Each label's centre then moved towards the texts that lean to it (no label was read).")
    else:
        notes.append(
            f"Label centres were not refined from the texts: that needs {REFINE_ROWS} rows per label "
            f"({REFINE_ROWS * len(labels):,} here)."
        )
    return notes


def _listed(values: Sequence[str], most: int = 12) -> str:
    return ", ".join(values[:most]) + (" ..." if len(values) > most else "")


@dataclass(frozen=True)
class ZeroShotResult:
    """A file classified from label names: the rows with their predictions, and figures where it had labels."""

    predictions: Predictions
    classifier: ZeroShotClassifier  # classifies other texts with the same labels (one text: see its docstring)
    notes: list[str]
    metrics: dict | None = None  # as classification_metrics gives, on the rows whose label is one typed
    label_column: str | None = None
    # labels in the file that were not typed, with their rows: measured, and always wrong (only a typed label is given)
    untyped: dict[str, int] = field(default_factory=dict)
    group_column: str | None = None  # the intervals resample its meaning groups (else the rows)


def zero_shot_table(
    table: Table,
    labels: Sequence[str],
    descriptions: dict[str, str] | None = None,
    model: str | Encoder = "embedded",
    text_column: str | None = None,
    label_column: str | None = None,
    language_column: str | None = None,
    progress: Progress | None = None,
    name: str = "the file",
) -> ZeroShotResult:
    """Classify every row of ``table`` from the label names; where it has a label column (given, or found by its
    name), measure on the rows with a label (accuracy, macro-F1, per class and language, with 95% intervals over
    the rows, or over its meaning groups where it has a group column). A row whose label was not typed counts as
    wrong: it was given one of the typed labels."""
    from .metrics import classification_metrics

    found = detect_columns(
        table, name, ("text", "label", "language", "group"), required=("text",),
        text=text_column, label=label_column, language=language_column,
    )  # fmt: skip
    encoder = model if isinstance(model, Encoder) else load_encoder(model)
    classifier = ZeroShotClassifier(list(labels), dict(descriptions or {}), encoder.name, encoder)
    cells = table.column(found.text)
    kept = [i for i, c in enumerate(cells) if c and c.strip()]
    if found.language:
        given = table.column(found.language)
        languages = [(given[i] or "").strip() or "und" for i in kept]
    else:
        languages = detect_languages([cells[i] for i in kept])
    predictions = predict_table(_Given(classifier, languages), table, found.text, progress)
    notes = list(classifier.notes)
    if not found.label:
        return ZeroShotResult(predictions, classifier, notes)
    given_labels = table.column(found.label)
    truth = match_classes([(given_labels[i] or "").strip() for i in kept], classifier.labels)
    predicted = predictions.table.column(predictions.added[0])
    measured = [k for k, t in enumerate(truth) if t and t.casefold() not in MISSING]
    untyped = Counter(truth[k] for k in measured if truth[k] not in classifier.labels)
    if sum(untyped.values()) == len(measured):  # no row's label was typed (or no row has one)
        notes.append(
            f"The label column {short(found.label)!r} holds none of the labels typed (it holds "
            f"{quoted([v for v, _ in untyped.most_common(5)])}{' ...' if len(untyped) > 5 else ''}): nothing to "
            "measure. Type the labels as the file spells them to see how often they are right."
        )
        return ZeroShotResult(predictions, classifier, notes, None, found.label, dict(untyped), found.group)
    groups = table.column(found.group) if found.group else None
    metrics = classification_metrics(
        [truth[k] for k in measured], [predicted[kept[k]] for k in measured], classifier.labels + sorted(untyped),
        [languages[k] for k in measured], None if groups is None else [groups[kept[k]] or f"\0{k}" for k in measured],
    )  # fmt: skip
    return ZeroShotResult(predictions, classifier, notes, metrics, found.label, dict(untyped), found.group)


class _Given(BaseClassifier):
    """``classifier`` told the languages of the texts :func:`predict_table` will ask about (in their order)."""

    def __init__(self, classifier: ZeroShotClassifier, languages: list[str]) -> None:
        self.classifier, self.languages, self.classes_ = classifier, languages, classifier.classes_

    def predict_proba(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        return self.classifier.predict_proba(texts, progress, self.languages)


__all__ = [
    "ZeroShotClassifier",
    "ZeroShotResult",
    "check_labels",
    "parse_descriptions",
    "parse_labels",
    "read_descriptions",
    "zero_shot_table",
]
