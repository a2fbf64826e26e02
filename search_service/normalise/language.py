"""Language of a page: the markup's claim, checked against its text with py3langid."""

from __future__ import annotations

import logging
from functools import lru_cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

log = logging.getLogger(__name__)

#: Text shorter than this is not enough to overrule the markup.
MIN_TEXT_CHARS = 200
#: Characters of text handed to the detector.
SAMPLE_CHARS = 1500
#: Probability the detector must reach to overrule (or fill in for) the markup.
CONFIDENT = 0.95


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    """Load the detector's model once, on first use."""
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> tuple[str, float]:
    """Return the language of `text` as an ISO 639-1 code with the detector's probability."""
    code, probability = _identifier().classify(text[:SAMPLE_CHARS])
    return code, float(probability)


def check_language(declared: str, text: str) -> str:
    """Return the declared language unless the text clearly says another (or it is missing)."""
    if len(text) < MIN_TEXT_CHARS:
        return declared
    try:
        detected, probability = detect_language(text)
    except OSError as exc:  # the model is unpacked to a temporary file: a full disk, say
        log.warning("language detection unavailable (%s): keeping the declared language", exc)
        return declared
    if probability < CONFIDENT or detected == declared:
        return declared
    if declared:
        log.debug("markup says %s, text says %s (%.2f)", declared, detected, probability)
    return detected
