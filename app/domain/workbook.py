"""Reading an uploaded .xlsx into raw rows, safely: no macros, no zip bombs, bounded memory.

The zip's declared member sizes are checked before anything is inflated; Python's zipfile never inflates a
member past its declared size (a lying header ends in a CRC error), so the declared total bounds the work.
openpyxl's read-only mode then streams the sheet XML row by row.
"""

import io
import zipfile
from datetime import date, datetime
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from app.domain.payload import PayloadError, RawRow, TooManyValues, header_fields, media_type, parse
from app.domain.tables import FORMULA_STARTS
from app.i18n import _

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSM = "application/vnd.ms-excel.sheet.macroenabled.12"
TEMPLATE_SHEET = "填报"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Compound File: an encrypted (password-protected) workbook or an .xls
MAX_MEMBERS = 2000
# The cells a clerk enters; a row with none of them is a template row left empty.
_ENTERED = ("value", "numerator", "denominator", "comment")


class Inflated(ValueError):
    """The workbook would inflate beyond the cap (413)."""


class MacroEnabled(ValueError):
    """A workbook carrying VBA macros (415)."""


def parse_upload(body: bytes, content_type: str | None, *, max_values: int, max_uncompressed: int) -> list[RawRow]:
    """Rows of a submission in any accepted form: JSON, CSV or an .xlsx workbook."""
    kind, _charset = media_type(content_type)
    if kind == XLSM:
        raise MacroEnabled(_("Macro-enabled workbooks (.xlsm) are not accepted; save it as a plain .xlsx "
                             "(Excel Workbook)."))
    if kind == XLSX:
        return parse_xlsx(body, max_values=max_values, max_uncompressed=max_uncompressed)
    return parse(body, content_type, max_values=max_values)


def check_archive(body: bytes, *, max_uncompressed: int) -> None:
    """Refuse what must never be opened: not a zip, encrypted, macro-enabled, or too big once inflated."""
    if body.startswith(_OLE):
        raise PayloadError(_("The workbook is password-protected or in the old .xls format; remove the password "
                             "and save it as .xlsx (Excel Workbook)."))
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise PayloadError(_("The workbook is damaged or not an .xlsx file; open it in Excel or WPS and save it "
                             "again as .xlsx.")) from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise Inflated(_("The workbook has {count} parts; at most {most} are accepted.", count=len(members),
                             most=MAX_MEMBERS))
        if any(m.filename.lower().endswith("vbaproject.bin") for m in members):
            raise MacroEnabled(_("The workbook contains macros (VBA); save it as a plain .xlsx (Excel Workbook) "
                                 "without macros."))
        total = sum(m.file_size for m in members)
        if total > max_uncompressed:
            raise Inflated(_("The workbook inflates to {size} bytes; at most {limit} are accepted.", size=total,
                             limit=max_uncompressed))


def parse_xlsx(body: bytes, *, max_values: int, max_uncompressed: int) -> list[RawRow]:
    """Rows of the sheet 填报 (the template), else of the first sheet; the first non-empty row is the header."""
    check_archive(body, max_uncompressed=max_uncompressed)
    # openpyxl on untrusted bytes can fail in many ways (zip, XML, missing parts, odd types): every one of them
    # is the file's fault, answered 400, never a 500.
    try:
        book = load_workbook(io.BytesIO(body), read_only=True, data_only=True, keep_links=False)
    except MemoryError:
        raise  # the parsing process's memory cap: the caller answers it
    except Exception as exc:
        raise _unreadable(exc) from None
    try:
        sheet = book[TEMPLATE_SHEET] if TEMPLATE_SHEET in book.sheetnames else book.worksheets[0]
        # The declared <dimension> is the writer's claim, not the content: read every row the sheet holds.
        sheet.reset_dimensions()
        return _rows(sheet, sheet.title, max_values=max_values)
    except (PayloadError, TooManyValues, MemoryError):
        raise
    except Exception as exc:
        raise _unreadable(exc) from None
    finally:
        book.close()


def _unreadable(exc: Exception) -> PayloadError:
    return PayloadError(_("The workbook cannot be read ({error}); open it in Excel or WPS and save it again as "
                          ".xlsx.", error=type(exc).__name__))


def _rows(sheet: Any, title: str, *, max_values: int) -> list[RawRow]:
    fields: list[str | None] | None = None
    rows: list[RawRow] = []
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        cells = [_text(v) for v in values]
        if not any(c is not None for c in cells):
            continue
        if fields is None:
            fields = header_fields(["" if c is None else str(c) for c in cells], _("sheet {sheet}", sheet=title))
            continue
        record: dict[str, Any] = {}
        where: dict[str, str] = {}
        extra = []
        for col, value in enumerate(cells, start=1):
            field = fields[col - 1] if col <= len(fields) else None
            ref = f"{get_column_letter(col)}{number}"
            if field:
                record[field] = value
                where[field] = ref
            elif col > len(fields) and value is not None:
                extra.append(_("cell {cell}", cell=ref))
        if not extra and all(record.get(f) is None for f in _ENTERED):
            continue  # a template row left empty: nothing to report for that indicator
        if len(rows) >= max_values:
            raise TooManyValues(_("More than {most} rows in one request.", most=max_values))
        rows.append(RawRow(index=len(rows), line=None, sheet=title, row=number, cells=where, extra=tuple(extra),
                           **record))
    if fields is None:
        raise PayloadError(_("Sheet {sheet} is empty; its first row must be the header.", sheet=title))
    return rows


def _text(value: Any) -> Any:
    """A cell as the row rules take it: numbers stay numbers, text is stripped, dates become periods."""
    if value is None:
        return None
    if isinstance(value, str):
        if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
            value = value[1:]  # text the template neutralised (a unit name starting with =) reads back as itself
        return value.strip() or None
    if isinstance(value, datetime | date):
        return f"{value.year}-{value.month:02d}"  # a month typed as a date (Excel turns 2024-07 into one)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return value
