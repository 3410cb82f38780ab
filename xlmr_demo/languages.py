"""Which language a text is in: py3langid, offline, its model loaded once per process."""

from __future__ import annotations

from functools import lru_cache

UNKNOWN_LANGUAGE = "und"  # ISO 639-2 "undetermined"
#: Below this probability a detected language is :data:`UNKNOWN_LANGUAGE`.
MIN_CONFIDENCE = 0.5
#: Characters of a text that language identification reads: more does not change its answer, only its time.
LANGUAGE_ID_CHARS = 2_000


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_languages(texts: list[str], min_confidence: float = MIN_CONFIDENCE) -> list[str]:
    """ISO 639-1 code of each text's language, :data:`UNKNOWN_LANGUAGE` below ``min_confidence``."""
    identifier = _identifier()
    out = []
    for t in texts:
        lang, prob = identifier.classify(t[:LANGUAGE_ID_CHARS])
        out.append(lang if prob >= min_confidence else UNKNOWN_LANGUAGE)
    return out
