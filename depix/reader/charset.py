"""The reader's alphabet: printable ASCII by default; class 0 is the CTC blank."""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence

import torch

#: Printable ASCII without tabs/newlines (95 characters, space included), in code-point order.
PRINTABLE = "".join(chr(c) for c in range(32, 127))

#: Named character sets for ``--charset``-style restrictions of the decoder.
NAMED_CHARSETS: dict[str, str] = {
    "printable": PRINTABLE,
    "digits": string.digits,
    "hex": string.digits + "abcdefABCDEF",
    "hex_lower": string.digits + "abcdef",
    "alpha": string.ascii_letters,
    "alnum": string.ascii_letters + string.digits,
    "lower": string.ascii_lowercase,
    "upper": string.ascii_uppercase,
}


def resolve_charset(spec: str | Iterable[str] | None) -> str | None:
    """A named set (``"digits"``, ``"hex"``...) or literal characters -> characters; None stays None."""
    if spec is None:
        return None
    if isinstance(spec, str) and spec in NAMED_CHARSETS:
        return NAMED_CHARSETS[spec]
    chars = "".join(dict.fromkeys("".join(spec)))
    if not chars:
        raise ValueError("charset restriction is empty")
    return chars


class Charset:
    """Maps characters to CTC classes 1..N (0 = blank) and back.

    Raises ``ValueError`` for duplicate characters or characters a target cannot encode.
    """

    blank = 0

    def __init__(self, chars: str = PRINTABLE) -> None:
        if not chars or len(set(chars)) != len(chars):
            raise ValueError("charset must be a non-empty string of distinct characters")
        self.chars = chars
        self.index = {c: i + 1 for i, c in enumerate(chars)}

    def __len__(self) -> int:
        """Number of classes, blank included."""
        return len(self.chars) + 1

    def clean(self, text: str) -> str:
        """``text`` with characters outside the charset dropped and outer spaces stripped."""
        return "".join(c for c in text if c in self.index).strip()

    def encode(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Targets for ``torch.nn.functional.ctc_loss``: concatenated labels and lengths (int64)."""
        labels: list[int] = []
        lengths: list[int] = []
        for text in texts:
            try:
                labels.extend(self.index[c] for c in text)
            except KeyError as error:
                raise ValueError(
                    f"character {error.args[0]!r} of {text!r} is not in the charset"
                ) from None
            lengths.append(len(text))
        return torch.tensor(labels, dtype=torch.long), torch.tensor(lengths, dtype=torch.long)

    def decode(self, labels: Iterable[int]) -> str:
        """Class indices (no blanks, already collapsed) -> string."""
        return "".join(self.chars[i - 1] for i in labels)

    def mask(self, allowed: str | None) -> torch.Tensor:
        """Bool (C,) of the classes a restricted decoder may emit (blank always allowed)."""
        keep = torch.ones(len(self), dtype=torch.bool)
        if allowed is not None:
            keep[1:] = False
            for c in allowed:
                if c in self.index:
                    keep[self.index[c]] = True
        return keep
