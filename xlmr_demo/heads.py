"""Small classifier heads trained in torch on frozen sentence embeddings.

Four kinds, one class:

- ``"mlp"``: a one-hidden-layer MLP trained with AdamW, stopping early on the validation loss and
  keeping the best epoch;
- ``"logreg"``: multinomial logistic regression fitted to convergence (L-BFGS, L2 penalty, C=1:
  scikit-learn's ``LogisticRegression`` on the raw embeddings, kept as one linear layer);
- ``"by_language"`` (the default): both, each row routed by its language. Rows in a language of
  the training rows (or in no language that can be told) get the MLP; rows in other languages get
  the logistic regression, which transfers better across languages (``bench/results/heads.md``);
- ``"prototypes"``: for few rows per class (training chooses it at :data:`FEW_ROWS` or fewer): each class a
  point made of its examples and, where they help, its label name, compared with texts centred per language
  and refined on the texts classified (:mod:`xlmr_demo.prototypes`; ``bench/results/few_shot.md``).

Inputs are standardised with the training set's mean and spread (stored in the head) and classes
are weighted against imbalance. The same seed gives the same head. Follows scikit-learn's
estimator contract: ``__init__`` stores settings, ``fit`` returns ``self`` and sets ``classes_``.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Literal

import numpy as np

from .errors import UserError
from .languages import UNKNOWN_LANGUAGE, detect_languages
from .limits import Limits, over_limit
from .limits import current as current_limits
from .progress import Epoch, Progress, Step
from .prototypes import SHOWN_TEMPERATURE, class_points, similarities

HeadKind = Literal["auto", "by_language", "mlp", "logreg", "prototypes"]
#: "auto" is what training resolves (:func:`xlmr_demo.training.head_for`): prototypes for few rows per class,
#: else by_language. A fitted or saved head is always one of the others.
KINDS = ("auto", "by_language", "mlp", "logreg", "prototypes")
#: Training rows per class (the median class) at or below which training uses a "prototypes" head instead of
#: the default: measured at 8, 16, 32 and 64 rows per class in ``bench/few_shot.py``.
FEW_ROWS = 32
#: The thresholds a multi-label head chooses from, per label, by F1 on the validation rows ...
THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.05), 2)
#: ... where the label has this many of them (else 0.5): a threshold chosen on 3 rows floods the predictions.
THRESHOLD_ROWS = 10
#: A language counts as trained on when at least this share of the training rows is in it (one
#: misdetected tweet does not make a language "seen").
MIN_LANGUAGE_SHARE = 0.01
LOGREG_C = 1.0  # scikit-learn's default penalty: the peer the head is measured against
LOGREG_MAX_ITER = 1000
LOGREG_CHUNK = 25  # L-BFGS iterations between two progress reports (chances to stop)


@dataclass(frozen=True)
class HeadConfig:
    """Training settings.

    Defaults chosen by mean macro-F1 on UMSAB's *validation* files, never its test files: the MLP's
    settings by a grid of learning rate, weight decay, dropout and batch size (two seeds), and the
    kind by the held-out settings of ``bench/heads.py`` (trained on all four languages or one,
    measured on its own language and zero-shot on the others): the MLP won on the training
    languages, logistic regression on the others, so ``by_language`` uses each where it won.
    The MLP's settings (hidden, dropout, learning_rate, weight_decay, batch_size, max_epochs,
    max_steps, patience) do not apply to logistic regression.
    """

    kind: HeadKind = "by_language"
    hidden: int = 256  # MLP width
    dropout: float = 0.2  # MLP only
    learning_rate: float | None = None  # None: DEFAULT_LEARNING_RATE
    weight_decay: float = 1e-4  # AdamW's decoupled L2
    batch_size: int = 256  # at most; small datasets use smaller batches (see _batch_size)
    max_epochs: int = 1000  # an upper bound: early stopping ends UMSAB-sized runs within ~25 epochs
    # and at most this many updates: on small, easy data the validation loss keeps creeping down
    # for thousands of updates without changing a prediction (UMSAB stops after ~600)
    max_steps: int = 1000
    patience: int = 15  # epochs without a better validation loss before stopping
    class_weight: Literal["balanced", "none"] = "balanced"  # inverse class frequency in the loss
    seed: int = 0
    # several labels per row: one sigmoid per label (MLP and logistic regression one-vs-rest), each label's
    # threshold chosen on the validation rows (:data:`THRESHOLDS`)
    multi_label: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}, not {self.kind!r}")
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
        if self.multi_label and self.kind == "prototypes":
            raise ValueError("a prototypes head takes one label per row")


@dataclass
class TrainingHistory:
    """Per-epoch losses; ``best_epoch`` is the one whose weights were kept."""

    train_loss: list[float] = field(default_factory=list)
    validation_loss: list[float] = field(default_factory=list)
    best_epoch: int = 0


def _mlp(dim: int, n_classes: int, hidden: int, dropout: float, generator=None):
    """The MLP, its weights drawn from ``generator`` (a seeded ``torch.Generator``) and its dropout masks too:
    nothing is drawn from torch's global generator, which another job's thread may be drawing from."""
    import torch
    from torch import nn

    class SeededDropout(nn.Module):  # nn.Dropout draws from the global generator; same state-dict keys (none)
        only_in_training = True  # left out when the head is pickled (Head.__getstate__)

        def forward(self, x):
            if not self.training or dropout == 0:
                return x
            keep = torch.rand(x.shape, generator=generator) >= dropout
            return x * keep / (1 - dropout)

    return nn.Sequential(
        _linear(dim, hidden, generator), nn.GELU(), SeededDropout(), _linear(hidden, n_classes, generator)
    )


def _linear(dim: int, n_classes: int, generator=None):
    """``nn.Linear(dim, n_classes)`` initialised as torch does (uniform in ±1/sqrt(dim)) from ``generator``, or
    left uninitialised without one (its weights are loaded or copied in): never from the global generator."""
    import torch
    from torch import nn

    layer = torch.nn.utils.skip_init(nn.Linear, dim, n_classes)
    if generator is not None:
        bound = 1 / dim**0.5
        with torch.no_grad():
            layer.weight.uniform_(-bound, bound, generator=generator)
            layer.bias.uniform_(-bound, bound, generator=generator)
    return layer


DEFAULT_LEARNING_RATE = 3e-4  # the MLP's: on UMSAB validation data 3e-4 beat 1e-3
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


def routing_languages(texts: Sequence[str], config: HeadConfig) -> np.ndarray | None:
    """Each text's detected language where a head of ``config`` reads it (routes rows by language, or centres
    each language), else None."""
    wanted = config.kind in ("by_language", "prototypes")
    return np.asarray(detect_languages(list(texts)), dtype=object) if wanted else None


class Head:
    """A trained classifier over embeddings: ``fit(X, y)``, ``predict_proba(X)``, ``predict(X)``.

    ``languages`` (one language code per row, as :func:`xlmr_demo.languages.detect_languages` gives)
    route a ``by_language`` head's rows; without them every row counts as in no known language.
    """

    def __init__(self, config: HeadConfig = HeadConfig()) -> None:
        self.config = config

    def __getstate__(self) -> dict:
        """Pickled (a ZeroGPU call's results cross so, :mod:`xlmr_demo.zerogpu`) with an identity in place of its
        networks' seeded dropout: it acts only in training, and its class exists only inside the fit."""
        from torch import nn

        state = dict(self.__dict__)
        for key in ("network_", "fallback_"):
            if isinstance(state.get(key), nn.Sequential):
                layers = (nn.Identity() if getattr(m, "only_in_training", False) else m for m in state[key])
                state[key] = nn.Sequential(*layers).train(state[key].training)
        return state

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
        languages: Sequence[str] | None = None,
        names: dict[str, np.ndarray] | None = None,
    ) -> Head:
        """Train on embeddings ``X`` (n, d) with labels ``y``; the MLP stops early on ``(X_val, y_val)`` if given.

        ``progress`` gets an :class:`~xlmr_demo.progress.Epoch` after each of the MLP's epochs (its
        ``train_loss`` and ``validation_loss``, None without validation rows), and a "training
        (logistic regression)" step every :data:`LOGREG_CHUNK` iterations of the logistic regression.
        ``languages``: each training row's language; a ``by_language`` head remembers those of at
        least :data:`MIN_LANGUAGE_SHARE` of the rows as the languages it was trained on; a ``prototypes`` head
        centres each language. ``names``: each class's label-name vector (:func:`~xlmr_demo.prototypes.name_vectors`),
        for a ``prototypes`` head; used where they mean something (:func:`~xlmr_demo.prototypes.class_points`).
        """
        if self.config.kind == "auto":
            raise ValueError("kind 'auto' is chosen by training (xlmr_demo.training.head_for), not fitted")
        X = np.asarray(X, dtype=np.float32)
        y = objects(y)
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError(f"X must be (n, d) with one label per row; got {X.shape} and {len(y)} labels")
        if languages is not None and len(languages) != len(X):
            raise ValueError(f"got {len(languages)} languages for {len(X)} rows")
        if not np.isfinite(X).all():
            raise UserError("Some embeddings are not finite numbers; re-embed the data.")
        multi = self.config.multi_label
        self.classes_ = np.array(sorted({c for v in y for c in v} if multi else set(y.tolist())), dtype=object)
        if len(self.classes_) < 2:
            raise UserError("Training needs at least two classes.")
        index = {c: i for i, c in enumerate(self.classes_)}
        targets = self._targets(y) if multi else np.array([index[v] for v in y])
        self.mean_ = X.mean(axis=0)
        self.scale_ = X.std(axis=0) + 1e-6
        self.n_features_in_ = X.shape[1]
        self.history_ = TrainingHistory()
        kind = self.config.kind
        if kind == "prototypes":
            rows = [UNKNOWN_LANGUAGE] * len(X) if languages is None else list(languages)
            named = bool(names) and set(self.classes_) <= set(names)
            prior = np.stack([names[c] for c in self.classes_]) if named else None
            points, _, self.name_rows_ = class_points(X, targets, len(self.classes_), rows, prior)
            self.points_ = points.astype(np.float32)
            return self
        validation = None
        if X_val is not None and y_val is not None and len(y_val):
            y_val = objects(y_val)
            if multi:  # labels absent from the training rows are not scored
                validation = (np.asarray(X_val, dtype=np.float32), self._targets(y_val))
            else:
                known = [i for i, v in enumerate(y_val) if v in index]  # a class absent from train cannot be scored
                if known:
                    rows = np.asarray(X_val, dtype=np.float32)[known]
                    validation = (rows, np.array([index[y_val[i]] for i in known]))
        if kind != "logreg":
            self.network_ = self._fit_mlp(X, targets, validation, progress)
        linear = self._fit_logreg(X, targets, progress) if kind != "mlp" else None
        if kind == "logreg":
            self.network_ = linear
        elif kind == "by_language":
            self.fallback_ = linear
            counts = Counter([] if languages is None else list(languages))
            self.languages_ = sorted(
                lang for lang, n in counts.items() if n >= MIN_LANGUAGE_SHARE * len(X) and lang != UNKNOWN_LANGUAGE
            )
        if multi:
            self.thresholds_ = self._thresholds(self.network_, validation)
            if kind == "by_language":
                self.fallback_thresholds_ = self._thresholds(self.fallback_, validation)
        return self

    def _targets(self, y: np.ndarray) -> np.ndarray:
        """(n, n_classes) 0/1 float32: which of :attr:`classes_` each row's labels hold."""
        index = {c: i for i, c in enumerate(self.classes_)}
        out = np.zeros((len(y), len(self.classes_)), dtype=np.float32)
        for row, labels in enumerate(y):
            out[row, [index[c] for c in labels if c in index]] = 1
        return out

    def _thresholds(self, network, validation) -> np.ndarray:
        """Each label's threshold of the sigmoid outputs of ``network``: the one of :data:`THRESHOLDS` with the
        best F1 on the validation rows (the one nearest 0.5 among equals); 0.5 for a label fewer than
        :data:`THRESHOLD_ROWS` of them hold."""
        import torch

        out = np.full(len(self.classes_), 0.5, dtype=np.float32)
        if validation is None:
            return out
        with torch.no_grad():
            proba = torch.sigmoid(network(self._standardised(validation[0]))).numpy()
        truth = validation[1].astype(bool)
        for j in np.flatnonzero(truth.sum(axis=0) >= THRESHOLD_ROWS):
            predicted = proba[:, j, None] >= THRESHOLDS  # (rows, thresholds)
            tp = (predicted & truth[:, j, None]).sum(axis=0)
            f1 = 2 * tp / (predicted.sum(axis=0) + truth[:, j].sum())
            best = np.flatnonzero(f1 == f1.max())
            out[j] = THRESHOLDS[best[np.argmin(np.abs(THRESHOLDS[best] - 0.5))]]
        return out

    def _standardised(self, X: np.ndarray):
        import torch

        return torch.from_numpy((X - self.mean_) / self.scale_)

    def _fit_mlp(self, X: np.ndarray, targets: np.ndarray, validation, progress: Progress | None):
        """The MLP, trained with AdamW on standardised inputs, keeping the epoch of least validation loss."""
        import torch

        cfg = self.config
        inputs, targets = self._standardised(X), torch.from_numpy(targets)
        if validation is not None:
            validation = (self._standardised(validation[0]), torch.from_numpy(validation[1]))
        generator = torch.Generator().manual_seed(cfg.seed)  # this fit's own: never torch's global generator
        net = _mlp(X.shape[1], len(self.classes_), cfg.hidden, cfg.dropout, generator)
        if cfg.multi_label:  # one sigmoid per label; each label's threshold, chosen later, answers for imbalance
            loss_fn = torch.nn.BCEWithLogitsLoss()
        else:
            weights = class_weights(torch.bincount(targets, minlength=len(self.classes_)).numpy(), cfg.class_weight)
            loss_fn = torch.nn.CrossEntropyLoss(weight=None if weights is None else torch.from_numpy(weights))
        lr = cfg.learning_rate or DEFAULT_LEARNING_RATE
        optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=cfg.weight_decay)
        batch_size = _batch_size(cfg.batch_size, len(inputs))
        # the most epochs this run can take, for progress reports
        epochs = min(cfg.max_epochs, -(-cfg.max_steps // -(-len(inputs) // batch_size)))
        history = self.history_
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
                progress(Epoch("training", epoch, epochs, history.train_loss[-1], val_loss))
            score = val_loss if val_loss is not None else history.train_loss[-1]
            if score < best_loss * (1 - MIN_IMPROVEMENT):
                best_loss, waited, history.best_epoch = score, 0, epoch
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                waited += 1
            if waited >= cfg.patience or steps >= cfg.max_steps:
                break
        net.load_state_dict(best_state)
        return net.eval()

    def _fit_logreg(self, X: np.ndarray, targets: np.ndarray, progress: Progress | None = None):
        """Logistic regression on the raw embeddings (L-BFGS), as a linear layer on standardised inputs.

        Fitted :data:`LOGREG_CHUNK` iterations at a time, each chunk starting where the last ended, with a
        progress report between two: a Stop or a time limit ends the fit within one chunk.
        """
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        weighting = "balanced" if self.config.class_weight == "balanced" else None
        if self.config.multi_label:
            return self._linear_layer(*self._fit_one_vs_rest(X, targets, weighting, progress))
        chunks = LOGREG_MAX_ITER // LOGREG_CHUNK
        model = LogisticRegression(C=LOGREG_C, max_iter=LOGREG_CHUNK, class_weight=weighting, warm_start=True)
        with warnings.catch_warnings():  # short of convergence after LOGREG_MAX_ITER steps still predicts well
            warnings.simplefilter("ignore", ConvergenceWarning)
            for chunk in range(1, chunks + 1):
                model.fit(X, targets)
                if progress:
                    progress(Step("training (logistic regression)", chunk, chunks))
                if model.n_iter_.max() < LOGREG_CHUNK:  # converged within the chunk
                    break
        coef, intercept = model.coef_, model.intercept_
        if len(self.classes_) == 2:  # one logit w.x + b for the second class: softmax([0, w.x + b]) is the same
            coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.array([0.0, intercept[0]])
        return self._linear_layer(coef, intercept)

    def _fit_one_vs_rest(self, X: np.ndarray, targets: np.ndarray, weighting, progress: Progress | None):
        """One logistic regression per label (present or not), as (coef (k, d), intercept (k,))."""
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        coef, intercept = np.zeros((targets.shape[1], X.shape[1])), np.zeros(targets.shape[1])
        for j in range(targets.shape[1]):
            column = targets[:, j]
            if column.min() == column.max():  # every training row has it (or none): a constant answer
                intercept[j] = 10.0 if column[0] else -10.0
            else:
                model = LogisticRegression(C=LOGREG_C, max_iter=LOGREG_MAX_ITER, class_weight=weighting)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    model.fit(X, column)
                coef[j], intercept[j] = model.coef_[0], model.intercept_[0]
            if progress:
                progress(Step("training (logistic regression)", j + 1, targets.shape[1]))
        return coef, intercept

    def _linear_layer(self, coef: np.ndarray, intercept: np.ndarray):
        """Logits ``coef @ x + intercept`` of raw embeddings ``x`` as a linear layer on standardised inputs."""
        import torch

        layer = _linear(len(self.mean_), len(self.classes_))
        with torch.no_grad():  # w.x + b with x = z * scale + mean, z the standardised input
            layer.weight.copy_(torch.from_numpy((coef * self.scale_).astype(np.float32)))
            layer.bias.copy_(torch.from_numpy((intercept + coef @ self.mean_).astype(np.float32)))
        return layer.eval()

    def decision_function(self, X: np.ndarray, languages: Sequence[str] | None = None) -> np.ndarray:
        """Logits, shape (n, n_classes); ``languages`` route a ``by_language`` head's rows."""
        import torch

        self._check_fitted()
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"expected embeddings of width {self.n_features_in_}, got shape {X.shape}")
        if languages is not None and len(languages) != len(X):
            raise ValueError(f"got {len(languages)} languages for {len(X)} rows")
        if self.config.kind == "prototypes":
            rows = [UNKNOWN_LANGUAGE] * len(X) if languages is None else list(languages)
            compared = similarities(X, rows, self.points_.astype(np.float64), self.mean_)
            return (compared.S / SHOWN_TEMPERATURE).astype(np.float32)
        inputs = self._standardised(X)
        with torch.no_grad():
            logits = self.network_(inputs).numpy()
            if self.config.kind == "by_language" and languages is not None:
                other = self._fallback_rows(languages)
                if other.any():
                    logits[other] = self.fallback_(inputs[torch.from_numpy(other)]).numpy()
        return logits

    def predict_proba(self, X: np.ndarray, languages: Sequence[str] | None = None) -> np.ndarray:
        """Class probabilities, shape (n, n_classes), columns in the order of ``classes_``: they sum to 1, or,
        for a multi-label head, each is its label's own (a sigmoid)."""
        logits = self.decision_function(X, languages)
        if self.config.multi_label:
            return 1 / (1 + np.exp(-logits))
        logits = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray, languages: Sequence[str] | None = None) -> np.ndarray:
        """Most probable label per row; for a multi-label head, the tuple of labels over their thresholds."""
        proba = self.predict_proba(X, languages)
        if not self.config.multi_label:
            return self.classes_[proba.argmax(axis=1)]
        return self.over_thresholds(proba, languages)

    def over_thresholds(self, proba: np.ndarray, languages: Sequence[str] | None = None) -> np.ndarray:
        """A multi-label head's answer from its ``proba``: each row's tuple of labels over their thresholds (those
        of the logistic regression for rows it answers)."""
        thresholds = np.tile(self.thresholds_, (len(proba), 1))
        if self.config.kind == "by_language" and languages is not None:
            thresholds[self._fallback_rows(languages)] = self.fallback_thresholds_
        over = proba >= thresholds
        return objects(tuple(self.classes_[row].tolist()) for row in over)

    def _fallback_rows(self, languages: Sequence[str]) -> np.ndarray:
        """Which rows a ``by_language`` head sends to its logistic regression: those in no training language."""
        return ~np.isin(np.asarray(languages, dtype=object), [*self.languages_, UNKNOWN_LANGUAGE])

    # --- persistence: tensors in safetensors, everything else in JSON (see xlmr_demo.saved) ---
    def tensors(self) -> dict[str, np.ndarray]:
        self._check_fitted()
        if self.config.kind == "prototypes":
            return {"points": self.points_, "mean": self.mean_, "scale": self.scale_}
        state = {f"net.{k}": v.numpy() for k, v in self.network_.state_dict().items()}
        if self.config.kind == "by_language":
            state.update({f"fallback.{k}": v.numpy() for k, v in self.fallback_.state_dict().items()})
        if self.config.multi_label:
            state["thresholds"] = self.thresholds_
            if self.config.kind == "by_language":
                state["fallback_thresholds"] = self.fallback_thresholds_
        return {**state, "mean": self.mean_, "scale": self.scale_}

    def settings(self) -> dict:
        self._check_fitted()
        settings = {"config": asdict(self.config), "classes": self.classes_.tolist(), "dim": int(self.n_features_in_)}
        if self.config.kind == "by_language":
            settings["languages"] = self.languages_
        if self.config.kind == "prototypes":
            settings["name_rows"] = int(self.name_rows_)
        return settings

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

        def layer(net, prefix: str):
            state = {k[len(prefix) :]: torch.from_numpy(v) for k, v in tensors.items() if k.startswith(prefix)}
            net.load_state_dict(state)
            return net.eval()

        n = len(classes)
        head.history_ = TrainingHistory()
        if config.kind == "prototypes":
            head.points_, head.name_rows_ = tensors["points"], settings["name_rows"]
            return head
        if config.kind == "logreg":
            head.network_ = layer(_linear(dim, n), "net.")
        else:
            head.network_ = layer(_mlp(dim, n, config.hidden, config.dropout), "net.")
        if config.kind == "by_language":
            head.fallback_ = layer(_linear(dim, n), "fallback.")
            head.languages_ = list(settings["languages"])
        if config.multi_label:
            head.thresholds_ = tensors["thresholds"]
            if config.kind == "by_language":
                head.fallback_thresholds_ = tensors["fallback_thresholds"]
        return head


