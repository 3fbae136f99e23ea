"""Rules for text that comes from outside: how much of it an error echoes, and the one rule every stored text
field passes (names, notes, comments, titles, urls): NFC, no control, format or bidi characters, bounded."""

import ipaddress
import re
import unicodedata
from urllib.parse import urlsplit

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


# Unicode categories no stored text may hold: controls (Cc), format characters (Cf: zero-width spaces and joiners,
# soft hyphens, bidi controls), surrogates, private use, unassigned, and line/paragraph separators.
_REFUSED = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))
# Lengths after normalisation: a name, one line of free text, a note or comment, an address.
NAME_MAX = 100
LINE_MAX = 200
NOTE_MAX = 2000
URL_MAX = 2000


class TextError(ValueError):
    """Text that may not be stored; the message says why, in English (a schema answers 422 with it)."""


def clean_text(text: str, *, multiline: bool = False, limit: int = NOTE_MAX) -> str:
    """Any text from outside as stored: NFC, trimmed; line feeds only where `multiline` (CR LF and CR become LF).

    NFC, not NFKC: NFKC would turn the full-width punctuation of Chinese text (，：；（）) into ASCII. Refused
    (TextError): control, format and bidi characters (invisible, they make text display as other than it is),
    and more than `limit` characters.
    """
    if multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    folded = unicodedata.normalize("NFC", text).strip()
    for ch in folded:
        if ch in _BIDI or (unicodedata.category(ch) in _REFUSED and not (multiline and ch == "\n")):
            raise TextError(f"must not contain control, format or bidi characters (U+{ord(ch):04X})")
    if len(folded) > limit:
        raise TextError(f"must be at most {limit} characters (got {len(folded)})")
    return folded


def clean_line(text: str) -> str:
    """One line of free text (a title, a document number, a unit or department given by name)."""
    return clean_text(text, limit=LINE_MAX)


def clean_note(text: str) -> str:
    """A multi-line note or comment."""
    return clean_text(text, multiline=True, limit=NOTE_MAX)


def filled(text: str) -> str:
    """Text that must say something once cleaned (a required comment of spaces says nothing)."""
    if not text:
        raise TextError("must not be empty")
    return text


def clean_label(text: str) -> str:
    """What something is called (a key's holder): one clean line of at most NAME_MAX characters, not empty.
    Stored NFC; two labels are the same when their name_key is (NFKC, case-folded, without spaces)."""
    return filled(clean_text(text, limit=NAME_MAX))


def clean_name(text: str) -> str:
    """A name submissions refer to a unit by: a label without runs of spaces (a row typed with one space must
    not name another unit than the one named with two)."""
    folded = clean_label(text)
    if "  " in folded:
        raise TextError("must not contain runs of spaces")
    return folded


def clean_url(text: str) -> str:
    """An http(s) address with a valid host and port, no user part, no spaces; TextError otherwise."""
    url = clean_text(text, limit=URL_MAX)
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError beyond 0–65535 or not a number
        host = parts.hostname or ""
    except ValueError:
        raise TextError("must be an http:// or https:// address with a valid host and port") from None
    if parts.scheme.lower() not in ("http", "https") or not _valid_host(host) or port == 0:
        raise TextError("must be an http:// or https:// address with a valid host and port")
    if "@" in parts.netloc or any(c.isspace() for c in url):
        # http://gov.cn@evil.example/ reads as one site and opens another.
        raise TextError("must not carry a user name or spaces")
    return url


def _valid_host(host: str) -> bool:
    if not host:
        return False
    if ":" in host:  # an IPv6 literal (urlsplit has taken the brackets off)
        try:
            ipaddress.IPv6Address(host.split("%")[0])
        except ValueError:
            return False
        return True
    try:
        ascii_host = host.encode("idna").decode("ascii")  # 青岛.中国 is a name too
    except UnicodeError:
        return False
    labels = ascii_host.rstrip(".").split(".")
    return len(ascii_host) <= 253 and all(_LABEL.fullmatch(label) for label in labels)


_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


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
