"""Training and measuring a :class:`~xlmr_demo.classifier.Classifier` on a checked dataset.

:func:`train_classifier` takes a checked :class:`~xlmr_demo.dataset.Dataset`, embeds it (through the
cache), finds its meaning groups (translations and near-copies share a split: see
:mod:`xlmr_demo.groups`), trains a head on the train split with early stopping on the validation
split and measures it on the test split (or an evaluation file): overall, per class, per language,
each with its interval; the cross-lingual transfer matrix on meanings the source language never
trained on; and the rows whose given label disagrees with their translations or that the model finds
least likely (suspected label errors).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from .classifier import BaseClassifier, Classifier
from .dataset import Dataset, grouping_summary, match_classes, strata_of, with_found_groups
from .encoders import Encoder, embed, load_encoder
from .errors import UserError
from .groups import Grouping, find_groups, group_codes
from .heads import FEW_ROWS, Head, HeadConfig, objects, routing_languages
from .learning_curve import learning_curve
from .metrics import label_matrix, measure
from .models import EMBEDDED_NAME
from .progress import Progress, Step
from .prototypes import name_vectors

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
    # the measured rows: "rows" (data-row numbers; None for an evaluation file), "truth", "predicted", "groups",
    # for paired comparisons with another classifier on the same rows (not saved)
    evaluated: dict = field(default_factory=dict)
    # the rows as trained: meaning groups found and split (retraining it, or fine-tuning it, keeps that split)
    dataset: Dataset | None = None

    @property
    def fine_tuned(self) -> bool:
        """Whether the whole model was fine-tuned (else a head was trained on the frozen model)."""
        return "fine_tuning" in self.training


def fit_head(
    X, y, train, val, config: HeadConfig, progress: Progress | None = None, languages: np.ndarray | None = None,
    names: dict[str, np.ndarray] | None = None,
) -> Head:  # fmt: skip
    """A head on embeddings ``X[train]``, stopping early on ``X[val]`` (indices into ``X``, ``y``, ``languages``);
    ``names``: each class's label-name vector, for a ``prototypes`` head."""
    ys = objects(y)
    if config.kind == "prototypes":  # no early stopping: the validation rows are examples too
        train, val = np.concatenate([train, val]), val[:0]
    trained_on = None if languages is None else languages[train].tolist()
    return Head(config).fit(X[train], ys[train], X[val], ys[val], progress=progress, languages=trained_on, names=names)


