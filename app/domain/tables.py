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


# A text cell a spreadsheet would read as a formula (CSV injection): shown as text once prefixed with '.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Text a spreadsheet will not evaluate."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return neutralise(str(value))
