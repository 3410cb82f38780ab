"""Multilingual text classifiers: text in, labels and probabilities out.

- :class:`Classifier`: a frozen encoder plus a small head on its embeddings (what ``xlmr_demo
  train`` and the Train tab make; :mod:`xlmr_demo.training` trains and measures it). Saved as a
  head folder or a .zip (:mod:`xlmr_demo.saved`); loading checks every setting and tensor before
  building anything (:func:`xlmr_demo.heads.check_saved`) and refuses a head made for a different
  encoder, or, in public mode, for a model the server does not offer.
- :class:`TunedWeightsClassifier`: a head fine-tuned together with its encoder (the app's fine-tuning): saved
  as a head archive plus the encoder weights fine-tuning changed, tied to the base encoder's fingerprint.
- :class:`ModelFolderClassifier`: a fine-tuned ``*ForSequenceClassification`` folder, whoever
  trained it. Texts get the same prompt as in training (the folder's "query" prompt) and are cut
  at the length used in training.

:func:`load_classifier` reads any of them, and the folders ``finetune.text_classification`` writes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import saved
from .encoders import (
    Encoder,
    auto_precision,
    cut_text,
    default_device,
    embed,
    load_encoder,
    longest_piece,
    model_prompt,
    read_model_json,
)
from .errors import UserError
from .heads import Head, check_saved, routing_languages
from .limits import current as current_limits
from .progress import Progress, Step

BATCH_SIZE = 32  # texts per forward pass of a fine-tuned model


class BaseClassifier:
    """Text in, labels and probabilities out. Subclasses give :attr:`classes_` and :meth:`predict_proba`."""

    classes_: list[str]

    def predict_proba(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """(n, n_classes) probabilities, columns in the order of :attr:`classes_`."""
        raise NotImplementedError

    def scores(self, text: str) -> list[tuple[str, float]]:
        """Every label with its probability for one text, most probable first."""
        proba = self.predict_proba([text])[0]
        return [(self.classes_[j], float(proba[j])) for j in np.argsort(-proba, kind="stable")]

    multi_label = False  # several labels per row: see predict_sets

    def predict(self, texts: str | Sequence[str]) -> str | list[str]:
        """The most probable label: one string for one text, a list for a list."""
        single = isinstance(texts, str)
        proba = self.predict_proba([texts] if single else texts)
        labels = [self.classes_[i] for i in proba.argmax(axis=1)]
        return labels[0] if single else labels

    def predict_sets(self, texts: Sequence[str], progress: Progress | None = None) -> list[tuple[str, ...]]:
        """Each text's labels: every label over its threshold (one label per row: the most probable one)."""
        proba = self.predict_proba(texts, progress=progress)
        return [(self.classes_[i],) for i in proba.argmax(axis=1)]


