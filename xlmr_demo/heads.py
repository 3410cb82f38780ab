"""Small classifier heads trained in torch on frozen sentence embeddings.

Two kinds, one class: multinomial logistic regression (``"logreg"``) and a one-hidden-layer MLP
(``"mlp"``). Inputs are standardised with the training set's mean and spread (stored in the
head), classes are weighted against imbalance, and training stops early on the validation loss,
keeping the best epoch. The same seed gives the same head. Follows scikit-learn's estimator
contract: ``__init__`` stores settings, ``fit`` returns ``self`` and sets ``classes_``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Literal

import numpy as np

from .errors import UserError
from .limits import Limits, over_limit
from .limits import current as current_limits
from .progress import Progress, Step

HeadKind = Literal["logreg", "mlp"]


@dataclass(frozen=True)
class HeadConfig:
    """Training settings.

    Defaults chosen by mean per-language macro-F1 on UMSAB's *validation* files (a grid of kind,
    learning rate, weight decay, dropout and batch size, two seeds): the MLP beat logistic
    regression by about 1.2 points (see DEFAULT_LEARNING_RATE for the learning rates).
    """

    kind: HeadKind = "mlp"
    hidden: int = 256  # MLP width
    dropout: float = 0.2  # MLP only
    learning_rate: float | None = None  # None: 3e-4 for the MLP, 1e-3 for logistic regression
    weight_decay: float = 1e-4  # AdamW's decoupled L2
    batch_size: int = 256  # at most; small datasets use smaller batches (see _batch_size)
    max_epochs: int = 1000  # an upper bound: early stopping ends UMSAB-sized runs within ~25 epochs
    # and at most this many updates: on small, easy data the validation loss keeps creeping down
    # for thousands of updates without changing a prediction (UMSAB stops after ~600)
    max_steps: int = 1000
    patience: int = 15  # epochs without a better validation loss before stopping
    class_weight: Literal["balanced", "none"] = "balanced"  # inverse class frequency in the loss
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("logreg", "mlp"):
            raise ValueError(f"kind must be 'logreg' or 'mlp', not {self.kind!r}")
        if min(self.max_epochs, self.max_steps, self.batch_size, self.patience, self.hidden) < 1:
            raise ValueError("hidden, max_epochs, max_steps, batch_size and patience must be >= 1")
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be a whole number from 0 to {2**32 - 1}, not {self.seed}")
        if self.weight_decay < 0:
            raise ValueError("weight_decay must be >= 0")
        if self.learning_rate is not None and self.learning_rate <= 0:
            raise ValueError("learning_rate must be > 0")
        if not 0 <= self.dropout < 1:
            raise ValueError("dropout must be in [0, 1)")


@dataclass
class TrainingHistory:
    """Per-epoch losses; ``best_epoch`` is the one whose weights were kept."""

    train_loss: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0


def _network(kind: HeadKind, dim: int, n_classes: int, hidden: int, dropout: float):
    from torch import nn

    if kind == "logreg":
        return nn.Linear(dim, n_classes)
    return nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, n_classes))


# on UMSAB validation data 3e-4 beat 1e-3 for the MLP, and the two tied for logistic regression,
# which needs the larger step to converge on small data within max_steps
DEFAULT_LEARNING_RATE = {"mlp": 3e-4, "logreg": 1e-3}
MIN_STEPS_PER_EPOCH = 8
# an epoch counts as better only if it lowers the loss by 0.1%: on small data the validation loss
# creeps down for hundreds of epochs without changing a single prediction
MIN_IMPROVEMENT = 1e-3


def class_weights(counts: np.ndarray, mode: Literal["balanced", "none"]) -> np.ndarray | None:
    """Loss weight per class from its training-row ``counts``: inverse frequency ("balanced"), or None."""
    if mode != "balanced":
        return None
    counts = counts.astype(np.float32)
    return counts.sum() / (np.float32(len(counts)) * counts)


def _batch_size(largest: int, n_rows: int) -> int:
    """Batches small enough for at least 8 updates per epoch (16 rows at least).

    With 200 rows and batches of 256 a head would get one update per epoch and stay untrained
    within the epoch budget; UMSAB-sized data (7,000 rows) keeps the full batch size.
    """
    return max(1, min(largest, max(16, -(-n_rows // MIN_STEPS_PER_EPOCH))))


class Head:
    """A trained classifier over embeddings: ``fit(X, y)``, ``predict_proba(X)``, ``predict(X)``."""

    def __init__(self, config: HeadConfig = HeadConfig()) -> None:
        self.config = config

    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise RuntimeError("this Head is not fitted yet; call fit() first")

    def fit(
        self,
        X: np.ndarray,
        y: Sequence[str],
        X_val: np.ndarray | None = None,
        y_val: Sequence[str] | None = None,
        progress: Progress | None = None,
    ) -> Head:
        """Train on embeddings ``X`` (n, d) with labels ``y``; stop early on ``(X_val, y_val)`` if given.

        ``progress`` gets a "training" step after each epoch, its details the epoch's ``train_loss``
        and ``validation_loss`` (None without validation rows).
        """
        import torch

        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(list(y), dtype=object)
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError(f"X must be (n, d) with one label per row; got {X.shape} and {len(y)} labels")
        if not np.isfinite(X).all():
            raise UserError("Some embeddings are not finite numbers; re-embed the data.")
        self.classes_ = np.array(sorted(set(y.tolist())), dtype=object)
        if len(self.classes_) < 2:
            raise UserError("Training needs at least two classes.")
        index = {c: i for i, c in enumerate(self.classes_)}
        targets = torch.tensor([index[v] for v in y], dtype=torch.long)
        self.mean_ = X.mean(axis=0)
        self.scale_ = X.std(axis=0) + 1e-6
        inputs = torch.from_numpy((X - self.mean_) / self.scale_)
        validation = None
        if X_val is not None and y_val is not None and len(y_val):
            known = [i for i, v in enumerate(y_val) if v in index]  # a class absent from train cannot be scored
            if known:
                xv = (np.asarray(X_val, dtype=np.float32)[known] - self.mean_) / self.scale_
                yv = torch.tensor([index[y_val[i]] for i in known], dtype=torch.long)
                validation = (torch.from_numpy(xv), yv)

        cfg = self.config
        generator = torch.Generator().manual_seed(cfg.seed)
        torch.manual_seed(cfg.seed)
        net = _network(cfg.kind, X.shape[1], len(self.classes_), cfg.hidden, cfg.dropout)
        weights = class_weights(torch.bincount(targets, minlength=len(self.classes_)).numpy(), cfg.class_weight)
        weight = None if weights is None else torch.from_numpy(weights)
        loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
        lr = cfg.learning_rate or DEFAULT_LEARNING_RATE[cfg.kind]
        optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=cfg.weight_decay)
        batch_size = _batch_size(cfg.batch_size, len(inputs))
        # the most epochs this run can take, for progress reports
        epochs = min(cfg.max_epochs, -(-cfg.max_steps // -(-len(inputs) // batch_size)))
        history = TrainingHistory()
        best_state, best_loss, waited, steps = None, float("inf"), 0, 0
        for epoch in range(1, cfg.max_epochs + 1):
            net.train()
            total = 0.0
            order = torch.randperm(len(inputs), generator=generator)
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                optimizer.zero_grad()
                loss = loss_fn(net(inputs[batch]), targets[batch])
                loss.backward()
                optimizer.step()
                steps += 1
                total += float(loss.detach()) * len(batch)
            history.train_loss.append(total / len(inputs))
            val_loss = None
            if validation is not None:
                net.eval()
                with torch.no_grad():
                    val_loss = float(loss_fn(net(validation[0]), validation[1]))
                history.validation_loss.append(val_loss)
            if progress:
                losses = {"train_loss": history.train_loss[-1], "validation_loss": val_loss}
                progress(Step("training", epoch, epochs, losses))
            score = val_loss if val_loss is not None else history.train_loss[-1]
            if score < best_loss * (1 - MIN_IMPROVEMENT):
                best_loss, waited, history.best_epoch = score, 0, epoch
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                waited += 1
            if waited >= cfg.patience or steps >= cfg.max_steps:
                break
        net.load_state_dict(best_state)
        net.eval()
        self.network_ = net
        self.history_ = history
        self.n_features_in_ = X.shape[1]
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Logits, shape (n, n_classes)."""
        import torch

        self._check_fitted()
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"expected embeddings of width {self.n_features_in_}, got shape {X.shape}")
        with torch.no_grad():
            return self.network_(torch.from_numpy((X - self.mean_) / self.scale_)).numpy()

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n, n_classes), columns in the order of ``classes_``."""
        logits = self.decision_function(X)
        logits = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Most probable label per row."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    # --- persistence: tensors in safetensors, everything else in JSON (see xlmr_demo.artifacts) ---
    def tensors(self) -> dict[str, np.ndarray]:
        self._check_fitted()
        state = {f"net.{k}": v.numpy() for k, v in self.network_.state_dict().items()}
        return {**state, "mean": self.mean_, "scale": self.scale_}

    def settings(self) -> dict:
        self._check_fitted()
        return {"config": asdict(self.config), "classes": self.classes_.tolist(), "dim": int(self.n_features_in_)}

    @classmethod
    def from_saved(cls, settings: object, tensors: dict[str, np.ndarray], bound: Limits | None = None) -> Head:
        """The head that :meth:`settings` and :meth:`tensors` describe, checked against ``bound`` first.

        Saved heads may come from anyone: every setting, the label count, the hidden width and each
        tensor's shape and values are checked before a layer is built, and any mismatch is a
        :class:`UserError` (see :func:`check_saved`).
        """
        import torch

        config, classes, dim = check_saved(settings, tensors, bound or current_limits())
        head = cls(config)
        head.classes_ = np.array(classes, dtype=object)
        head.n_features_in_ = dim
        head.mean_, head.scale_ = tensors["mean"], tensors["scale"]
        cfg = head.config
        net = _network(cfg.kind, head.n_features_in_, len(head.classes_), cfg.hidden, cfg.dropout)
        net.load_state_dict({k[4:]: torch.from_numpy(v) for k, v in tensors.items() if k.startswith("net.")})
        head.network_ = net.eval()
        head.history_ = TrainingHistory()
        return head


def _tensor_shapes(config: HeadConfig, n_classes: int, dim: int) -> dict[str, tuple[int, ...]]:
    """The tensors a saved head of this shape holds (:meth:`Head.tensors`) and their shapes."""
    if config.kind == "logreg":
        layers = {"net.weight": (n_classes, dim), "net.bias": (n_classes,)}
    else:  # nn.Sequential(Linear, GELU, Dropout, Linear)
        layers = {
            "net.0.weight": (config.hidden, dim),
            "net.0.bias": (config.hidden,),
            "net.3.weight": (n_classes, config.hidden),
            "net.3.bias": (n_classes,),
        }
    return {**layers, "mean": (dim,), "scale": (dim,)}


FLOAT_SETTINGS = ("dropout", "weight_decay")
MAX_WEIGHT = 1e4  # saved tensors beyond this overflow float32 logits: no trained head comes near it
MIN_SCALE = 1e-9  # fit() stores spreads of at least 1e-6
MAX_DIM = 16_384  # embedding widths: 384 (the embedded model) to 1,024 (XLM-R large); far above any real one


def check_saved(settings: object, tensors: dict, bound: Limits) -> tuple[HeadConfig, list[str], int]:
    """Validate a saved head's JSON ``settings`` and its ``tensors``: (config, classes, input width).

    Only plain JSON types of the right kinds pass; the hidden width and the label count are held
    to ``bound``; every tensor must have exactly the shape the settings imply, float32 and finite.
    """

    def damaged(detail: str) -> UserError:
        return UserError(f"The classifier's saved head is damaged: {detail}.")

    if not isinstance(settings, dict) or not isinstance(settings.get("config"), dict):
        raise damaged("its settings are not a JSON object with a 'config'")
    known = {f.name: f for f in fields(HeadConfig)}
    given = settings["config"]
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise damaged(f"unknown settings {', '.join(map(repr, unknown[:5]))}")
    for key, value in given.items():
        kind = {"kind": str, "class_weight": str}.get(key)
        if kind is None:
            numbers = (float, int)
            kind = (*numbers, type(None)) if key == "learning_rate" else numbers if key in FLOAT_SETTINGS else int
        if isinstance(value, bool) or not isinstance(value, kind):
            raise damaged(f"the setting {key!r} has the wrong type")
    hidden = given.get("hidden", HeadConfig.hidden)
    if hidden > bound.head_hidden:
        raise over_limit(
            f"The classifier's hidden layer is {hidden:,} wide; the limit is {bound.head_hidden:,}.", "head_hidden"
        )
    try:
        config = HeadConfig(**given)
    except ValueError as exc:
        raise damaged(str(exc)) from exc
    classes, dim = settings.get("classes"), settings.get("dim")
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise damaged("its labels are not a list of texts")
    if len(set(classes)) != len(classes):
        raise damaged("its labels repeat")
    if not 2 <= len(classes) <= bound.classes:
        if len(classes) > bound.classes:
            raise over_limit(f"The classifier has {len(classes):,} labels; the limit is {bound.classes:,}.", "classes")
        raise damaged("it has fewer than two labels")
    if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= MAX_DIM:
        raise damaged("its input width is not a whole number from 1 to 16,384")
    expected = _tensor_shapes(config, len(classes), dim)
    if set(tensors) != set(expected):
        raise damaged(f"expected the tensors {', '.join(sorted(expected))}")
    for key, shape in expected.items():
        value = tensors[key]
        if value.dtype != np.float32 or value.shape != shape:
            raise damaged(f"tensor {key!r} is {value.dtype} {value.shape}, expected float32 {shape}")
        if not np.isfinite(value).all():
            raise damaged(f"tensor {key!r} holds values that are not finite numbers")
        if np.abs(value).max(initial=0) > MAX_WEIGHT:  # trained heads stay within single digits
            raise damaged(f"tensor {key!r} holds values beyond ±{MAX_WEIGHT:,.0f}")
    if not (tensors["scale"] > MIN_SCALE).all():  # every input is divided by its scale
        raise damaged("tensor 'scale' holds values that are not positive")
    return config, list(classes), dim
