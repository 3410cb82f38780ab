"""Named-entity corpora: sentences as words with IOB2 tags, read from CoNLL/WikiANN files or JSON Lines.

- **CoNLL / IOB2** (any other suffix): one word a line, the word first and its tag last (tab or
  space separated; CoNLL-2003's four columns work), a blank line between sentences; ``-DOCSTART-``
  lines are skipped. WikiANN's ``en:`` style prefix is removed and names the language.
- **JSON Lines** (``.jsonl``, ``.json``): one sentence an object, ``{"text": "...", "entities":
  [[start, end, "PER"], ...]}`` with character offsets (``{"start":, "end":, "label":}`` objects
  and doccano's ``"label"`` key work too) and an optional ``"language"``. The text is cut into words
  (:func:`words_of`: runs of letters and digits, each punctuation mark, each Chinese or Japanese
  character) and a word inside an entity gets its tag.

Sentences without a language (no prefix, no ``"language"``) get the one py3langid detects. Every
file is bounded before it is held: its bytes, its lines' characters, its sentences (the row
limit) and its words (the cell limit), with the messages of :mod:`xlmr_demo.limits`.
"""

from __future__ import annotations

import bisect
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from xlmr_demo.errors import UserError
from xlmr_demo.languages import detect_languages
from xlmr_demo.limits import Limits, over_limit
from xlmr_demo.limits import current as current_limits
from xlmr_demo.readers import check_file, decode_bytes

_PREFIX = re.compile(r"^([a-z]{2,3}(?:-[a-z]+)?):(?=.)")
_TYPE = r"[\w.-]{1,50}"  # an entity type: letters, digits, _ . - (it is shown on the page, so never markup)
_TAG = re.compile(rf"^(O|[BI]-{_TYPE})$")
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # kana and Han characters: one word each
WORD = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+|[^\w\s]")
_CJK_GAP = re.compile(rf"(?<=[{_CJK}]) (?=[{_CJK}])")  # words joined for language identification: no spaces in CJK
_LANGUAGE = re.compile(r"[^\W_][\w-]{0,19}")  # a language name or code, in any script
JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")
ENTITY_KEYS = ("entities", "spans", "label")


@dataclass
class Corpus:
    """Sentences of one file: words, their IOB2 tags and each sentence's language; ``name`` names the file."""

    name: str
    words: list[list[str]]
    tags: list[list[str]]
    languages: list[str]

    def subset(self, rows, name: str | None = None) -> Corpus:
        rows = list(rows)
        pick = lambda values: [values[i] for i in rows]  # noqa: E731
        return Corpus(name or self.name, pick(self.words), pick(self.tags), pick(self.languages))

    @property
    def language(self) -> str:
        """The language of most of its sentences."""
        return Counter(self.languages).most_common(1)[0][0]

    @property
    def types(self) -> list[str]:
        """The entity types tagged in it, sorted."""
        return sorted({t[2:] for sentence in self.tags for t in sentence if t != "O"})


