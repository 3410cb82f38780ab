"""xlmr_demo: see, compare and use multilingual XLM-R-family encoders without writing code.

Heavy dependencies (torch, transformers, umap) load on first use, not on import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .errors import UserError

if TYPE_CHECKING:
    from .classifier import Classifier, load_classifier
    from .dataset import DataConfig, load_dataset
    from .encoders import EmbedResult, Encoder, EncoderConfig, embed, load_encoder
    from .heads import Head, HeadConfig
    from .maps import build_map, load_map_data
    from .projection import ProjectionConfig, project
    from .training import evaluate, train_classifier
    from .zero_shot import ZeroShotClassifier, zero_shot_table

# public name -> module that defines it
_LAZY = {
    "Classifier": "classifier", "load_classifier": "classifier", "evaluate": "training", "train_classifier": "training",
    "DataConfig": "dataset", "load_dataset": "dataset",
    "EmbedResult": "encoders", "Encoder": "encoders", "EncoderConfig": "encoders", "embed": "encoders",
    "load_encoder": "encoders",
    "Head": "heads", "HeadConfig": "heads",
    "build_map": "maps", "load_map_data": "maps",
    "ProjectionConfig": "projection", "project": "projection",
    "ZeroShotClassifier": "zero_shot", "zero_shot_table": "zero_shot",
}  # fmt: skip
__all__ = [
    "Classifier", "DataConfig", "EmbedResult", "Encoder", "EncoderConfig", "Head", "HeadConfig", "ProjectionConfig",
    "UserError", "ZeroShotClassifier", "build_map", "embed", "evaluate", "load_classifier", "load_dataset",
    "load_encoder", "load_map_data", "project", "train_classifier", "zero_shot_table",
]  # fmt: skip
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'xlmr_demo' has no attribute {name!r}")
