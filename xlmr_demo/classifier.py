"""A multilingual text classifier: a frozen encoder plus a small head, trained, measured and saved.

:func:`train_classifier` takes a checked :class:`~xlmr_demo.dataset.Dataset`, embeds it (through the
disk cache), trains a head on the train split with early stopping on the validation split and
measures it on the test split: overall, per class, per language, the cross-lingual transfer
matrix, and the rows whose given label the model finds least likely (suspected label errors).

A saved classifier is a folder: ``head.safetensors`` (tensors), ``config.json`` (labels, encoder
name and fingerprint, dims, training settings, creation time) and ``metrics.json``; the app hands
out the same files as one .zip (:meth:`Classifier.save_archive`) and reads it back without
unpacking it to disk (:func:`load_archive`). Nothing is pickled; loading checks every setting and
tensor before building anything (:func:`xlmr_demo.heads.check_saved`) and refuses a head made for a
different encoder, or, in public mode, for a model the server does not offer.
:func:`load_classifier` also reads the folders ``finetune.text_classification`` writes.
"""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .dataset import Dataset
from .embedded import EMBEDDED_NAME
from .encoders import Encoder, embed, load_encoder
from .errors import UserError
from .heads import Head, HeadConfig, HeadProgress, check_saved
from .jobs import Progress
from .limits import current as current_limits
from .metrics import classification_metrics
from .readers import check_file, check_zip
from .writers import output_folder, write_dir_atomically, write_file_atomically

HEAD_FILE, CONFIG_FILE, METRICS_FILE = "head.safetensors", "config.json", "metrics.json"
LABEL_ISSUES_FILE = "label_issues.json"
FINETUNED_HEAD_JSON = "head.json"  # beside a fine-tuned encoder (finetune.text_classification): labels and head
FORMAT = "xlmr_demo.head/2"
# format 1 tied heads to a fingerprint of the model's config and weight-file edges; since format 2
# it covers every byte, so a format-1 head cannot be matched to its encoder any more
OLD_FORMATS = ("xlmr_demo.head/1",)
MAX_CONFIG_BYTES = 16 * 2**20  # a config.json holds labels and a loss history: kilobytes
MIN_TRANSFER_ROWS = 20  # a language with fewer training rows is too small to train a head on alone


def is_saved_classifier(folder: Path) -> bool:
    """Whether ``folder`` holds a classifier saved by :meth:`Classifier.save` (its two files)."""
    return (folder / CONFIG_FILE).is_file() and (folder / HEAD_FILE).is_file()


def _json_bytes(value) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False).encode("utf-8")


def _parse_json(data: bytes, name: str):
    """A saved JSON file's value; anything unreadable (bad UTF-8 or JSON, absurd nesting) is a damaged classifier."""
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise UserError(f"{name} holds a damaged classifier: its settings are not valid JSON.") from exc