def words_of(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of the words of ``text`` (see the module docstring)."""
    return [m.span() for m in WORD.finditer(text)]


def tags_of(words: list[tuple[int, int]], spans: list[tuple[int, int, str]], where: str = "") -> list[str]:
    """IOB2 tags of ``words`` from character ``spans``: a word overlapping a span is in it (the first one B-).

    Spans may not overlap (each word has one tag); the words of each are found by bisection, so a
    line's cost is its words plus its spans.
    """
    tags = ["O"] * len(words)
    starts, ends = [s for s, _ in words], [e for _, e in words]
    last_end = -1
    for start, end, kind in sorted(spans):
        if start < last_end:
            raise UserError(f"{where}: two entities overlap at character {start}; each word can have one type.")
        last_end = end
        first, stop = bisect.bisect_right(ends, start), bisect.bisect_left(starts, end)
        for n, i in enumerate(range(first, stop)):
            tags[i] = ("B-" if n == 0 else "I-") + kind
    return tags


class _Bounds:
    """Counts what a file holds as it is read, refusing it once past a limit."""

    def __init__(self, name: str, bound: Limits) -> None:
        self.name, self.bound, self.sentences, self.words = name, bound, 0, 0

    def line(self, number: int, line: str) -> None:
        if len(line) > self.bound.cell_chars:
            raise over_limit(
                f"{self.name}, line {number}: {len(line):,} characters; the limit is {self.bound.cell_chars:,}.",
                "cell_chars",
            )

    def sentence(self, n_words: int = 0) -> None:
        """A sentence ended; ``n_words``: its words, unless counted one by one (:meth:`word`)."""
        self.sentences += 1
        if self.sentences > self.bound.rows:
            raise over_limit(f"{self.name} has over {self.bound.rows:,} sentences, the limit.", "rows")
        self.word(n_words)

    def word(self, n: int = 1) -> None:
        self.words += n
        if self.words > self.bound.cells:
            raise over_limit(f"{self.name} has over {self.bound.cells:,} words, the limit.", "cells")


def _read_conll(text: str, name: str, bounds: _Bounds) -> tuple[list, list, list]:
    words, tags, sent_w, sent_t = [], [], [], []
    for number, line in enumerate([*text.splitlines(), ""], start=1):
        bounds.line(number, line)
        line = line.strip()
        if not line or line.startswith("-DOCSTART-"):
            if sent_w:
                bounds.sentence()
                words.append(sent_w)
                tags.append(sent_t)
            sent_w, sent_t = [], []
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        if len(fields) < 2:
            raise UserError(f"{name}, line {number}: expected a word and its tag, found {line[:60]!r}.")
        tag = fields[-1].strip()
        if not _TAG.match(tag):
            raise UserError(
                f"{name}, line {number}: {tag[:60]!r} is not an IOB2 tag (O, B-TYPE or I-TYPE), e.g. B-PER."
            )
        bounds.word()  # counted as read: a file without blank lines is one long sentence
        sent_w.append(fields[0].strip())
        sent_t.append(tag)
    languages: list[str | None] = [None] * len(words)
    prefixes = Counter(m.group(1) for s in words for w in s if (m := _PREFIX.match(w)))
    n_words = sum(len(s) for s in words)
    if prefixes:
        prefix, count = prefixes.most_common(1)[0]
        if count >= 0.95 * n_words:  # a WikiANN file: every word carries "xx:"
            cut = len(prefix) + 1
            words = [[w[cut:] if w.startswith(prefix + ":") else w for w in s] for s in words]
            languages = [prefix] * len(words)
    return words, tags, languages


def _spans(value, text: str, where: str) -> list[tuple[int, int, str]]:
    if not isinstance(value, list):
        raise UserError(f"{where}: the entities must be a list of [start, end, type].")
    spans = []
    for item in value:
        if isinstance(item, dict):
            item = [item.get("start"), item.get("end"), item.get("label", item.get("type"))]
        ok = isinstance(item, list | tuple) and len(item) == 3
        start, end, kind = item if ok else (None, None, None)
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            raise UserError(f"{where}: {str(item)[:60]} is not [start, end, type] with offsets inside the text.")
        if not isinstance(kind, str) or not re.fullmatch(_TYPE, kind):
            raise UserError(
                f"{where}: {str(kind)[:60]!r} is not an entity type (at most 50 letters, digits, _ . or -)."
            )
        spans.append((start, end, kind))
    return spans


def _read_json_lines(text: str, name: str, bounds: _Bounds) -> tuple[list, list, list]:
    words, tags, languages = [], [], []
    for number, line in enumerate(text.splitlines(), start=1):
        bounds.line(number, line)
        if not line.strip():
            continue
        where = f"{name}, line {number}"
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise UserError(f"{where} is not a JSON object.") from exc
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise UserError(f'{where}: each line needs a "text" and its "entities" ([start, end, type] each).')
        sentence = record["text"]
        key = next((k for k in ENTITY_KEYS if k in record), None)
        spans = _spans(record[key], sentence, where) if key else []
        offsets = words_of(sentence)
        if not offsets:
            continue
        bounds.sentence(len(offsets))
        words.append([sentence[s:e] for s, e in offsets])
        tags.append(tags_of(offsets, spans, where))
        language = record.get("language")
        given = isinstance(language, str) and _LANGUAGE.fullmatch(language.strip())
        languages.append(language.strip() if given else None)  # anything else (markup, blanks) is detected
    return words, tags, languages


def read_corpus(path: str | Path, bound: Limits | None = None, display_name: str | None = None) -> Corpus:
    """Read a CoNLL/IOB2 or JSON Lines file (see the module docstring), bounded by ``bound``; errors name the line."""
    bound = bound or current_limits()
    name = display_name or Path(path).name
    if display_name and not Path(path).is_file():  # an app upload, deleted once read: never name the server's path
        raise UserError(f"{name} is no longer on the server (uploads are deleted once read); upload it again.")
    path = check_file(path, bound)
    text = decode_bytes(path.read_bytes(), name)
    reader = _read_json_lines if path.suffix.lower() in JSON_SUFFIXES else _read_conll
    words, tags, languages = reader(text, name, _Bounds(name, bound))
    if not words:
        raise UserError(
            f"{name} holds no sentences: one word and its tag a line with blank lines between sentences, or "
            'JSON Lines with a "text" and its "entities".'
        )
    unknown = [i for i, lang in enumerate(languages) if lang is None]
    if unknown:
        detected = detect_languages([_CJK_GAP.sub("", " ".join(words[i])) for i in unknown])
        for i, lang in zip(unknown, detected, strict=True):
            languages[i] = lang
    corpus = Corpus(name, words, tags, languages)
    if len(corpus.types) > bound.classes:
        raise over_limit(f"{name} has {len(corpus.types):,} entity types; the limit is {bound.classes:,}.", "classes")
    return corpus
