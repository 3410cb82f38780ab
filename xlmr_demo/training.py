"""Training and measuring a :class:`~xlmr_demo.classifier.Classifier` on a checked dataset.

:func:`train_classifier` takes a checked :class:`~xlmr_demo.dataset.Dataset`, embeds it (through the
cache), trains a head on the train split with early stopping on the validation split and measures it
on the test split (or an evaluation file): overall, per class, per language, the cross-lingual
transfer matrix, and the rows whose given label the model finds least likely (suspected label errors).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from .classifier import BaseClassifier, Classifier
from .dataset import Dataset, match_classes
from .embedded import EMBEDDED_NAME
from .encoders import Encoder, embed, load_encoder
from .errors import UserError
from .heads import Head, HeadConfig, routing_languages
from .metrics import classification_metrics
from .progress import Progress, Step

MIN_TRANSFER_ROWS = 20  # a language with fewer training rows is too small to train a head on alone
#: A transfer score measured on fewer test rows than this is shown as too few to trust.
MIN_TRUSTED_ROWS = 30


@dataclass
class TrainResult:
    """Everything one training run produced."""

    classifier: Classifier
    metrics: dict  # measured on the test split; see metrics.classification_metrics
    label_issues: list[dict] = field(default_factory=list)
    training: dict = field(default_factory=dict)  # settings and history, saved in config.json
    pending: tuple[str, ...] = ()  # diagnostics still to come (see train_stages), in order


def fit_head(
    X, y, train, val, config: HeadConfig, progress: Progress | None = None, languages: np.ndarray | None = None
) -> Head:
    """A head on embeddings ``X[train]``, stopping early on ``X[val]`` (indices into ``X``, ``y``, ``languages``)."""
    ys = np.asarray(y, dtype=object)
    trained_on = None if languages is None else languages[train].tolist()
    return Head(config).fit(X[train], ys[train], X[val], ys[val], progress=progress, languages=trained_on)


def transfer_matrix(
    X: np.ndarray,
    dataset: Dataset,
    X_eval: np.ndarray,
    y_eval: Sequence[str],
    eval_languages: Sequence[str],
    config: HeadConfig,
    progress: Progress | None = None,
    routing: np.ndarray | None = None,
    eval_routing: np.ndarray | None = None,
) -> dict | None:
    """Train on one language's training rows only, evaluate on each language: macro-F1 per (train, eval) pair.

    Languages with fewer than :data:`MIN_TRANSFER_ROWS` training rows or a single class are not
    trained on; None when fewer than two languages remain on either side. ``routing`` and
    ``eval_routing``: the detected languages of the dataset's and the evaluation rows (see
    :func:`routing_languages`).
    """
    from sklearn.metrics import f1_score

    langs = np.asarray(dataset.languages, dtype=object)
    labels = np.asarray(dataset.labels, dtype=object)
    train, val = dataset.indices("train"), dataset.indices("validation")
    sources = [
        lang
        for lang in sorted(set(langs[train].tolist()))
        if (langs[train] == lang).sum() >= MIN_TRANSFER_ROWS and len(set(labels[train][langs[train] == lang])) >= 2
    ]
    eval_langs, y_eval = np.asarray(eval_languages, dtype=object), np.asarray(y_eval, dtype=object)
    targets = sorted(set(eval_langs.tolist()))
    if len(sources) < 2 or len(targets) < 2:
        return None
    matrix = []
    for k, source in enumerate(sources):

        def check(_: Step | None = None, k: int = k) -> None:  # also each epoch and chunk: a chance to stop
            if progress:
                progress(Step("cross-lingual transfer", k, len(sources)))

        check()
        fit_rows = train[langs[train] == source], val[langs[val] == source]
        head = fit_head(X, labels, *fit_rows, config, progress=check, languages=routing)
        row = []
        for target in targets:
            rows = eval_langs == target
            present = sorted(set(y_eval[rows].tolist()))
            predicted = head.predict(X_eval[rows], None if eval_routing is None else eval_routing[rows])
            score = f1_score(y_eval[rows], predicted, labels=present, average="macro", zero_division=0)
            row.append(round(float(score), 4))
        matrix.append(row)
    rows = [int((eval_langs == target).sum()) for target in targets]
    return {"train_languages": sources, "eval_languages": targets, "macro_f1": matrix, "eval_rows": rows}


def find_label_issues(
    X: np.ndarray, dataset: Dataset, config: HeadConfig, folds: int = 5, limit: int = 200,
    progress: Progress | None = None,
) -> list[dict]:  # fmt: skip
    """Rows whose given label the model finds least likely, from out-of-fold predictions.

    Each training/validation row is predicted by a head that never saw it (k-fold). As in
    confident learning, a row is *suspect* when another class's probability reaches that class's
    average self-confidence while its own label's probability does not. Suspects come first, then
    the rest by ascending probability of the given label; at most ``limit`` rows.
    """
    # every pooled row is a training row, so a by_language head sends (nearly) all of them to its MLP:
    # the search fits the MLP alone (rows in a language under 1% of the training rows are the exception)
    if config.kind == "by_language":
        config = replace(config, kind="mlp")
    pool = np.concatenate([dataset.indices("train"), dataset.indices("validation")])
    labels = np.asarray(dataset.labels, dtype=object)
    classes = sorted(set(labels[pool].tolist()))
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[v] for v in labels[pool]])
    folds = min(folds, int(np.bincount(y).min()))
    if folds < 2:
        return []
    from sklearn.model_selection import StratifiedKFold

    proba = np.zeros((len(pool), len(classes)))
    rng = np.random.default_rng(config.seed)
    splits = StratifiedKFold(folds, shuffle=True, random_state=config.seed).split(pool, y)
    for k, (fit_rows, held_rows) in enumerate(splits):

        def check(_: Step | None = None, k: int = k) -> None:  # also each epoch: a chance to stop
            if progress:
                progress(Step("looking for label errors", k, folds))

        check()
        # early stopping on a tenth of the fold's own rows: without it the heads overfit and every
        # out-of-fold probability is 0 or 1, which ranks nothing
        stop = rng.random(len(fit_rows)) < 0.1
        head = fit_head(X, labels, pool[fit_rows[~stop]], pool[fit_rows[stop]], config, progress=check)
        cols = [index[c] for c in head.classes_]
        proba[np.ix_(held_rows, cols)] = head.predict_proba(X[pool[held_rows]])
    given = proba[np.arange(len(pool)), y]
    thresholds = np.array([proba[y == k, k].mean() for k in range(len(classes))])
    other = proba.copy()
    other[np.arange(len(pool)), y] = -1
    best_other = other.argmax(axis=1)
    suspect = (given < thresholds[y]) & (other[np.arange(len(pool)), best_other] >= thresholds[best_other])
    order = np.lexsort((given, ~suspect))
    return [
        {
            "row": dataset.rows[pool[i]],
            "text": dataset.texts[pool[i]],
            "language": dataset.languages[pool[i]],
            "given_label": labels[pool[i]],
            "given_probability": round(float(given[i]), 4),
            "predicted_label": classes[int(proba[i].argmax())],
            "predicted_probability": round(float(proba[i].max()), 4),
            "suspect": bool(suspect[i]),
        }
        for i in order[:limit]
    ]


def _metrics(classes: list[str], predicted: Sequence[str], truth: Sequence[str], languages: Sequence[str]) -> dict:
    labels = classes + sorted(set(truth) - set(classes))
    metrics = classification_metrics(truth, predicted, labels, languages)
    unseen = labels[len(classes) :]
    if unseen:
        metrics["unseen_labels"] = unseen  # in the evaluation data but never in training: always wrong
    return metrics


def evaluate(classifier: BaseClassifier, dataset: Dataset, progress: Progress | None = None) -> dict:
    """Metrics of ``classifier`` on every row of ``dataset`` (see :func:`classification_metrics`)."""
    proba = classifier.predict_proba(dataset.texts, progress=progress)
    predicted = [classifier.classes_[i] for i in proba.argmax(axis=1)]
    truth = match_classes(dataset.labels, classifier.classes_)
    metrics = _metrics(classifier.classes_, predicted, truth, dataset.languages)
    metrics["evaluated_on"] = "evaluation file"
    return metrics


TRANSFER = "cross-lingual transfer"
LABEL_ERRORS = "label errors"


def train_stages(
    dataset: Dataset,
    model: str | Encoder = EMBEDDED_NAME,
    config: HeadConfig = HeadConfig(),
    *,
    eval_dataset: Dataset | None = None,
    transfer: bool = True,
    label_issues: bool = True,
    progress: Progress | None = None,
) -> Iterator[TrainResult]:
    """:func:`train_classifier` in stages: the result so far after each, the headline first.

    1. the classifier, fitted and measured: overall, per class, per language, confusion matrix;
    2. with the cross-lingual transfer matrix (``transfer``: :data:`TRANSFER`);
    3. with the suspected label errors (``label_issues``: :data:`LABEL_ERRORS`).

    Each result is a new object; its ``pending`` names the diagnostics still to come. A caller that
    stops early (a Stop button, a time limit) keeps a complete, saved-ready classifier and every
    stage done.
    """
    say = progress or (lambda step: None)

    def evaluation_data(step: Step) -> None:
        say(replace(step, stage="embedding evaluation data"))

    if eval_dataset is not None:  # the evaluation file measures: every row of the training file is learnt from
        dataset = dataset.test_rows_trained_on()
    encoder = model if isinstance(model, Encoder) else load_encoder(model)
    X = embed(dataset.texts, model=encoder, progress=say).embeddings
    train, val = dataset.indices("train"), dataset.indices("validation")
    if len(train) == 0:
        raise UserError("No rows are marked for training.")
    routing = routing_languages(dataset.texts, config)
    head = fit_head(X, dataset.labels, train, val, config, progress=say, languages=routing)
    classifier = Classifier(encoder, head)
    if eval_dataset is not None:
        X_eval = embed(eval_dataset.texts, model=encoder, progress=evaluation_data)
        X_eval, langs = X_eval.embeddings, eval_dataset.languages
        truth = match_classes(eval_dataset.labels, classifier.classes_)
        eval_routing = routing_languages(eval_dataset.texts, config)
    else:
        test = dataset.indices("test")
        if len(test) == 0:
            raise UserError("No rows are marked for testing, so nothing can be measured. Add test rows or --eval data.")
        X_eval, truth = X[test], [dataset.labels[i] for i in test]
        langs = [dataset.languages[i] for i in test]
        eval_routing = None if routing is None else routing[test]
    say(Step("measuring"))
    metrics = _metrics(classifier.classes_, head.predict(X_eval, eval_routing).tolist(), truth, langs)
    metrics["evaluated_on"] = "evaluation file" if eval_dataset is not None else "test split"
    training = {
        "rows": {s: len(dataset.indices(s)) for s in ("train", "validation", "test")},
        "best_epoch": head.history_.best_epoch,
        "train_loss": [round(v, 5) for v in head.history_.train_loss],
        "validation_loss": [round(v, 5) for v in head.history_.validation_loss],
        "columns": vars(dataset.columns),
        "languages_detected": dataset.languages_detected,
    }
    pending = tuple(stage for stage, wanted in ((TRANSFER, transfer), (LABEL_ERRORS, label_issues)) if wanted)
    result = TrainResult(classifier=classifier, metrics=metrics, training=training, pending=pending)
    yield result
    yield from diagnose(result, X, dataset, (X_eval, truth, langs), config, say, (routing, eval_routing))


def diagnose(
    result: TrainResult,
    X: np.ndarray,
    dataset: Dataset,
    evaluation: tuple[np.ndarray, Sequence[str], Sequence[str]],
    config: HeadConfig,
    progress: Progress | None = None,
    routing: tuple[np.ndarray | None, np.ndarray | None] = (None, None),
) -> Iterator[TrainResult]:
    """The diagnostic stages of ``result`` (those its ``pending`` names), each yielded as done.

    ``X``: the dataset's embeddings; ``evaluation``: the measured rows' embeddings, true labels and
    languages; ``routing``: the detected languages of the dataset's and the measured rows.
    """
    say = progress or (lambda step: None)
    if TRANSFER in result.pending:
        matrix = transfer_matrix(X, dataset, *evaluation, config, say, *routing)
        found = {} if matrix is None else {"transfer": matrix}
        result = replace(result, metrics={**result.metrics, **found}, pending=result.pending[1:])
        yield result
    if LABEL_ERRORS in result.pending:
        issues = find_label_issues(X, dataset, config, progress=say)
        result = replace(result, label_issues=issues, pending=())
        yield result
    say(Step("done", 1, 1))


def train_classifier(
    dataset: Dataset,
    model: str | Encoder = EMBEDDED_NAME,
    config: HeadConfig = HeadConfig(),
    *,
    eval_dataset: Dataset | None = None,
    transfer: bool = True,
    label_issues: bool = True,
    progress: Progress | None = None,
) -> TrainResult:
    """Embed, train, measure (on ``eval_dataset`` when given, else the test split) and diagnose.

    With ``eval_dataset`` the dataset's test rows are trained on too (nothing else would use them).

    ``progress`` gets each stage's steps: embedding, training (one per epoch, with its losses: a live
    loss curve), cross-lingual transfer, looking for label errors. :func:`train_stages` gives the
    result after each stage.
    """
    stages = train_stages(
        dataset, model, config, eval_dataset=eval_dataset, transfer=transfer, label_issues=label_issues,
        progress=progress,
    )  # fmt: skip
    return deque(stages, maxlen=1)[0]