class Classifier(BaseClassifier):
    """An :class:`Encoder` and a fitted :class:`Head` on its (frozen) embeddings."""

    def __init__(self, encoder: Encoder, head: Head) -> None:
        self.encoder = encoder
        self.head = head

    @property
    def classes_(self) -> list[str]:
        return self.head.classes_.tolist()

    @property
    def multi_label(self) -> bool:
        return self.head.config.multi_label

    def predict_proba(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """(n, n_classes) probabilities; with several labels per row, each label's own (they need not sum to 1)."""
        texts = list(texts)
        X = embed(texts, model=self.encoder, progress=progress).embeddings
        return self.head.predict_proba(X, routing_languages(texts, self.head.config))

    def predict_sets(self, texts: Sequence[str], progress: Progress | None = None) -> list[tuple[str, ...]]:
        if not self.multi_label:
            return super().predict_sets(texts, progress)
        return self.label_sets(texts, self.predict_proba(texts, progress=progress))

    def label_sets(self, texts: Sequence[str], proba: np.ndarray) -> list[tuple[str, ...]]:
        """A multi-label classifier's answer for ``texts`` from their :meth:`predict_proba`: the labels over their
        thresholds."""
        return list(self.head.over_thresholds(proba, routing_languages(list(texts), self.head.config)))

    def _files(self, metrics: dict | None, training: dict | None, label_issues: list | None) -> dict[str, bytes]:
        return saved.head_files(self._config(self.encoder, training), self.head.tensors(), metrics, label_issues)

    def _config(self, encoder: Encoder, training: dict | None) -> dict:
        """The saved config: labels, the encoder the head reads (name, fingerprint, ...), head and training settings."""
        return {
            "labels": self.classes_,
            "encoder": {
                "name": encoder.name,
                "fingerprint": encoder.fingerprint,
                "dim": self.head.n_features_in_,
                "prompt": encoder.prompt,
                "max_length": encoder.max_length,
            },
            "head": self.head.settings(),
            "training": training or {},
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    def save(
        self, folder: str | Path, metrics: dict | None = None, training: dict | None = None,
        label_issues: list | None = None, overwrite: bool = False,
    ) -> Path:  # fmt: skip
        """Write the head folder (:mod:`xlmr_demo.saved`) atomically: readers see all of it or none.

        An existing folder is replaced only with ``overwrite``; one that is not a saved classifier never.
        """
        return saved.write_folder(self._files(metrics, training, label_issues), folder, overwrite)

    def save_archive(
        self, path: str | Path, metrics: dict | None = None, training: dict | None = None,
        label_issues: list | None = None,
    ) -> Path:  # fmt: skip
        """Write the same files as :meth:`save` into one .zip at ``path`` (what the app hands out)."""
        return saved.write_archive(self._files(metrics, training, label_issues), path)

    @classmethod
    def load(cls, folder: str | Path, encoder: Encoder | None = None) -> Classifier:
        """Load a head folder; the encoder defaults to the one it was trained with, and must match it."""
        return cls._from_saved(*saved.read_folder(folder), encoder)

    @classmethod
    def _from_saved(cls, config: dict, tensors: dict, name: str, encoder: Encoder | None) -> Classifier:
        """A classifier from a saved config (format checked) and tensors, each checked before anything is built."""
        wanted = config.get("encoder")
        if not isinstance(wanted, dict) or not all(isinstance(wanted.get(k), str) for k in ("name", "fingerprint")):
            raise UserError(f"{name} holds a damaged classifier: its {saved.CONFIG_FILE} does not name its encoder.")
        prefix = saved.ENCODER_PREFIX  # a fine-tuned classifier's encoder weights, apart from the head's tensors
        weights = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        tensors = {k: v for k, v in tensors.items() if not k.startswith(prefix)}
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
        head = Head.from_saved(config["head"], tensors)
        if config.get("format") != saved.TUNED_FORMAT:
            return cls(encoder, head)
        if not weights:
            raise UserError(f"{name} is a fine-tuned classifier without the weights fine-tuning changed.")
        max_length = config.get("tuned_max_length")
        if not isinstance(max_length, int) or isinstance(max_length, bool):
            raise UserError(f"{name} holds a damaged classifier: its fine-tuned text length is not a number.")
        tuned = TunedWeightsClassifier(encoder, head, weights, max_length)
        if tuned.encoder.fingerprint != config.get("tuned_fingerprint"):
            raise UserError(
                f"{name} holds a damaged classifier: its fine-tuned weights are not the ones it was saved with."
            )
        return tuned


class TunedWeightsClassifier(Classifier):
    """A head fine-tuned together with its encoder: the ``base`` encoder with ``weights`` (what fine-tuning
    changed, by name in its network's state dict; float16) put in, and the head on its embeddings.

    Saved as a head archive whose config names the base encoder and whose ``encoder.safetensors``
    holds ``weights`` (:data:`saved.TUNED_FORMAT`): tens of MB instead of the whole model.
    """

    def __init__(self, base: Encoder, head: Head, weights: dict[str, np.ndarray], max_length: int) -> None:
        self.base = base
        self.weights = {k: np.asarray(v, dtype=np.float16) for k, v in weights.items()}
        super().__init__(base.fine_tuned(self.weights, max_length), head)  # texts cut as in fine-tuning

    @property
    def nbytes(self) -> int:
        """Memory of its own: the changed weights as saved (float16) and in the network (bf16 or float32)."""
        saved = sum(w.nbytes for w in self.weights.values())
        return saved * (2 if self.encoder.precision == "bf16" else 3)

    def _files(self, metrics: dict | None, training: dict | None, label_issues: list | None) -> dict[str, bytes]:
        config = {
            **self._config(self.base, training),
            "tuned_fingerprint": self.encoder.fingerprint,
            "tuned_max_length": self.encoder.max_length,
        }
        return saved.head_files(config, self.head.tensors(), metrics, label_issues, self.weights)


class ModelFolderClassifier(BaseClassifier):
    """Predictions of a fine-tuned sequence-classification folder. The network loads on first use."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        config = read_model_json(self.folder / "config.json")
        id2label = config.get("id2label") or {}
        if not _classifies_sequences(config) or not id2label:
            raise UserError(f"{self.folder} is not a fine-tuned text classifier (no labels in its config.json).")
        self.classes_ = [id2label[str(i)] for i in range(len(id2label))]
        self.prompt = model_prompt(self.folder)
        trained = read_model_json(self.folder / "metrics.json").get("config", {})
        self.max_length = int(trained.get("max_length") or 512)
        self.device = default_device()
        self.precision = auto_precision(self.device)
        self._loaded = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._loaded is None:
                import torch
                import transformers
                from transformers import AutoModelForSequenceClassification, AutoTokenizer

                transformers.utils.logging.disable_progress_bar()
                dtype = torch.bfloat16 if self.precision == "bf16" else torch.float32
                try:
                    tokenizer = AutoTokenizer.from_pretrained(self.folder)
                    model = AutoModelForSequenceClassification.from_pretrained(self.folder, dtype=dtype)
                except (OSError, ValueError) as exc:
                    raise UserError(f"Could not load the fine-tuned model in {self.folder}: {exc}") from exc
                self._loaded = (tokenizer, model.to(self.device).eval())
        return self._loaded

    def predict_proba(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        import torch

        tokenizer, model = self._load()
        piece_chars = longest_piece(tokenizer)
        texts = [self.prompt + cut_text(tokenizer, t, self.max_length, piece_chars) for t in texts]
        out = np.zeros((len(texts), len(self.classes_)), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")  # similar lengths together: little padding
        with torch.inference_mode():
            for start in range(0, len(order), BATCH_SIZE):
                rows = order[start : start + BATCH_SIZE]
                batch = tokenizer(
                    [texts[i] for i in rows],
                    truncation=True,
                    max_length=self.max_length,
                    padding=True,
                    return_tensors="pt",
                ).to(self.device)
                out[rows] = torch.softmax(model(**batch).logits.float(), dim=-1).cpu().numpy()
                if progress:
                    progress(Step("predicting", start + len(rows), len(texts)))
        return out


def load_archive(path: str | Path, encoder: Encoder | None = None) -> Classifier:
    """The classifier in a .zip from :meth:`Classifier.save_archive`, read in memory (:func:`saved.read_archive`)."""
    return Classifier._from_saved(*saved.read_archive(path, current_limits()), encoder)


def _classifies_sequences(config: dict) -> bool:
    return any(a.endswith("ForSequenceClassification") for a in config.get("architectures") or [])


def is_sequence_classifier(folder: Path) -> bool:
    """Whether ``folder`` holds a sequence-classification model (by its config.json)."""
    return _classifies_sequences(read_model_json(folder / "config.json"))


def load_classifier(folder: str | Path) -> BaseClassifier:
    """Any saved classifier folder or .zip from the app, told apart by its files.

    - ``head.safetensors`` + ``config.json`` (xlmr_demo train): :meth:`Classifier.load`;
    - ``head.safetensors`` + ``head.json`` beside a model (``finetune.text_classification``): a
      :class:`Classifier` whose encoder is the folder itself;
    - a ``*ForSequenceClassification`` model folder: :class:`ModelFolderClassifier`.
    """
    folder = Path(folder)
    if folder.is_file() and folder.suffix.lower() == ".zip":
        return load_archive(folder)
    if saved.is_finetuned_head(folder):
        about, tensors = saved.read_finetuned_head(folder)
        return Classifier(load_encoder(str(folder)), Head.from_saved(about.get("head"), tensors))
    if folder.is_dir() and not (folder / saved.HEAD_FILE).is_file() and is_sequence_classifier(folder):
        return ModelFolderClassifier(folder)
    return Classifier.load(folder)