def head_for(dataset: Dataset, config: HeadConfig, encoder: Encoder) -> tuple[HeadConfig, dict | None, dict]:
    """The head to train on ``dataset``: ``config``, its kind "auto" resolved (a ``prototypes`` head where the
    training rows are few, :data:`~xlmr_demo.heads.FEW_ROWS` or fewer per class, the median class; else
    ``by_language``); with the label names' vectors a prototypes head needs, and what was chosen and why."""
    train = dataset.indices("train")
    counts = Counter(label for i in train for label in dataset.targets[i]) if dataset.multi_label else Counter(
        dataset.labels[i] for i in train
    )  # fmt: skip
    median = int(np.median(list(counts.values()))) if counts else 0
    chosen = config.kind == "auto"
    if chosen:
        few = median <= FEW_ROWS and not dataset.multi_label
        config = replace(config, kind="prototypes" if few else "by_language")
    choice = {"kind": config.kind, "chosen": chosen, "median_rows_per_class": median}
    if dataset.multi_label:  # one sigmoid per label; prototypes take one label per row
        if config.kind == "prototypes":
            raise UserError("Class prototypes take one label per row; choose another head for several labels.")
        return replace(config, multi_label=True), None, {**choice, "multi_label": True}
    if config.kind != "prototypes":
        return config, None, choice
    classes = sorted(counts)
    return config, dict(zip(classes, name_vectors(classes, encoder), strict=True)), choice


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
    eval_groups: Sequence[str] | None = None,
    names: dict[str, np.ndarray] | None = None,
) -> dict | None:
    """Train on one language's training rows only, evaluate on each language: macro-F1 per (train, eval) pair.

    Languages with fewer than :data:`MIN_TRANSFER_ROWS` training rows or a single class are not
    trained on; None when fewer than two languages remain on either side. ``routing`` and
    ``eval_routing``: the detected languages of the dataset's and the evaluation rows (see
    :func:`routing_languages`). ``eval_groups``: the meaning group of each evaluation row, in the
    dataset's group ids; a cell then scores only the rows whose meaning the source language's head
    never trained on ("trained on ar, evaluated on de" is not German translations of the Arabic
    training rows). ``eval_rows`` gives how many rows each cell rests on.
    """

    langs = np.asarray(dataset.languages, dtype=object)
    labels = np.asarray(dataset.labels, dtype=object)  # with several labels per row, each row's joined
    train, val = dataset.indices("train"), dataset.indices("validation")
    sources = [
        lang
        for lang in sorted(set(langs[train].tolist()))
        if (langs[train] == lang).sum() >= MIN_TRANSFER_ROWS and len(set(labels[train][langs[train] == lang])) >= 2
    ]
    eval_langs, y_eval = np.asarray(eval_languages, dtype=object), objects(y_eval)
    targets = sorted(set(eval_langs.tolist()))
    if len(sources) < 2 or len(targets) < 2:
        return None
    groups = np.asarray(dataset.groups, dtype=object)
    matrix, counts = [], []
    for k, source in enumerate(sources):

        def check(_: Step | None = None, k: int = k) -> None:  # also each epoch and chunk: a chance to stop
            if progress:
                progress(Step("cross-lingual transfer", k, len(sources)))

        check()
        fit_rows = train[langs[train] == source], val[langs[val] == source]
        head = fit_head(X, dataset.targets, *fit_rows, config, progress=check, languages=routing, names=names)
        seen = set(groups[np.concatenate(fit_rows)].tolist())
        unseen = (
            np.ones(len(eval_langs), bool) if eval_groups is None else np.array([g not in seen for g in eval_groups])
        )
        row, sizes = [], []
        for target in targets:
            rows = (eval_langs == target) & unseen
            score = None
            if rows.any():
                predicted = head.predict(X_eval[rows], None if eval_routing is None else eval_routing[rows])
                score = _macro_f1(y_eval[rows].tolist(), predicted.tolist())
            row.append(score)
            sizes.append(int(rows.sum()))
        matrix.append(row)
        counts.append(sizes)
    return {"train_languages": sources, "eval_languages": targets, "macro_f1": matrix, "eval_rows": counts}


def _macro_f1(truth: list, predicted: list) -> float:
    """Macro-F1 over the labels the rows hold: of one label per row, or of several (each a tuple)."""
    from sklearn.metrics import f1_score

    if truth and isinstance(truth[0], tuple):
        return measure(truth, predicted, sorted({x for v in truth for x in v}), None, None, 0)["macro_f1"]
    present = sorted(set(truth))
    return round(float(f1_score(truth, predicted, labels=present, average="macro", zero_division=0)), 4)


def find_label_issues(
    X: np.ndarray, dataset: Dataset, config: HeadConfig, folds: int = 5, limit: int = 200,
    progress: Progress | None = None, names: dict[str, np.ndarray] | None = None,
) -> list[dict]:  # fmt: skip
    """Rows whose given label looks wrong: it disagrees with the labels of the row's own meaning group (its
    translations and copies), or, for a row with no translation, a model that never saw it finds it unlikely.

    Rows of every split are searched. Each is predicted by a head trained on the other folds (k-fold
    by meaning group, so no head saw a translation of the rows it predicts). A grouped row is *suspect*
    when most of its group's other rows carry another label (of a pair, the one whose label the
    model finds less likely); its translations are the stronger evidence, so a row whose translations
    agree with it is not suspected on the model's word alone. A row with no translation is suspect, as
    in confident learning, when another class's probability reaches that class's average
    self-confidence while its own label's probability does not. ``evidence`` says which flagged it.
    Suspects come first, then the rest by ascending probability of the given label; at most ``limit``.
    """
    found = out_of_fold_probabilities(X, dataset, config, folds, progress, names)
    if found is None:
        return []
    proba, y, classes = found
    labels = np.asarray(dataset.labels, dtype=object)
    if dataset.multi_label:
        given, model_suspect, model_says, predicted = _label_set_suspects(proba, y, classes)
    else:
        given = proba[np.arange(len(labels)), y]
        model_suspect = confident_learning_suspects(proba, y)
        model_says = [""] * len(labels)
        predicted = [(classes[int(p.argmax())], float(p.max())) for p in proba]
    grouped, group_suspect, group_says = _group_disagreement(labels, group_codes(dataset.groups), given)
    suspect = np.where(grouped, group_suspect, model_suspect)
    evidence = [
        "translations and model" if g and m else "translations" if g else "model" if m and not grouped[i] else ""
        for i, (g, m) in enumerate(zip(group_suspect, model_suspect, strict=True))
    ]
    order = np.lexsort((given, ~suspect))
    return [
        {
            "row": dataset.rows[i],
            "text": dataset.texts[i],
            "language": dataset.languages[i],
            "split": dataset.splits[i],
            "given_label": labels[i],
            "given_probability": round(float(given[i]), 4),
            "predicted_label": predicted[i][0],
            "predicted_probability": round(predicted[i][1], 4),
            "suspect": bool(suspect[i]),
            "evidence": f"{evidence[i]}: {model_says[i]}" if model_says[i] and model_suspect[i] else evidence[i],
            "translations_say": group_says[i],
        }
        for i in order[:limit]
    ]