def objects(values) -> np.ndarray:
    """``values`` as a 1-D object array: labels, or tuples of labels (which ``np.asarray`` would make 2-D)."""
    values = list(values)
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = v
    return out


def _tensor_shapes(config: HeadConfig, n_classes: int, dim: int) -> dict[str, tuple[int, ...]]:
    """The tensors a saved head of this shape holds (:meth:`Head.tensors`) and their shapes."""
    linear = {"weight": (n_classes, dim), "bias": (n_classes,)}
    if config.kind == "prototypes":
        return {"points": (n_classes, dim), "mean": (dim,), "scale": (dim,)}
    if config.kind == "logreg":
        layers = {f"net.{k}": shape for k, shape in linear.items()}
    else:  # nn.Sequential(Linear, GELU, Dropout, Linear)
        layers = {
            "net.0.weight": (config.hidden, dim),
            "net.0.bias": (config.hidden,),
            "net.3.weight": (n_classes, config.hidden),
            "net.3.bias": (n_classes,),
        }
    if config.kind == "by_language":
        layers.update({f"fallback.{k}": shape for k, shape in linear.items()})
    if config.multi_label:
        layers["thresholds"] = (n_classes,)
        if config.kind == "by_language":
            layers["fallback_thresholds"] = (n_classes,)
    return {**layers, "mean": (dim,), "scale": (dim,)}


