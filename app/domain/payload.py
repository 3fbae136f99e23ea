"""Turning a submission body (JSON or CSV, UTF-8 or GBK) into raw rows. No validation of meaning here."""

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import orjson

from app.i18n import Message, Text, _

CSV_COLUMNS = ("indicator", "unit", "period", "value", "numerator", "denominator", "comment")
ROW_FIELDS = frozenset(CSV_COLUMNS)
IGNORED = "-"

# Column headings a clerk may use, English or Chinese (SPEC "The clerk's desk"); the template's reference
# columns (name, unit of measure, last year's value) are read past, never back.
HEADINGS: dict[str, str] = {
    **{c: c for c in CSV_COLUMNS},
    "指标": "indicator", "指标代码": "indicator",
    "单位": "unit", "区市": "unit",
    "期间": "period",
    "数值": "value", "值": "value",
    "分子": "numerator",
    "分母": "denominator",
    "备注": "comment",
    "计量单位": IGNORED, "指标名称": IGNORED, "上年数值": IGNORED,
}


def column_field(heading: str) -> str | None:
    """The field a column heading names, IGNORED for reference columns, None when unknown."""
    text = heading.strip()
    return HEADINGS.get(text) or HEADINGS.get(text.lower())


class PayloadError(ValueError):
    """The body cannot be read at all (400), with a message a clerk can act on."""


class UnsupportedType(ValueError):
    """Neither JSON nor CSV (415)."""


class TooManyValues(ValueError):
    """More rows than one request may carry (413)."""


@dataclass(frozen=True, slots=True)
class RawRow:
    """One submitted row as given: strings or JSON scalars, nothing checked yet."""

    index: int
    line: int | None
    indicator: Any = None
    unit: Any = None
    period: Any = None
    value: Any = None
    numerator: Any = None
    denominator: Any = None
    comment: Any = None
    extra: tuple[Text, ...] = ()
    # Where a spreadsheet row came from: its sheet, its row number and each field's cell (A1 notation).
    sheet: str | None = None
    row: int | None = None
    cells: Mapping[str, str] | None = None


def media_type(content_type: str | None) -> tuple[str, str | None]:
    """The bare media type and the charset parameter of a Content-Type header."""
    if not content_type:
        return "", None
    parts = [p.strip() for p in content_type.split(";")]
    charset = None
    for p in parts[1:]:
        name, _, value = p.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower() or None
    return parts[0].lower(), charset


