"""Input rules shared by the schemas (F11): validate and reject, never rewrite the input.

Every string a route takes (a query, path or cookie parameter, a form field, a JSON field, down to
the strings inside a job's payload) is one of the types below, and each refuses what PostgreSQL
cannot store: U+0000, which `text` and `jsonb` both refuse, and the surrogates U+D800-U+DFFF, which
have no UTF-8 form (asyncpg cannot even send them; JSON's `\\ud800` escape and Python's own strings
can carry them). A JSON object also refuses NaN and Infinity, which `jsonb` has no spelling for.
Let through, each was a 500 from the driver, after the work before the query had been done; refused
here, each is the standard 422 problem naming the field.

Why in the types rather than once per request: a middleware runs before FastAPI decodes the body,
so it would have to parse every JSON body a second time, or guess at escapes in the raw bytes
(`\\u0000`, a surrogate pair against a lone one, an escaped backslash before either), and it could
not tell a multipart form's text fields from its files; a route class checking the decoded values
would come after the dependencies, which use them already (the sign-in's rate limit reads the
form). The types see the decoded value of exactly the fields that hold text, at the cost of one
search each (tenths of a microsecond for a short string). What a type cannot do by itself, cover a
route added later, `tests/unit/test_validation.py` does: it walks every route's parameters and
fails on any string, or value of any type, that would reach a handler without one of these checks.
Headers are exempt: the HTTP servers refuse U+0000 in a header value (a 400 from uvicorn's
httptools and h11 alike) and decode the rest as Latin-1, which has no surrogates.
"""

import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints

# Cc is exactly U+0000-U+001F and U+007F-U+009F, and Cs is U+D800-U+DFFF, in every Unicode
# version: a character class finds them in one search at C speed (66 us for 20 000 characters),
# where a `unicodedata.category` call per character took 1.8 ms.
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
_CONTROLS_BUT_LINE_BREAKS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# Bidirectional overrides can make text display differently from what it is ("Trojan Source").
_BIDI_CONTROLS = r"\u202a-\u202e\u2066-\u2069"
_SURROGATES = r"\ud800-\udfff"
_NOT_MULTI_LINE = re.compile(f"[{_CONTROLS_BUT_LINE_BREAKS}{_BIDI_CONTROLS}{_SURROGATES}]")
_NOT_SINGLE_LINE = re.compile(f"[\t\n\r{_CONTROLS_BUT_LINE_BREAKS}{_BIDI_CONTROLS}{_SURROGATES}]")


def _refuse(match: re.Match[str] | None) -> None:
    if match is not None:
        char = match.group()
        kind = "surrogate" if "\ud800" <= char <= "\udfff" else "control character"
        msg = f"{kind} U+{ord(char):04X} is not allowed"
        raise ValueError(msg)


def storable(value: str) -> str:
    """Any text PostgreSQL can store: line breaks, tabs and other controls are allowed."""
    # Both tests run at memchr speed; an ASCII string cannot hold a surrogate.
    if "\x00" in value or not value.isascii():
        _refuse(_UNSTORABLE.search(value))
    return value


def single_line(value: str) -> str:
    _refuse(_NOT_SINGLE_LINE.search(value))
    return value


def multi_line(value: str) -> str:
    _refuse(_NOT_MULTI_LINE.search(value))
    return value


def storable_json(value: dict[str, Any]) -> dict[str, Any]:
    """Every key and string of a decoded JSON object storable, every number finite.

    Iterative: JSON nested as deep as the decoder allows would exhaust the stack of a recursive
    walk, and a RecursionError is a 500.
    """
    pending: list[object] = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            storable(item)
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, float) and not math.isfinite(item):
            msg = "NaN and Infinity are not allowed"
            raise ValueError(msg)
    return value


SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

Text = Annotated[str, AfterValidator(storable)]
SingleLine = Annotated[str, AfterValidator(single_line)]
MultiLine = Annotated[str, AfterValidator(multi_line)]
# The pattern alone refuses U+0000; `storable` says so where the route walk can see it, and runs
# last so the pattern stays in the OpenAPI schema and its check in pydantic-core.
Slug = Annotated[
    str,
    StringConstraints(min_length=1, max_length=32, pattern=SLUG.pattern),
    AfterValidator(storable),
]
JsonObject = Annotated[dict[str, Any], AfterValidator(storable_json)]
