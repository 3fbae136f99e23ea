"""CSV rendering for reports: UTF-8 with a BOM (so Excel and WPS open Chinese text correctly)."""

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

BOM = "\ufeff"


def to_csv(columns: Sequence[tuple[str, str, str]], rows: Iterable[dict[str, Any]], *, chinese: bool) -> bytes:
    """columns: (key, English header, Chinese header)."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([zh if chinese else en for _, en, zh in columns])
    for row in rows:
        writer.writerow(["" if row.get(key) is None else _cell(row.get(key)) for key, _, _ in columns])
    return out.getvalue().encode("utf-8")


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    # Only text can smuggle a formula; numbers (negative ones too) are written as numbers.
    return neutralise(value) if isinstance(value, str) else str(value)


# What Excel, WPS and LibreOffice take for the start of a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Text exported to CSV or xlsx that cannot run as a formula: a leading = + - @ tab or CR gets a '."""
    return "'" + text if text.startswith(_FORMULA_START) else text
