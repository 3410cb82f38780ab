"""How the model reads text: the pieces it cuts a text into, and what that costs each language.

XLM-R models share one SentencePiece vocabulary (250,002 pieces) between about a hundred languages.
A word the vocabulary holds whole is one piece; any other word is spelled out in several smaller
pieces. Languages that had less text when the vocabulary was learnt, or an alphabet few others
share, get more pieces per word (a higher *fertility*), and since the model reads a fixed number of
pieces per text (512), their texts are cut sooner, in words. :func:`reading` measures that on a
file's own rows, per language, with the very counts the encoder uses to cut (:meth:`Encoder.token_ids`).

Words are counted between spaces. Scripts written without spaces between words (Chinese, Japanese,
Thai, ...) have no such words: for rows mostly in them only the pieces per character count.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .encoders import Encoder, load_encoder
from .errors import UserError
from .limits import current as current_limits
from .limits import over_limit
from .models import EMBEDDED_NAME
from .progress import Progress, Step

#: Scripts written without spaces between words: Han, Hiragana, Katakana, Thai, Lao, Tibetan, Myanmar, Khmer.
_UNSPACED = re.compile(
    "[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff\u3040-\u309f\u30a0-\u30ff\u0e00-\u0e7f\u0e80-\u0eff"
    "\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff]"
)
#: White space and the zero-width characters a text that shows nothing may be made of.
_INVISIBLE = re.compile("[\\s\u200b-\u200d\u2060\ufeff]+")
WORD_START = "▁"  # SentencePiece's mark of a piece that begins a word


def unspaced(text: str) -> bool:
    """Whether most of ``text``'s letters are in a script written without spaces between words."""
    letters = sum(ch.isalpha() for ch in text)
    return letters > 0 and len(_UNSPACED.findall(text)) * 2 > letters


@dataclass(frozen=True)
class Piece:
    """One piece of a text as the model reads it."""

    text: str  # the characters of the text it covers
    start: int  # where they are in the text
    end: int
    piece: str  # the vocabulary entry, e.g. "▁Kat"
    id: int
    kind: str  # "starts a word", "inside a word" or "unknown" (a character the vocabulary lacks)


@dataclass(frozen=True)
class Pieces:
    """A text cut into the model's pieces."""

    text: str
    pieces: list[Piece]
    words: int | None  # words between spaces; None for a text in a script without them
    overhead: int  # pieces the model adds to every text: its prompt and the start and end markers
    max_length: int  # pieces the model reads at most, overhead included

    def segments(self, limit: int | None = None) -> list[tuple[str, str | None]]:
        """The text as consecutive (characters, kind) segments, spaces between pieces as (characters, None); with
        ``limit``, only the first ``limit`` pieces, then a note of how many more there are."""
        out: list[tuple[str, str | None]] = []
        at = 0
        shown = self.pieces if limit is None else self.pieces[:limit]
        for piece in shown:
            if piece.end <= max(at, piece.start):  # covers nothing new (a lone word mark)
                continue
            if piece.start > at:
                out.append((self.text[at : piece.start], None))
            out.append((self.text[max(at, piece.start) : piece.end], piece.kind))
            at = piece.end
        if len(shown) < len(self.pieces):
            out.append((f" … and {len(self.pieces) - len(shown):,} more pieces", None))
        elif at < len(self.text):
            out.append((self.text[at:], None))
        return out


def _encoder(model: str | Encoder) -> Encoder:
    return model if isinstance(model, Encoder) else load_encoder(model)


def overhead(encoder: Encoder) -> int:
    """Pieces the encoder adds to every text (its prompt, the start and end markers): the prompt's last piece may
    join the text's first ("query: " ends in a word mark), so it is counted with a one-letter text."""
    tokenizer = encoder.tokenizer
    with_prompt = tokenizer(encoder.prompt + "a", add_special_tokens=True)["input_ids"]
    return len(with_prompt) - len(tokenizer("a", add_special_tokens=False)["input_ids"])


