"""Fill the blank: the task XLM-R was pre-trained on, live.

XLM-R learnt its languages by reading text with some pieces hidden behind ``<mask>`` and guessing them
(masked language modelling). Models that keep the head that makes those guesses (``xlm-roberta-base``,
``xlm-roberta-large``, ``bert-base-multilingual-cased``, ...) can still play: :func:`fill_mask` gives each
blank's top guesses with their probabilities. Sentence-embedding models were trained further without
that head (the embedded multilingual-e5-small among them): they are refused with a plain message.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from functools import lru_cache

from .encoders import resolve_model_folder
from .errors import UserError
from .limits import check_model, over_limit
from .limits import current as current_limits
from .models import EMBEDDED_ALIASES

#: How a user may write a blank: XLM-R's spelling and BERT's, in any case.
BLANK = re.compile(r"<mask>|\[mask\]", re.IGNORECASE)
MAX_BLANKS = 5
TOP = 5
NO_HEAD = (
    "{model} cannot fill blanks: it was trained further to make sentence vectors and does not ship the head "
    "that guesses hidden words. Choose a model that keeps it, such as xlm-roberta-base (it needs a network "
    "the first time)."
)
EMBEDDED_NO_HEAD = (
    "The embedded model (multilingual-e5-small) cannot fill blanks: it was trained further from XLM-R's "
    "recipe to make sentence vectors, and that training dropped the head that guesses hidden words. The "
    "other parts of this tab work with it; for this one choose a model that keeps the head, such as "
    "xlm-roberta-base (it needs a network the first time)."
)


@dataclass(frozen=True)
class Guess:
    text: str  # the piece as text ("capital"; a piece inside a word has no space before it)
    probability: float
    starts_word: bool


@dataclass(frozen=True)
class Filled:
    """A sentence's blanks and the model's guesses for each (independently, as the model makes them)."""

    text: str  # as typed
    blanks: list[list[Guess]]  # per blank, best first
    best: str  # the text with each blank filled by its first guess


class _MaskedModel:
    def __init__(self, model: str) -> None:
        import transformers
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        if model in EMBEDDED_ALIASES:
            raise UserError(EMBEDDED_NO_HEAD)
        folder = resolve_model_folder(model)
        transformers.utils.logging.disable_progress_bar()
        # missing head weights are reported below, in words; a quiet modeling_utils makes transformers 5.x check
        # a tensor-parallel plan and log every unsharded layer, so that logger is quietened too
        names = ("modeling_utils", "distributed.tensor_parallel")
        quiet = [logging.getLogger(f"transformers.{name}") for name in names]
        levels = [q.level for q in quiet]
        for q in quiet:
            q.setLevel(logging.ERROR)
        try:
            network, info = AutoModelForMaskedLM.from_pretrained(folder, output_loading_info=True)
            self.tokenizer = AutoTokenizer.from_pretrained(folder)
        except ValueError as exc:  # transformers has no masked-LM class for this architecture
            raise UserError(NO_HEAD.format(model=repr(model))) from exc
        except OSError as exc:
            raise UserError(f"Could not load model {model!r}: {exc}") from exc
        finally:
            for q, level in zip(quiet, levels, strict=True):
                q.setLevel(level)
        # weights the checkpoint lacks were drawn at random: a head without them guesses nonsense (a missing
        # bias alone starts at zero, and the guesses still mean something)
        drawn = [k for k in info.get("missing_keys", ()) if not k.endswith("bias")]
        if drawn or self.tokenizer.mask_token is None:
            raise UserError(NO_HEAD.format(model=repr(model)))
        self.network = network.eval()
        self.lock = threading.Lock()  # one forward pass at a time per model: sessions share it


@lru_cache(maxsize=2)
def masked_model(model: str) -> _MaskedModel:
    """The masked-language model ``model`` with its tokenizer, loaded once per process (two at most)."""
    return _MaskedModel(model)


def fill_mask(text: str, model: str = "xlm-roberta-base", top: int = TOP) -> Filled:
    """The ``top`` guesses for each blank (``<mask>`` or ``[MASK]``) of ``text``, with their probabilities."""
    import torch

    text = text or ""
    blanks = len(BLANK.findall(text))
    if not blanks:
        raise UserError("Put <mask> where the model should guess a word, e.g. “Paris is the <mask> of France.”")
    if blanks > MAX_BLANKS:
        raise UserError(f"The text has {blanks} blanks; the model guesses up to {MAX_BLANKS} at a time.")
    limit = current_limits().cell_chars
    if len(text) > limit:
        raise over_limit(f"The text has {len(text):,} characters; the limit is {limit:,}.", "cell_chars")
    check_model(model)  # before the cache: a model loaded earlier is no more allowed than any other
    masked = masked_model(model)
    tokenizer = masked.tokenizer
    encoded = tokenizer(BLANK.sub(tokenizer.mask_token, text), return_tensors="pt", truncation=False, verbose=False)
    ids = encoded["input_ids"]
    reads = tokenizer.model_max_length
    if reads > 100_000:  # transformers' "unknown"
        reads = masked.network.config.max_position_embeddings - 2
    if ids.shape[1] > reads:
        raise UserError(f"The text is {ids.shape[1]:,} pieces long; the model reads {reads:,}. Shorten it.")
    positions = (ids[0] == tokenizer.mask_token_id).nonzero().flatten()
    with masked.lock, torch.inference_mode():
        logits = masked.network(**encoded).logits[0, positions].float()
    probabilities = logits.softmax(dim=-1)
    best = probabilities.topk(top, dim=-1)
    out = []
    for values, indices in zip(best.values.tolist(), best.indices.tolist(), strict=True):
        pieces = tokenizer.convert_ids_to_tokens(indices)
        out.append([
            Guess(tokenizer.convert_tokens_to_string([p]).strip(), float(v), p.startswith(("▁", "Ġ")))
            for p, v in zip(pieces, values, strict=True)
        ])  # fmt: skip
    firsts = iter(guesses[0].text for guesses in out)
    return Filled(text, out, BLANK.sub(lambda _: next(firsts), text))