#: A label is searched for errors when at least this many rows have it and this many do not.
MIN_LABEL_ROWS = 5


def _label_set_suspects(proba: np.ndarray, Y: np.ndarray, classes: list[str]):
    """Several labels per row: each label searched as its own yes/no question by confident learning
    (:func:`confident_learning_suspects`), a label missing where the model finds it likely, or there where it
    finds it unlikely. Per row: the probability of its least likely given label, whether any label is suspect,
    what the model says of them, and (the labels the model gives at 0.5, the probability of the likeliest label
    not given)."""
    suspects = np.zeros(Y.shape, bool)
    for j in range(Y.shape[1]):
        if MIN_LABEL_ROWS <= Y[:, j].sum() <= len(Y) - MIN_LABEL_ROWS:
            suspects[:, j] = confident_learning_suspects(np.column_stack([1 - proba[:, j], proba[:, j]]), Y[:, j])
    given = np.where(Y == 1, proba, 1.0).min(axis=1)
    says = [
        "; ".join(
            f"{classes[j]!r} {'missing' if Y[i, j] == 0 else 'unlikely'} ({proba[i, j]:.2f})"
            for j in np.flatnonzero(suspects[i])
        )
        for i in range(len(Y))
    ]
    predicted = [
        (", ".join(classes[j] for j in np.flatnonzero(p >= 0.5)), float(np.where(y == 0, p, 0).max()))
        for p, y in zip(proba, Y, strict=True)
    ]
    return given, suspects.any(axis=1), says, predicted