def load_archive(path: str | Path, encoder: Encoder | None = None) -> Classifier:
    """The classifier in a .zip from :meth:`Classifier.save_archive`, read in memory: nothing is unpacked to disk.

    The archive's entry count and sizes are checked before it is opened (:func:`xlmr_demo.readers.check_zip`);
    only ``config.json`` and ``head.safetensors`` are read, by name, so paths inside it never matter.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load

    bound = current_limits()
    path = check_file(path, bound)
    name = path.name
    with check_zip(path, name, bound, "a classifier .zip from the Train tab") as archive:
        members = {info.filename.removeprefix("./"): info for info in archive.infolist() if not info.is_dir()}
        missing = [f for f in (CONFIG_FILE, HEAD_FILE) if f not in members]
        if missing:
            raise UserError(f"{name} is not a classifier .zip from the Train tab: it has no {' or '.join(missing)}.")
        if members[CONFIG_FILE].file_size > MAX_CONFIG_BYTES:
            raise UserError(f"{name}: its {CONFIG_FILE} is too large to be a classifier's settings.")
        try:
            config = _parse_json(archive.read(members[CONFIG_FILE]), name)
            tensors = load(archive.read(members[HEAD_FILE]))
        # safetensors raises KeyError for dtypes numpy lacks (BF16, F8), zipfile RuntimeError for encrypted entries
        except (zipfile.BadZipFile, SafetensorError, OSError, EOFError, ValueError, NotImplementedError, KeyError,
                RuntimeError) as exc:  # fmt: skip
            if isinstance(exc, UserError):
                raise
            raise UserError(f"{name} holds a damaged classifier ({type(exc).__name__}).") from exc
    return Classifier._from_saved(config, tensors, name, encoder)


class TextClassifier:
    """Text in, labels and probabilities out. Subclasses give :attr:`classes_` and :meth:`predict_proba`."""

    classes_: list[str]

    def predict_proba(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """(n, n_classes) probabilities, columns in the order of :attr:`classes_`."""
        raise NotImplementedError

    def scores(self, text: str) -> list[tuple[str, float]]:
        """Every label with its probability for one text, most probable first."""
        proba = self.predict_proba([text])[0]
        return [(self.classes_[j], float(proba[j])) for j in np.argsort(-proba, kind="stable")]

    def predict(self, texts: str | Sequence[str]) -> str | list[str]:
        """The most probable label: one string for one text, a list for a list."""
        single = isinstance(texts, str)
        proba = self.predict_proba([texts] if single else texts)
        labels = [self.classes_[i] for i in proba.argmax(axis=1)]
        return labels[0] if single else labels


class Classifier(TextClassifier):
    """An :class:`Encoder` and a fitted :class:`Head` on its (frozen) embeddings."""

    def __init__(self, encoder: Encoder, head: Head) -> None:
        self.encoder = encoder
        self.head = head

    @property
    def classes_(self) -> list[str]:
        return self.head.classes_.tolist()

    def predict_proba(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        on_batch = (lambda done, total: progress("embedding", done / total)) if progress else None
        return self.head.predict_proba(embed(list(texts), model=self.encoder, progress=on_batch).embeddings)

    def _files(self, metrics: dict | None, training: dict | None, label_issues: list | None) -> dict[str, bytes]:
        """The saved classifier's files by name: config, tensors, and metrics and label issues when given."""
        from safetensors.numpy import save

        config = {
            "format": FORMAT,
            "labels": self.classes_,
            "encoder": {
                "name": self.encoder.name,
                "fingerprint": self.encoder.fingerprint,
                "dim": self.head.n_features_in_,
                "prompt": self.encoder.prompt,
                "max_length": self.encoder.max_length,
            },
            "head": self.head.settings(),
            "training": training or {},
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in self.head.tensors().items()}
        files = {CONFIG_FILE: _json_bytes(config), HEAD_FILE: save(tensors)}
        if metrics is not None:
            files[METRICS_FILE] = _json_bytes(metrics)
        if label_issues:
            files[LABEL_ISSUES_FILE] = _json_bytes(label_issues)
        return files

    def save(
        self, folder: str | Path, metrics: dict | None = None, training: dict | None = None,
        label_issues: list | None = None, overwrite: bool = False,
    ) -> Path:  # fmt: skip
        """Write the head folder (see the module docstring) atomically: readers see all of it or none.

        An existing folder is replaced only with ``overwrite``; one that is not a saved classifier never.
        """
        folder = output_folder(folder, "The classifier folder", replaceable=is_saved_classifier, overwrite=overwrite)
        files = self._files(metrics, training, label_issues)

        def fill(tmp: Path) -> None:
            for name, data in files.items():
                (tmp / name).write_bytes(data)

        return write_dir_atomically(folder, fill, replace=overwrite)

    def save_archive(
        self, path: str | Path, metrics: dict | None = None, training: dict | None = None,
        label_issues: list | None = None,
    ) -> Path:  # fmt: skip
        """Write the same files as :meth:`save` into one .zip at ``path`` (what the app hands out)."""
        files = self._files(metrics, training, label_issues)

        def write(tmp: Path) -> None:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for name, data in files.items():
                    archive.writestr(name, data)

        return write_file_atomically(Path(path), write)

    @classmethod
    def load(cls, folder: str | Path, encoder: Encoder | None = None) -> Classifier:
        """Load a head folder; the encoder defaults to the one it was trained with, and must match it."""
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        folder = Path(folder)
        if not folder.is_dir():
            raise UserError(
                f"{folder} is not a folder; a saved classifier is a folder with {HEAD_FILE} and {CONFIG_FILE}."
            )
        if not (folder / HEAD_FILE).is_file() or not (folder / CONFIG_FILE).is_file():
            found = ", ".join(sorted(p.name for p in folder.iterdir())[:20]) or "nothing"
            raise UserError(
                f"{folder} is not a saved classifier: expected {HEAD_FILE} and {CONFIG_FILE}, found {found}."
            )
        if (folder / CONFIG_FILE).stat().st_size > MAX_CONFIG_BYTES:
            raise UserError(f"{folder.name}/{CONFIG_FILE} is too large to be a classifier's settings.")
        try:
            config = _parse_json((folder / CONFIG_FILE).read_bytes(), folder.name)
            tensors = load_file(str(folder / HEAD_FILE))
        except (SafetensorError, OSError, KeyError) as exc:
            raise UserError(f"{folder.name} holds a damaged classifier ({type(exc).__name__}).") from exc
        return cls._from_saved(config, tensors, folder.name, encoder)

    @classmethod
    def _from_saved(cls, config: object, tensors: dict, name: str, encoder: Encoder | None) -> Classifier:
        """A classifier from a saved config and tensors, each checked before anything is built."""
        version = config.get("format") if isinstance(config, dict) else None
        if version in OLD_FORMATS:
            raise UserError(
                f"{name} was saved by an earlier xlmr_demo that identified models less strictly; train it again."
            )
        if version != FORMAT:
            raise UserError(f"{name} is not an xlmr_demo classifier (its {CONFIG_FILE} has no format {FORMAT!r}).")
        wanted = config.get("encoder")
        if not isinstance(wanted, dict) or not all(isinstance(wanted.get(k), str) for k in ("name", "fingerprint")):
            raise UserError(f"{name} holds a damaged classifier: its {CONFIG_FILE} does not name its encoder.")
        _, _, dim = check_saved(config.get("head"), tensors, current_limits())
        encoder = encoder or load_encoder(wanted["name"])  # in public mode, only an offered model
        if encoder.fingerprint != wanted["fingerprint"]:
            raise UserError(
                f"This classifier was trained on embeddings of {wanted['name']!r} "
                f"(fingerprint {wanted['fingerprint'][:20]}); the encoder given is {encoder.name!r} "
                f"(fingerprint {encoder.fingerprint}). Use the same model."
            )
        if not dim == wanted.get("dim") == encoder.dim:
            raise UserError(
                f"{name}: the head reads {dim} numbers per text, which does not match its encoder "
                f"({encoder.name!r} gives {encoder.dim}, its config says {str(wanted.get('dim'))[:20]})."
            )
        return cls(encoder, Head.from_saved(config["head"], tensors))


