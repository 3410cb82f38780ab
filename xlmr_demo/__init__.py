"""xlmr_demo: see, compare and use multilingual XLM-R-family encoders without writing code.

Heavy dependencies (torch, transformers) load on first use, not on import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import UserError

if TYPE_CHECKING:
    from .encoders import EmbedResult, Encoder, EncoderConfig, embed, load_encoder

__all__ = ["EmbedResult", "Encoder", "EncoderConfig", "UserError", "embed", "load_encoder"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in ("EmbedResult", "Encoder", "EncoderConfig", "embed", "load_encoder"):
        from . import encoders

        return getattr(encoders, name)
    raise AttributeError(name)