def out_of_fold_probabilities(
    X: np.ndarray, dataset: Dataset, config: HeadConfig, folds: int = 5, progress: Progress | None = None,
    names: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]] | None:  # fmt: skip
    """Each row's class probabilities from a head that never saw its meaning group (k-fold by group, stratified
    by label): (probabilities (rows, classes), each row's class index, the classes). None when a class has too
    few rows to hold some out."""
    # every pooled row is a training row, so a by_language head sends (nearly) all of them to its MLP:
    # the search fits the MLP alone (rows in a language under 1% of the training rows are the exception)
    if config.kind == "by_language":
        config = replace(config, kind="mlp")
    labels = np.asarray(dataset.labels, dtype=object)
    classes = dataset.classes
    index = {c: i for i, c in enumerate(classes)}
    if dataset.multi_label:  # y: (rows, labels) 0/1; folds stratified by each row's rarest label
        y = label_matrix(dataset.label_sets, classes)
        strata = np.array([index[v] for v in strata_of(dataset)])
    else:
        y = strata = np.array([index[v] for v in labels])
    codes = group_codes(dataset.groups)
    folds = min(folds, int(codes.max()) + 1, int(np.bincount(strata).min()))
    if folds < 2 or len(classes) < 2:
        return None
    from sklearn.model_selection import StratifiedGroupKFold

    proba = np.zeros((len(labels), len(classes)))
    rng = np.random.default_rng(config.seed)
    splits = StratifiedGroupKFold(folds, shuffle=True, random_state=config.seed).split(labels, strata, codes)
    for k, (fit_rows, held_rows) in enumerate(splits):

        def check(_: Step | None = None, k: int = k) -> None:  # also each epoch: a chance to stop
            if progress:
                progress(Step("looking for label errors", k, folds))

        check()
        # early stopping on a tenth of the fold's own groups: without it the heads overfit and every
        # out-of-fold probability is 0 or 1, which ranks nothing
        fold_groups = np.unique(codes[fit_rows])
        stopping = rng.permutation(fold_groups)[: max(1, len(fold_groups) // 10)]
        stop = np.isin(codes[fit_rows], stopping)
        if len(set(strata[fit_rows[~stop]].tolist())) < 2:
            stop[:] = False
        head = fit_head(X, dataset.targets, fit_rows[~stop], fit_rows[stop], config, progress=check, names=names)
        cols = [index[c] for c in head.classes_]
        proba[np.ix_(held_rows, cols)] = head.predict_proba(X[held_rows])
    return proba, y, classes


def confident_learning_suspects(proba: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Rows whose label the out-of-fold ``proba`` contradicts (``y``: class indices), by confident learning:
    cleanlab's ``find_label_issues`` with ``filter_by="both"``. On the same probabilities it matched or beat the
    rule the product used before (cleanlab's ``confident_learning`` filter) on UMSAB and on SIB rows with no
    translation, 5% of labels changed: ``bench/results/label_errors.md``."""
    from cleanlab.filter import find_label_issues as cleanlab_issues

    return np.asarray(cleanlab_issues(labels=y, pred_probs=proba, filter_by="both", n_jobs=1), dtype=bool)


def _group_disagreement(labels: np.ndarray, groups: np.ndarray, given: np.ndarray):
    """Per row: whether it has other rows in its group, whether its label loses to theirs, and what they say.

    A row's label loses when more than half of the group's other rows agree on another label; in a
    group of two that disagree, the row whose label the model finds less likely (``given``) loses.
    """
    n = len(labels)
    grouped, suspect, says = np.zeros(n, bool), np.zeros(n, bool), [""] * n
    members: dict[int, list[int]] = {}
    for i, g in enumerate(groups.tolist()):
        members.setdefault(g, []).append(i)
    for rows in members.values():
        if len(rows) < 2:
            continue
        counts = Counter(labels[rows].tolist())
        for i in rows:
            others = counts - Counter([labels[i]])  # the group's labels but this row's (linear in the group)
            top, count = others.most_common(1)[0]
            grouped[i] = True
            says[i] = f"{top} ({count} of {len(rows) - 1})"
            if top != labels[i] and count * 2 > len(rows) - 1:
                suspect[i] = True
        if len(rows) == 2 and suspect[rows].all():
            suspect[rows[int(np.argmax(given[rows]))]] = False
    return grouped, suspect, says


def _metrics(
    classes: list[str], predicted: Sequence, truth: Sequence, languages: Sequence[str],
    groups: Sequence[str] | None = None, seed: int = 0,
) -> dict:  # fmt: skip
    given = {label for v in truth for label in (v if isinstance(v, tuple) else (v,))}
    labels = classes + sorted(given - set(classes))
    metrics = measure(truth, predicted, labels, languages, groups, seed)
    unseen = labels[len(classes) :]
    if unseen:
        metrics["unseen_labels"] = unseen  # in the evaluation data but never in training: always wrong
    return metrics


def evaluate(classifier: BaseClassifier, dataset: Dataset, progress: Progress | None = None) -> dict:
    """Metrics of ``classifier`` on every row of ``dataset`` (see :func:`classification_metrics`)."""
    truth = _truth(dataset, classifier.classes_)
    if dataset.multi_label:
        predicted = classifier.predict_sets(dataset.texts, progress=progress)
    else:
        proba = classifier.predict_proba(dataset.texts, progress=progress)
        predicted = [classifier.classes_[i] for i in proba.argmax(axis=1)]
    metrics = _metrics(classifier.classes_, predicted, truth, dataset.languages, dataset.groups)
    metrics["evaluated_on"] = "evaluation file"
    return metrics


def _truth(dataset: Dataset, classes: Sequence[str]) -> list:
    """The labels of ``dataset``'s rows spelled as ``classes`` where they are one class: a label per row, or a
    tuple of them."""
    if not dataset.multi_label:
        return match_classes(dataset.labels, list(classes))
    return [tuple(sorted(set(match_classes(list(s), list(classes))))) for s in dataset.label_sets]


def _unseen_meanings(
    metrics: dict, leaked: set[int], truth: Sequence[str], predicted: Sequence[str], groups: Sequence[str], seed: int
) -> dict:  # fmt: skip
    """``metrics`` with, when some measured rows (``leaked``: positions among them) have a translation or copy
    among the training rows (the user's split column put them there, or the evaluation file holds them), how
    many (``leaked_test_rows``) and the headline measured without them (``unseen_meanings``)."""
    if not leaked:
        return metrics
    keep = [k for k in range(len(truth)) if k not in leaked]
    out = {**metrics, "leaked_test_rows": len(leaked)}
    if keep:
        m = measure(
            [truth[k] for k in keep], [predicted[k] for k in keep], metrics["labels"], None, [groups[k] for k in keep],
            seed,
        )  # fmt: skip
        out["unseen_meanings"] = {k: m[k] for k in ("n", "macro_f1", "macro_f1_ci", "accuracy", "accuracy_ci")}
    return out


def _groups_across(
    dataset: Dataset, X: np.ndarray, other: Dataset, X_other: np.ndarray, progress: Progress | None = None
) -> tuple[Dataset, list[str]]:
    """``dataset`` and the ``other`` file's groups, found on both files at once: (``dataset`` with its rows'
    groups, the other file's rows' groups); a group shared by both holds a translation or copy across them."""
    n = len(dataset.texts)
    joint = find_groups(
        np.vstack([X, X_other]), dataset.texts + other.texts, dataset.languages + other.languages, progress,
        start=[f"a{g}" for g in dataset.groups] + [f"b{g}" for g in other.groups],
    )  # fmt: skip
    given = dataset.grouping is not None and dataset.grouping.source == "column"
    column = dataset.grouping.column if given else None
    grouping = Grouping(joint.groups[:n], "column" if given else "found", column, [p for p in joint.pairs if p[1] < n])
    return replace(dataset, grouping=grouping), joint.groups[n:]


TRANSFER = "cross-lingual transfer"
LABEL_ERRORS = "label errors"
MORE_ROWS = "how many more rows"


def train_stages(
    dataset: Dataset,
    model: str | Encoder = EMBEDDED_NAME,
    config: HeadConfig = HeadConfig(kind="auto"),
    *,
    eval_dataset: Dataset | None = None,
    transfer: bool = True,
    label_issues: bool = True,
    more_rows: bool = True,
    progress: Progress | None = None,
) -> Iterator[TrainResult]:
    """:func:`train_classifier` in stages: the result so far after each, the headline first.

    1. the classifier, fitted and measured: overall, per class, per language, confusion matrix;
    2. with the cross-lingual transfer matrix (``transfer``: :data:`TRANSFER`);
    3. with the suspected label errors (``label_issues``: :data:`LABEL_ERRORS`);
    4. with how many more rows the next points would take (``more_rows``: :data:`MORE_ROWS`).

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
    if eval_dataset is None:
        dataset = with_found_groups(dataset, X, say)  # translations and copies share a split
    train, val = dataset.indices("train"), dataset.indices("validation")
    if len(train) == 0:
        raise UserError("No rows are marked for training.")
    config, names, choice = head_for(dataset, config, encoder)
    routing = routing_languages(dataset.texts, config)
    head = fit_head(X, dataset.targets, train, val, config, progress=say, languages=routing, names=names)
    classifier = Classifier(encoder, head)
    if eval_dataset is not None:
        X_eval = embed(eval_dataset.texts, model=encoder, progress=evaluation_data)
        X_eval, langs = X_eval.embeddings, eval_dataset.languages
        if eval_dataset.multi_label != dataset.multi_label:
            raise UserError("The evaluation file must have one label per row, or several, as the training file has.")
        truth = _truth(eval_dataset, classifier.classes_)
        eval_routing = routing_languages(eval_dataset.texts, config)
        # translations across the two files: a row of the evaluation file whose translation is trained on
        dataset, eval_groups = _groups_across(dataset, X, eval_dataset, X_eval, say)
        learnt = set(dataset.groups)
        leaked = {k for k, g in enumerate(eval_groups) if g in learnt}
        transfer_groups, rows = eval_groups, None
    else:
        test = dataset.indices("test")
        if len(test) == 0:
            raise UserError("No rows are marked for testing, so nothing can be measured. Add test rows or --eval data.")
        X_eval, truth = X[test], [dataset.targets[i] for i in test]
        langs = [dataset.languages[i] for i in test]
        eval_routing = None if routing is None else routing[test]
        eval_groups = transfer_groups = [dataset.groups[i] for i in test]
        rows = [dataset.rows[i] for i in test]
        learnt_rows = set(dataset.leaked_test_rows().tolist())
        leaked = {k for k, i in enumerate(test) if i in learnt_rows}
    say(Step("measuring"))
    predicted = head.predict(X_eval, eval_routing).tolist()
    metrics = _metrics(classifier.classes_, predicted, truth, langs, eval_groups, config.seed)
    metrics["evaluated_on"] = "evaluation file" if eval_dataset is not None else "test split"
    metrics = _unseen_meanings(metrics, leaked, truth, predicted, eval_groups, config.seed)
    training = {
        "rows": {s: len(dataset.indices(s)) for s in ("train", "validation", "test")},
        "best_epoch": head.history_.best_epoch,
        "train_loss": [round(v, 5) for v in head.history_.train_loss],
        "validation_loss": [round(v, 5) for v in head.history_.validation_loss],
        "columns": vars(dataset.columns),
        "languages_detected": dataset.languages_detected,
        "groups": grouping_summary(dataset),
        "head": {**choice, **({"name_rows": head.name_rows_} if config.kind == "prototypes" else {})},
    }
    if config.multi_label:
        training["thresholds"] = dict(zip(head.classes_, map(float, head.thresholds_), strict=True))
    wanted = ((TRANSFER, transfer), (LABEL_ERRORS, label_issues), (MORE_ROWS, more_rows))
    pending = tuple(stage for stage, asked in wanted if asked)
    evaluated = {"rows": rows, "truth": list(truth), "predicted": predicted, "groups": list(eval_groups)}
    result = TrainResult(classifier, metrics, training=training, pending=pending, evaluated=evaluated, dataset=dataset)
    yield result
    evaluation = (X_eval, truth, langs)
    yield from diagnose(result, X, dataset, evaluation, config, say, (routing, eval_routing), transfer_groups, names)


def diagnose(
    result: TrainResult,
    X: np.ndarray,
    dataset: Dataset,
    evaluation: tuple[np.ndarray, Sequence[str], Sequence[str]],
    config: HeadConfig,
    progress: Progress | None = None,
    routing: tuple[np.ndarray | None, np.ndarray | None] = (None, None),
    eval_groups: Sequence[str] | None = None,
    names: dict[str, np.ndarray] | None = None,
) -> Iterator[TrainResult]:
    """The diagnostic stages of ``result`` (those its ``pending`` names), each yielded as done.

    ``X``: the dataset's embeddings; ``evaluation``: the measured rows' embeddings, true labels and
    languages; ``routing``: the detected languages of the dataset's and the measured rows;
    ``eval_groups``: the measured rows' meaning groups when they are the dataset's own test rows; ``names``: the
    label names' vectors of a ``prototypes`` head.
    """
    say = progress or (lambda step: None)
    if TRANSFER in result.pending:
        matrix = transfer_matrix(X, dataset, *evaluation, config, say, *routing, eval_groups, names)
        found = {} if matrix is None else {"transfer": matrix}
        result = replace(result, metrics={**result.metrics, **found}, pending=result.pending[1:])
        yield result
    if LABEL_ERRORS in result.pending:
        issues = find_label_issues(X, dataset, config, progress=say, names=names)
        result = replace(result, label_issues=issues, pending=result.pending[1:])
        yield result
    if MORE_ROWS in result.pending:
        val = dataset.indices("validation")

        def fit_and_predict(rows: np.ndarray) -> list:
            head = fit_head(X, dataset.targets, rows, val, config, languages=routing[0], names=names)
            return head.predict(evaluation[0], routing[1]).tolist()

        learnt = val if config.kind == "prototypes" else None  # fit_head gives a prototypes head these too
        curve = learning_curve(dataset, evaluation[1:], fit_and_predict, result.metrics, config.seed, say, learnt)
        result = replace(result, metrics={**result.metrics, "learning_curve": curve}, pending=result.pending[1:])
        yield result
    say(Step("done", 1, 1))


def train_classifier(
    dataset: Dataset,
    model: str | Encoder = EMBEDDED_NAME,
    config: HeadConfig = HeadConfig(kind="auto"),
    *,
    eval_dataset: Dataset | None = None,
    transfer: bool = True,
    label_issues: bool = True,
    more_rows: bool = True,
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
        more_rows=more_rows, progress=progress,
    )  # fmt: skip
    return deque(stages, maxlen=1)[0]
