"""The product's classifier, fine-tuned end to end: encoder, mean pooling, the frozen-head classifier's head.

Fine-tuning starts from the classifier ``python -m xlmr_demo train`` would build on the same rows
(the encoder's normalised mean-pooled embedding, standardised, into the product's MLP head), then
trains encoder and head together ("linear probing, then fine-tuning"). It therefore starts from
the frozen-head score instead of a random head, and keeps the pooling the encoder was pre-trained
with (mean pooling for the embedded E5 model), where a new ``[CLS]`` classifier must learn both.

The result is the product's own format: the encoder as a standard Hugging Face + sentence-transformers
folder (``AutoModel``, ``SentenceTransformer`` and :class:`xlmr_demo.encoders.Encoder` load it) with
the head beside it (``head.safetensors`` + ``head.json``), which :func:`xlmr_demo.classifier.load_classifier`
reads as a :class:`~xlmr_demo.classifier.Classifier`.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from xlmr_demo.heads import Head


class PooledClassifier(torch.nn.Module):
    """Token states -> masked mean -> L2 norm -> ``head`` (its standardisation and network), as a torch module."""

    def __init__(self, encoder, head: Head, class_weight: np.ndarray | None) -> None:
        super().__init__()
        self.encoder = encoder
        self.network = head.network_
        self.register_buffer("mean", torch.as_tensor(head.mean_, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(head.scale_, dtype=torch.float32))
        weight = None if class_weight is None else torch.as_tensor(class_weight, dtype=torch.float32)
        self.loss_fn = torch.nn.CrossEntropyLoss(weight=weight)

    @property
    def base_model(self):
        return self.encoder

    @property
    def config(self):
        return self.encoder.config

    def get_input_embeddings(self):
        return self.encoder.get_input_embeddings()

    def forward(self, input_ids, attention_mask, labels=None):
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1)
        embedding = torch.nn.functional.normalize(pooled.float(), dim=-1)
        logits = self.network((embedding - self.mean) / self.scale).float()
        loss = self.loss_fn(logits, labels) if labels is not None else None
        return SimpleNamespace(loss=loss, logits=logits)
