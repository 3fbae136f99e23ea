"""Rules for text that comes from outside: how much of it an error echoes, what a name may contain."""

import re
import unicodedata

# An error message quotes at most this much of what the client sent (a 1 MB name must not make a 1 MB answer).
ECHO_LIMIT = 200
# NUL, the other C0 controls and DEL: never part of a code, name, period, date or query parameter.
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Unit levels from the top down: a unit sits strictly below its parent.
LEVELS = ("city", "district", "school")
# Bidirectional overrides/isolates and marks: they make a name display differently from what it is.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def echo(text: object, limit: int = ECHO_LIMIT) -> str:
    """Client input as quoted in an error: at most `limit` characters, an ellipsis marking the cut."""
    s = str(text)
    return s if len(s) <= limit else s[:limit] + "…"


def clean_name(text: str) -> str:
    """A person-facing name as stored: NFKC, trimmed; ValueError for control, format or bidi characters.

    NFKC folds compatibility look-alikes (full-width letters and digits, ligatures) into one spelling, so two
    names that read the same compare the same; format characters (zero-width joiners and spaces, soft hyphens,
    bidi controls: Unicode category Cf) are invisible and would let two different names look alike.
    """
    folded = unicodedata.normalize("NFKC", text).strip()
    for ch in folded:
        if ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            raise ValueError(f"must not contain control, format or bidi characters (U+{ord(ch):04X})")
    if not folded:
        raise ValueError("must not be empty")
    if "  " in folded:
        raise ValueError("must not contain runs of spaces")
    return folded


def name_key(text: str) -> str:
    """What two names are compared by for uniqueness: NFKC, case-folded, without spaces."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def level_below(parent: str, child: str) -> bool:
    """Whether a unit of level `child` may sit under one of level `parent` (city > district > school)."""
    if parent not in LEVELS or child not in LEVELS:
        return False
    return LEVELS.index(child) > LEVELS.index(parent)


def valid_idempotency_key(value: str) -> bool:
    """1–255 visible ASCII characters (no spaces, no controls, nothing beyond ASCII)."""
    return 1 <= len(value) <= 255 and all("\x21" <= ch <= "\x7e" for ch in value)