def pieces(text: str, model: str | Encoder = EMBEDDED_NAME) -> Pieces:
    """``text`` as the model's pieces (see :class:`Pieces`), ``text`` at most a cell's length."""
    if not text or not _INVISIBLE.sub("", text):
        raise UserError("Type a text to see how the model reads it.")
    limit = current_limits().cell_chars
    if len(text) > limit:
        raise over_limit(f"The text has {len(text):,} characters; the limit is {limit:,}.", "cell_chars")
    encoder = _encoder(model)
    tokenizer = encoder.tokenizer
    found = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    unknown = tokenizer.unk_token_id
    out = []
    marked = False  # the piece before was a lone word mark: this one starts a word
    for token_id, (start, end) in zip(found["input_ids"], found["offset_mapping"], strict=True):
        piece = tokenizer.convert_ids_to_tokens(token_id)
        while start < end and text[start].isspace():  # a word's piece covers the space before it: not shown as it
            start += 1
        if piece == WORD_START:  # a lone word mark (before digits, CJK, emoji): it covers no character of its own
            out.append(Piece("", start, start, piece, int(token_id), "starts a word"))
            marked = True
            continue
        if token_id == unknown:
            kind = "unknown"
        elif piece.startswith(WORD_START) or marked:
            kind = "starts a word"
        else:
            kind = "inside a word"
        marked = False
        out.append(Piece(text[start:end], start, end, piece, int(token_id), kind))
    words = None if unspaced(text) else len(text.split())
    return Pieces(text, out, words, overhead(encoder), encoder.max_length)


@dataclass(frozen=True)
class LanguageReading:
    """What reading one language's rows costs the model."""

    language: str
    rows: int
    characters: int  # letters, digits and marks: every character but white space
    tokens: int  # pieces of the texts themselves (no prompt or markers), up to a little past the limit
    words: int | None  # words between spaces in the rows written with them; None when most rows are not
    word_tokens: int  # pieces of those same rows
    cut_rows: int  # rows longer than the model reads, cut at the end
    unknown: int  # pieces standing for characters the vocabulary lacks
    median_tokens: float  # pieces of a typical row, prompt and markers included
    # pieces for the same meanings as the reference language's rows (meaning groups in both), reference = 1
    relative_cost: float | None = None

    @property
    def tokens_per_word(self) -> float | None:
        return self.word_tokens / self.words if self.words else None

    @property
    def tokens_per_100_characters(self) -> float:
        return 100 * self.tokens / max(1, self.characters)

    @property
    def cut_share(self) -> float:
        return self.cut_rows / max(1, self.rows)

    @property
    def unknown_share(self) -> float:
        return self.unknown / max(1, self.tokens)


@dataclass(frozen=True)
class Reading:
    """How the model reads a file's rows, per language (most pieces per character first)."""

    model: str
    max_length: int  # pieces the model reads of a row, overhead included
    overhead: int
    vocabulary: int  # pieces in the model's vocabulary
    languages: list[LanguageReading]
    reference: str | None = None  # the language :attr:`LanguageReading.relative_cost` compares with

    def words_read(self, language: LanguageReading) -> int | None:
        """About how many words of a row in ``language`` the model reads before it stops."""
        per_word = language.tokens_per_word
        return int((self.max_length - self.overhead) / per_word) if per_word else None

    def to_json(self) -> dict:
        return {
            "model": self.model,
            "max_length": self.max_length,
            "overhead": self.overhead,
            "vocabulary": self.vocabulary,
            "reference": self.reference,
            "languages": [
                {
                    "language": r.language,
                    "rows": r.rows,
                    "tokens_per_word": _round(r.tokens_per_word),
                    "tokens_per_100_characters": _round(r.tokens_per_100_characters),
                    "cut_share": _round(r.cut_share),
                    "cut_rows": r.cut_rows,
                    "words_read": self.words_read(r),
                    "unknown_share": _round(r.unknown_share),
                    "median_tokens": r.median_tokens,
                    "relative_cost": _round(r.relative_cost),
                }
                for r in self.languages
            ],
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 4)


#: Meanings two languages must share before one's cost in pieces is compared with the other's.
MIN_SHARED_MEANINGS = 10
ENGLISH = ("en", "eng", "english")  # before a region or script: en-US, en_GB, eng_Latn


