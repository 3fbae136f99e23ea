"""CSV rendering for reports: UTF-8 with a BOM (so Excel and WPS open Chinese text correctly)."""

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from app.domain.vocabulary import NO, YES
from app.i18n import Message

BOM = "\ufeff"


def to_csv(
    columns: Sequence[tuple[str, str, str]],
    rows: Iterable[dict[str, Any]],
    *,
    chinese: bool,
    words: Mapping[str, Mapping[str, Message]] | None = None,
) -> bytes:
    """columns: (key, English header, Chinese header). Chinese CSV is for people: coded values of the columns in
    `words` become their Chinese words, yes/no 是/否, numbers rounded for display. English CSV keeps full
    precision and the codes. Text that would start a formula is neutralised either way."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([zh if chinese else en for _, en, zh in columns])
    table = words or {}
    for row in rows:
        writer.writerow([_cell(row.get(key), chinese=chinese, words=table.get(key)) for key, _, _ in columns])
    return out.getvalue().encode("utf-8")


def _cell(value: Any, *, chinese: bool, words: Mapping[str, Message] | None) -> str:
    if value is None:
        return ""
    if chinese and words is not None and isinstance(value, str) and value in words:
        return words[value].render("zh")
    if isinstance(value, bool):
        return (YES if value else NO).render("zh") if chinese else ("true" if value else "false")
    if isinstance(value, float):
        return display_number(value) if chinese else repr(value)
    # Only text can smuggle a formula; numbers (negative ones too) are written as numbers.
    return neutralise(value) if isinstance(value, str) else str(value)


def display_number(x: float) -> str:
    """A number as people read it: at most two decimals, no trailing zeros (0.9908163… → 0.99)."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# A text cell a spreadsheet would read as a formula (CSV injection; Excel, WPS and LibreOffice alike).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Text exported to CSV or xlsx that cannot run as a formula: a leading = + - @ tab or CR gets a '."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text
