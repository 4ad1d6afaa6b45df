"""Pure, CPU-bound text statistics. Callers run them in a worker thread (A08)."""

import re
from collections import Counter

WORDS_PER_MINUTE = 230
MIN_TERM_LENGTH = 3
# Apostrophes (straight and typographic) and hyphens join the parts of one word.
_WORD = re.compile(r"\w+(?:['\u2019-]\w+)*")
_STOP_WORDS = frozenset(
    {"and", "are", "but", "for", "from", "has", "have", "its", "not", "that", "the", "this"}
    | {"was", "were", "will", "with", "you", "your"}
)


def count_words(text: str) -> int:
    return sum(1 for _ in _WORD.finditer(text))


def top_terms(text: str, limit: int = 5) -> list[tuple[str, int]]:
    words = (word.lower() for word in _WORD.findall(text))
    counts = Counter(
        word for word in words if word not in _STOP_WORDS and len(word) >= MIN_TERM_LENGTH
    )
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]


def reading_minutes(words: int) -> float:
    return round(words / WORDS_PER_MINUTE, 1)
