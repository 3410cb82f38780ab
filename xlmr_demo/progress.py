"""Progress of long work, in one shape for every producer (embedding, training, maps, predictions)
and every consumer (the app's progress bar and loss curve, the CLI's status line, a job's stop check).

Long functions take ``progress: Progress | None`` and call it with a :class:`Step` after each unit
of work: a batch of texts, an epoch, a fold.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Step:
    """Where long work is: ``done`` of ``total`` units of ``stage``, and what was measured on the way."""

    stage: str  # what is being done, in words: "embedding", "training", "cross-lingual transfer", ...
    done: float = 0.0
    total: float = 1.0
    # measurements of the unit just finished, e.g. an epoch's train_loss and validation_loss (None: not measured)
    details: Mapping[str, float | None] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        """Share of the stage done, in [0, 1]."""
        return min(1.0, max(0.0, self.done / self.total)) if self.total else 0.0


Progress = Callable[[Step], None]
