"""Where xlmr_demo keeps its on-disk state (materialised models, embeddings, fingerprints).

Standard library only: everything that writes to the cache imports this, and nothing heavy with it.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "XLMR_DEMO_CACHE"


def cache_dir() -> Path:
    """The root of every cache (materialised models, embeddings).

    ``$XLMR_DEMO_CACHE`` when set, else ``~/.cache/xlmr_demo``. Created on first use.
    """
    root = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "xlmr_demo")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path
