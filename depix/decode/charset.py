"""Character sets the decoder searches (``--charset``): the reader's named sets
(``depix.reader.charset.NAMED_CHARSETS``: one registry for both) or literal characters."""

from __future__ import annotations

from depix.reader.charset import NAMED_CHARSETS

PRESETS = NAMED_CHARSETS


def resolve_charset(name_or_chars: str | None) -> str:
    """A preset name (``digits``, ``hex``, ``hex_lower``, ``alpha``, ``alnum``, ``lower``,
    ``upper``, ``printable``; default printable) or the characters themselves (e.g.
    ``"0123456789 -"``); returns the unique characters in order.

    Raises ``ValueError`` for an empty set.
    """
    chars = PRESETS.get(name_or_chars or "printable", name_or_chars)
    unique = "".join(dict.fromkeys(chars))
    if not unique.strip():
        raise ValueError(f"charset {name_or_chars!r} holds no visible character")
    return unique