def parse(body: bytes, content_type: str | None, *, max_values: int) -> list[RawRow]:
    """Rows of a JSON or CSV submission."""
    kind, charset = media_type(content_type)
    if kind == "application/json" or kind.endswith("+json"):
        return _parse_json(body, max_values=max_values)
    if kind in ("text/csv", "application/csv"):
        return _parse_csv(_decode(body, charset), max_values=max_values)
    raise UnsupportedType(_("Content-Type '{type}' is not accepted; send application/json, text/csv or an .xlsx "
                            "workbook ({xlsx}).", type=content_type or "(none)",
                            xlsx="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))


def _decode(body: bytes, charset: str | None) -> str:
    if charset in (None, "utf-8", "utf8"):
        try:
            return body.decode("utf-8-sig")
        except UnicodeDecodeError:
            if charset is not None:
                raise PayloadError(_("The CSV is not valid UTF-8; save it as UTF-8 or declare charset=gbk.")) from None
    # GB18030 is a superset of GBK and GB2312, which is what Excel and WPS write on Chinese Windows.
    if charset in (None, "gbk", "gb2312", "gb18030", "cp936"):
        try:
            return body.decode("gb18030")
        except UnicodeDecodeError:
            raise PayloadError(_("The CSV is neither UTF-8 nor GBK; save it as UTF-8 (CSV UTF-8 in Excel).")) from None
    raise PayloadError(_("charset '{charset}' is not supported; use utf-8 or gbk.", charset=charset))


def _parse_json(body: bytes, *, max_values: int) -> list[RawRow]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(_("The body is not valid JSON: {error}.", error=str(exc))) from None
    if not isinstance(doc, dict):
        raise PayloadError(_('The body must be a JSON object: {{"unit": …, "period": …, "values": [...]}}.'))
    unknown = sorted(set(doc) - {"unit", "period", "values"})
    if unknown:
        raise PayloadError(_("Unknown top-level field(s): {fields}; expected unit, period, values.",
                             fields=", ".join(unknown)))
    values = doc.get("values")
    if not isinstance(values, list):
        raise PayloadError(_("'values' must be a list of objects."))
    if len(values) > max_values:
        raise TooManyValues(_("{count} values in one request; at most {most} are accepted.", count=len(values),
                              most=max_values))
    unit, period = doc.get("unit"), doc.get("period")
    rows = []
    for i, v in enumerate(values):
        if not isinstance(v, dict):
            rows.append(RawRow(index=i, line=None, extra=(_("(not an object)"),)))
            continue
        v = {column_field(k) or k if isinstance(k, str) else k: x for k, x in v.items()}
        v.pop(IGNORED, None)
        rows.append(RawRow(
            index=i, line=None, indicator=v.get("indicator"), unit=v.get("unit", unit), period=v.get("period", period),
            value=v.get("value"), numerator=v.get("numerator"), denominator=v.get("denominator"),
            comment=v.get("comment"), extra=tuple(sorted(set(v) - ROW_FIELDS)),
        ))
    return rows


def header_fields(header: list[str], what: Message) -> list[str | None]:
    """The field each column feeds (None: a column not read back), trailing empty columns dropped; else 400."""
    names = [h.strip() for h in header]
    while names and not names[-1]:
        names.pop()
    fields = [column_field(n) for n in names]
    read = [f for f in fields if f not in (None, IGNORED)]
    unknown = [n for n, f in zip(names, fields, strict=True) if f is None]
    if unknown or len(set(read)) != len(read) or not {"indicator", "period"} <= set(read):
        raise PayloadError(_(
            "The {what} header must name columns from {columns} (or 指标, 单位, 期间, 数值, 分子, 分母, 备注), "
            "with indicator and period; got: {header}.", what=what, columns=",".join(CSV_COLUMNS),
            header=",".join(header)[:200]))
    return [None if f == IGNORED else f for f in fields]


def _parse_csv(text: str, *, max_values: int) -> list[RawRow]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise PayloadError(_("The CSV is empty; the first line must be the header {columns}.",
                                 columns=",".join(CSV_COLUMNS)))
        fields = header_fields(header, _("CSV"))
        rows: list[RawRow] = []
        line = reader.line_num
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(rows) >= max_values:
                raise TooManyValues(_("More than {most} rows in one request.", most=max_values))
            # Excel and WPS pad rows with empty cells (a trailing comma): only non-empty extra cells count.
            while len(cells) > len(fields) and not cells[-1].strip():
                cells.pop()
            if len(cells) != len(fields):
                shape = _("{cells} cells for {columns} columns", cells=len(cells), columns=len(fields))
                rows.append(RawRow(index=len(rows), line=start, extra=(shape,)))
                continue
            record: dict[str, Any] = {f: (c.strip() or None) for f, c in zip(fields, cells, strict=True) if f}
            rows.append(RawRow(index=len(rows), line=start, **record))
        return rows
    except csv.Error as exc:
        raise PayloadError(_("The CSV cannot be read near line {line}: {error}.", line=reader.line_num,
                             error=str(exc))) from None


def with_default_unit(rows: list[RawRow], unit: str | None) -> list[RawRow]:
    """Rows that name no unit take `unit` (a district key's own): a clerk need not repeat it on every line."""
    if unit is None:
        return rows
    return [replace(r, unit=unit) if r.unit is None or r.unit == "" else r for r in rows]