def _reference(languages: list[str]) -> str:
    """The language others are compared with: English where there is some, else the commonest."""
    counts: dict[str, int] = {}
    for lang in languages:
        counts[lang] = counts.get(lang, 0) + 1
    english = [lang for lang in counts if re.split("[-_]", lang.lower())[0] in ENGLISH]
    return english[0] if english else max(counts, key=counts.get)


def _relative_costs(own: np.ndarray, langs: np.ndarray, groups: Sequence[str | None], reference: str) -> dict:
    """Per language: pieces for the meaning groups it shares with the reference language, over the reference's
    pieces for them (a group's rows in one language averaged: copies and paraphrases count once)."""
    sums: dict[tuple[str, str], list[int]] = {}
    for g, lang, n in zip(groups, langs, own, strict=True):
        if g:
            sums.setdefault((lang, g), []).append(int(n))
    means = {key: float(np.mean(values)) for key, values in sums.items()}
    theirs = {g: n for (lang, g), n in means.items() if lang == reference}
    out = {}
    for lang in set(langs.tolist()):
        shared = [(n, theirs[g]) for (other, g), n in means.items() if other == lang and g in theirs]
        if len(shared) >= MIN_SHARED_MEANINGS and sum(t for _, t in shared):
            out[lang] = sum(n for n, _ in shared) / sum(t for _, t in shared)
    return out


def reading(
    texts: Sequence[str], languages: Sequence[str], model: str | Encoder = EMBEDDED_NAME,
    progress: Progress | None = None, groups: Sequence[str | None] | None = None,
) -> Reading:  # fmt: skip
    """Per language: pieces per word and per character, rows cut at the model's limit, unknown characters, and
    with meaning ``groups`` (translations), the pieces each language needs for the same meanings as English.

    The counts are the encoder's own (:meth:`Encoder.token_ids`): a row counted as cut here is cut when it
    is embedded, for training, maps and predictions alike.
    """
    texts = list(texts)
    if len(texts) != len(languages):
        raise ValueError("one language per text")
    if not texts:
        raise UserError("There are no texts to read.")
    encoder = _encoder(model)
    extra = overhead(encoder)
    unknown_id = encoder.tokenizer.unk_token_id
    lengths = np.zeros(len(texts), np.int64)
    unknown = np.zeros(len(texts), np.int64)
    read = encoder.cut(texts)  # what the model reads: pieces, words and characters are all counted on it
    for start, ids in encoder.token_ids(read):
        lengths[start : start + len(ids)] = [len(row) for row in ids]
        unknown[start : start + len(ids)] = [row.count(unknown_id) for row in ids]
        if progress:
            progress(Step("reading the rows", start + len(ids), len(texts)))
    lengths = encoder.overflowing(texts, read, lengths)
    spaced = np.array([not unspaced(t) for t in read])
    words = np.array([len(t.split()) for t in read])
    characters = np.array([sum(not ch.isspace() for ch in t) for t in read])
    own = np.maximum(lengths - extra, 0)
    langs = np.asarray(languages, dtype=object)
    reference = _reference(list(languages))
    costs = _relative_costs(own, langs, groups, reference) if groups is not None else {}
    out = []
    for lang in sorted(set(languages)):
        rows = langs == lang
        with_words = rows & spaced
        out.append(
            LanguageReading(
                language=str(lang),
                rows=int(rows.sum()),
                characters=int(characters[rows].sum()),
                tokens=int(own[rows].sum()),
                words=int(words[with_words].sum()) if with_words.sum() * 2 >= rows.sum() else None,
                word_tokens=int(own[with_words].sum()),
                cut_rows=int((lengths[rows] > encoder.max_length).sum()),
                unknown=int(unknown[rows].sum()),
                median_tokens=float(np.median(lengths[rows])),
                relative_cost=costs.get(lang),
            )
        )
    out.sort(key=lambda r: -r.tokens_per_100_characters)
    compared = reference if len(costs) > 1 else None
    return Reading(encoder.name, encoder.max_length, extra, len(encoder.tokenizer), out, compared)