@dataclass
class TrainResult:
    """Everything one training run produced."""

    classifier: Classifier
    metrics: dict  # measured on the test split; see metrics.classification_metrics
    label_issues: list[dict] = field(default_factory=list)
    training: dict = field(default_factory=dict)  # settings and history, saved in config.json


def fit_head(X, y, train, val, config: HeadConfig, progress=None) -> Head:
    """A head on embeddings ``X[train]`` with early stopping on ``X[val]`` (row indices into ``X`` and ``y``)."""
    ys = np.asarray(y, dtype=object)
    return Head(config).fit(X[train], ys[train], X[val], ys[val], progress=progress)


def transfer_matrix(
    X: np.ndarray,
    dataset: Dataset,
    X_eval: np.ndarray,
    y_eval: Sequence[str],
    eval_languages: Sequence[str],
    config: HeadConfig,
    progress: Progress | None = None,
) -> dict | None:
    """Train on one language's training rows only, evaluate on each language: macro-F1 per (train, eval) pair.

    Languages with fewer than :data:`MIN_TRANSFER_ROWS` training rows or a single class are not
    trained on; None when fewer than two languages remain on either side.
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
        if progress:
            progress("cross-lingual transfer", k / len(sources))
        head = fit_head(X, labels, train[langs[train] == source], val[langs[val] == source], config)
        row = []
        for target in targets:
            rows = eval_langs == target
            present = sorted(set(y_eval[rows].tolist()))
            score = f1_score(y_eval[rows], head.predict(X_eval[rows]), labels=present, average="macro", zero_division=0)
            row.append(round(float(score), 4))
        matrix.append(row)
    return {"train_languages": sources, "eval_languages": targets, "macro_f1": matrix}


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
        if progress:
            progress("looking for label errors", k / folds)
        # early stopping on a tenth of the fold's own rows: without it the heads overfit and every
        # out-of-fold probability is 0 or 1, which ranks nothing
        stop = rng.random(len(fit_rows)) < 0.1
        head = fit_head(X, labels, pool[fit_rows[~stop]], pool[fit_rows[stop]], config)
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


def evaluate(classifier: TextClassifier, dataset: Dataset, progress: Progress | None = None) -> dict:
    """Metrics of ``classifier`` on every row of ``dataset`` (see :func:`classification_metrics`)."""
    proba = classifier.predict_proba(dataset.texts, progress=progress)
    predicted = [classifier.classes_[i] for i in proba.argmax(axis=1)]
    metrics = _metrics(classifier.classes_, predicted, dataset.labels, dataset.languages)
    metrics["evaluated_on"] = "evaluation file"
    return metrics


def load_classifier(folder: str | Path) -> TextClassifier:
    """Any saved classifier folder, told apart by its files.

    - ``head.safetensors`` + ``config.json`` (xlmr_demo train): :meth:`Classifier.load`;
    - ``head.safetensors`` + ``head.json`` beside a model (``finetune.text_classification``): a
      :class:`Classifier` whose encoder is the folder itself;
    - a ``*ForSequenceClassification`` model folder: :class:`~xlmr_demo.finetuned.FineTunedClassifier`.
    """
    from .finetuned import FineTunedClassifier, is_finetuned_folder

    folder = Path(folder)
    if (folder / FINETUNED_HEAD_JSON).is_file() and (folder / HEAD_FILE).is_file():
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        try:
            about = _parse_json((folder / FINETUNED_HEAD_JSON).read_bytes(), folder.name)
            tensors = load_file(str(folder / HEAD_FILE))
        except (OSError, SafetensorError, KeyError) as exc:
            raise UserError(f"{folder.name} holds a damaged fine-tuned classifier ({type(exc).__name__}).") from exc
        head = Head.from_saved(about.get("head") if isinstance(about, dict) else None, tensors)
        return Classifier(load_encoder(str(folder)), head)  # the folder is the fine-tuned encoder
    if folder.is_dir() and not (folder / HEAD_FILE).is_file() and is_finetuned_folder(folder):
        return FineTunedClassifier(folder)
    return Classifier.load(folder)


def train_classifier(
    dataset: Dataset,
    model: str | Encoder = EMBEDDED_NAME,
    config: HeadConfig = HeadConfig(),
    *,
    eval_dataset: Dataset | None = None,
    transfer: bool = True,
    label_issues: bool = True,
    progress: Progress | None = None,
    on_epoch: HeadProgress | None = None,
) -> TrainResult:
    """Embed, train, measure (on ``eval_dataset`` when given, else the test split) and diagnose.

    ``on_epoch(epoch, epochs, train_loss, validation_loss)`` follows the head's training (a live loss curve).
    """
    say = progress or (lambda stage, fraction: None)

    def epoch_done(epoch: int, epochs: int, train_loss: float, validation_loss: float | None) -> None:
        say("training", epoch / epochs)
        if on_epoch:
            on_epoch(epoch, epochs, train_loss, validation_loss)

    encoder = model if isinstance(model, Encoder) else load_encoder(model)
    X = embed(dataset.texts, model=encoder, progress=lambda d, t: say("embedding", d / t)).embeddings
    train, val = dataset.indices("train"), dataset.indices("validation")
    if len(train) == 0:
        raise UserError("No rows are marked for training.")
    head = fit_head(X, dataset.labels, train, val, config, progress=epoch_done)
    classifier = Classifier(encoder, head)
    if eval_dataset is not None:
        X_eval = embed(eval_dataset.texts, model=encoder, progress=lambda d, t: say("embedding evaluation data", d / t))
        X_eval, truth, langs = X_eval.embeddings, eval_dataset.labels, eval_dataset.languages
    else:
        test = dataset.indices("test")
        if len(test) == 0:
            raise UserError("No rows are marked for testing, so nothing can be measured. Add test rows or --eval data.")
        X_eval, truth = X[test], [dataset.labels[i] for i in test]
        langs = [dataset.languages[i] for i in test]
    say("measuring", 0.0)
    metrics = _metrics(classifier.classes_, head.predict(X_eval).tolist(), truth, langs)
    metrics["evaluated_on"] = "evaluation file" if eval_dataset is not None else "test split"
    if transfer:
        say("cross-lingual transfer", 0.0)
        matrix = transfer_matrix(X, dataset, X_eval, truth, langs, config, progress=say)
        if matrix is not None:
            metrics["transfer"] = matrix
    issues = []
    if label_issues:
        say("looking for label errors", 0.0)
        issues = find_label_issues(X, dataset, config, progress=say)
    say("done", 1.0)
    training = {
        "rows": {s: len(dataset.indices(s)) for s in ("train", "validation", "test")},
        "best_epoch": head.history_.best_epoch,
        "train_loss": [round(v, 5) for v in head.history_.train_loss],
        "validation_loss": [round(v, 5) for v in head.history_.validation_loss],
        "columns": vars(dataset.columns),
        "languages_detected": dataset.languages_detected,
    }
    return TrainResult(classifier=classifier, metrics=metrics, label_issues=issues, training=training)
