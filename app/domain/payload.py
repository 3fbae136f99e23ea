"""Turning a submission body (JSON or CSV, UTF-8 or GBK) into raw rows. No validation of meaning here."""

import csv
import io
from dataclasses import dataclass
from typing import Any

import orjson

CSV_COLUMNS = ("indicator", "unit", "period", "value", "numerator", "denominator", "comment")
ROW_FIELDS = frozenset(CSV_COLUMNS)


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
    extra: tuple[str, ...] = ()


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
    raise UnsupportedType(
        f"Content-Type '{content_type or '(none)'}' is not accepted; send application/json or text/csv."
    )


def _decode(body: bytes, charset: str | None) -> str:
    if charset in (None, "utf-8", "utf8"):
        try:
            return body.decode("utf-8-sig")
        except UnicodeDecodeError:
            if charset is not None:
                raise PayloadError("The CSV is not valid UTF-8; save it as UTF-8 or declare charset=gbk.") from None
    # GB18030 is a superset of GBK and GB2312, which is what Excel and WPS write on Chinese Windows.
    if charset in (None, "gbk", "gb2312", "gb18030", "cp936"):
        try:
            return body.decode("gb18030")
        except UnicodeDecodeError:
            raise PayloadError("The CSV is neither UTF-8 nor GBK; save it as UTF-8 (CSV UTF-8 in Excel).") from None
    raise PayloadError(f"charset '{charset}' is not supported; use utf-8 or gbk.")


def _parse_json(body: bytes, *, max_values: int) -> list[RawRow]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"The body is not valid JSON: {exc}.") from None
    if not isinstance(doc, dict):
        raise PayloadError('The body must be a JSON object: {"unit": …, "period": …, "values": [...]}.')
    unknown = sorted(set(doc) - {"unit", "period", "values"})
    if unknown:
        raise PayloadError(f"Unknown top-level field(s): {', '.join(unknown)}; expected unit, period, values.")
    values = doc.get("values")
    if not isinstance(values, list):
        raise PayloadError("'values' must be a list of objects.")
    if len(values) > max_values:
        raise TooManyValues(f"{len(values)} values in one request; at most {max_values} are accepted.")
    unit, period = doc.get("unit"), doc.get("period")
    rows = []
    for i, v in enumerate(values):
        if not isinstance(v, dict):
            rows.append(RawRow(index=i, line=None, extra=("(not an object)",)))
            continue
        rows.append(RawRow(
            index=i, line=None, indicator=v.get("indicator"), unit=v.get("unit", unit), period=v.get("period", period),
            value=v.get("value"), numerator=v.get("numerator"), denominator=v.get("denominator"),
            comment=v.get("comment"), extra=tuple(sorted(set(v) - ROW_FIELDS)),
        ))
    return rows


def _parse_csv(text: str, *, max_values: int) -> list[RawRow]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise PayloadError("The CSV is empty; the first line must be the header " + ",".join(CSV_COLUMNS) + ".")
        names = [h.strip().lower() for h in header]
        unknown = [n for n in names if n not in ROW_FIELDS]
        if unknown or len(set(names)) != len(names) or not {"indicator", "period"} <= set(names):
            raise PayloadError(
                "The CSV header must name columns from " + ",".join(CSV_COLUMNS)
                + f" (indicator and period required); got: {','.join(header)}."
            )
        rows: list[RawRow] = []
        line = reader.line_num
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(rows) >= max_values:
                raise TooManyValues(f"More than {max_values} rows in one request.")
            if len(cells) != len(names):
                shape = f"{len(cells)} cells for {len(names)} columns"
                rows.append(RawRow(index=len(rows), line=start, extra=(shape,)))
                continue
            record: dict[str, Any] = {n: (c.strip() or None) for n, c in zip(names, cells, strict=True)}
            rows.append(RawRow(index=len(rows), line=start, **record))
        return rows
    except csv.Error as exc:
        raise PayloadError(f"The CSV cannot be read near line {reader.line_num}: {exc}.") from None