FLOAT_SETTINGS = ("dropout", "weight_decay")
MAX_WEIGHT = 1e4  # saved tensors beyond this overflow float32 logits: no trained head comes near it
MIN_SCALE = 1e-9  # fit() stores spreads of at least 1e-6
MAX_DIM = 16_384  # embedding widths: 384 (the embedded model) to 1,024 (XLM-R large); far above any real one
MAX_LANGUAGES = 100  # a by_language head's languages: each holds 1% of the training rows or more
MAX_LANGUAGE_CODE = 16  # py3langid's codes are 2 or 3 letters


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
        kind = {"kind": str, "class_weight": str, "multi_label": bool}.get(key)
        if kind is None:
            numbers = (float, int)
            kind = (*numbers, type(None)) if key == "learning_rate" else numbers if key in FLOAT_SETTINGS else int
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
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
    if config.kind == "auto":
        raise damaged("its kind is 'auto', which no fitted head has")
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
    if config.kind == "by_language":
        languages = settings.get("languages")
        if (
            not isinstance(languages, list)
            or len(languages) > MAX_LANGUAGES
            or not all(isinstance(v, str) and 0 < len(v) <= MAX_LANGUAGE_CODE for v in languages)
        ):
            raise damaged(f"its languages are not a list of at most {MAX_LANGUAGES} language codes")
    if config.kind == "prototypes":
        name_rows = settings.get("name_rows")
        if isinstance(name_rows, bool) or not isinstance(name_rows, int) or not 0 <= name_rows <= MAX_WEIGHT:
            raise damaged("its name_rows is not a whole number")
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
    for key in ("thresholds", "fallback_thresholds"):
        if key in tensors and not ((tensors[key] > 0) & (tensors[key] < 1)).all():
            raise damaged(f"tensor {key!r} holds thresholds outside 0 to 1")
    if config.kind == "prototypes" and not np.allclose(np.linalg.norm(tensors["points"], axis=1), 1, atol=1e-3):
        raise damaged("its class points are not of length 1")
    if not (tensors["scale"] > MIN_SCALE).all():  # every input is divided by its scale
        raise damaged("tensor 'scale' holds values that are not positive")
    return config, list(classes), dim
