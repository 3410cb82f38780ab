"""A fine-tuned text classifier (a folder written by ``finetune.text_classification``) used by the product.

The folder is a standard Hugging Face ``*ForSequenceClassification`` folder with label names in
its ``config.json``; any such folder works, whoever trained it. Texts get the same prompt as in
training (the folder's "query" prompt), and are cut at the length used in training.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .classifier import TextClassifier
from .encoders import _read_json, auto_precision, cut_text, default_device, longest_piece, model_prompt
from .errors import UserError
from .jobs import Progress

BATCH_SIZE = 32


def _config(folder: Path) -> dict:
    return _read_json(folder / "config.json")


def is_finetuned_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a sequence-classification model (by its config.json)."""
    return any(a.endswith("ForSequenceClassification") for a in _config(folder).get("architectures") or [])


class FineTunedClassifier(TextClassifier):
    """Predictions of a fine-tuned sequence-classification folder. The network loads on first use."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        config = _config(self.folder)
        id2label = config.get("id2label") or {}
        if not is_finetuned_folder(self.folder) or not id2label:
            raise UserError(f"{self.folder} is not a fine-tuned text classifier (no labels in its config.json).")
        self.classes_ = [id2label[str(i)] for i in range(len(id2label))]
        self.prompt = model_prompt(self.folder)
        trained = _read_json(self.folder / "metrics.json").get("config", {})
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
                    progress("predicting", min(1.0, (start + len(rows)) / len(texts)))
        return out
