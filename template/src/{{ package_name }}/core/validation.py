"""Input rules shared by the schemas (F11): validate and reject, never rewrite the input."""

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

_LINE_BREAKS = frozenset("\n\r\t")
# Bidirectional overrides can make text display differently from what it is ("Trojan Source").
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _reject_control_characters(value: str, *, allowed: frozenset[str]) -> str:
    for char in value:
        if char in allowed:
            continue
        if char in _BIDI_CONTROLS or unicodedata.category(char) in {"Cc", "Cs"}:
            msg = f"control character U+{ord(char):04X} is not allowed"
            raise ValueError(msg)
    return value


def single_line(value: str) -> str:
    return _reject_control_characters(value, allowed=frozenset())


def multi_line(value: str) -> str:
    return _reject_control_characters(value, allowed=_LINE_BREAKS)


SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

SingleLine = Annotated[str, AfterValidator(single_line)]
MultiLine = Annotated[str, AfterValidator(multi_line)]
Slug = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=SLUG.pattern)]
