"""Character sets the decoder searches (``--charset``)."""

from __future__ import annotations

import string

PRESETS = {
    "digits": string.digits,
    "hex": string.digits + "abcdefABCDEF",
    "alnum": string.ascii_letters + string.digits,
    "printable": "".join(chr(c) for c in range(32, 127)),  # printable ASCII, space included
}


def resolve_charset(name_or_chars: str | None) -> str:
    """A preset name (``digits``, ``hex``, ``alnum``, ``printable``; default printable) or the
    characters themselves (e.g. ``"0123456789 -"``); returns the unique characters in order.

    Raises ``ValueError`` for an empty set.
    """
    chars = PRESETS.get(name_or_chars or "printable", name_or_chars)
    unique = "".join(dict.fromkeys(chars))
    if not unique.strip():
        raise ValueError(f"charset {name_or_chars!r} holds no visible character")
    return unique
