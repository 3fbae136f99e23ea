"""The store archive's canonical form: how each kind of column value is written and read back.

An archive is a ZIP file: `tables/NNN-<table>.jsonl` for every table of the schema in foreign-key dependency
order (NNN is that order), each line a JSON array of one row's values in the table's column order, rows in
primary-key order (strings compared bytewise); `manifest.json` last, naming the format, the schema revision,
and per table its columns, primary key, row count and the SHA-256 of its member. Values: integers and floats as
JSON numbers (floats in the shortest form that reads back to the same double, so a number comes out as it was
written), text as JSON strings, booleans as true/false, dates as "YYYY-MM-DD", timestamps in UTC with
microseconds ("2026-11-30T02:35:51.123456Z"), JSON columns as JSON with sorted keys, NULL as null. Members are
deflated with a fixed timestamp, so the same store always gives the same bytes, whichever database holds it.
"""

import base64
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

FORMAT = "attain-archive"
VERSION = 1
MANIFEST = "manifest.json"
# Every member carries this time: a ZIP entry's timestamp must not make two exports of one store differ.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class Kind(StrEnum):
    """How a column's values are written."""

    PLAIN = "plain"  # integers, floats, text, booleans: JSON as they are
    DATE = "date"
    TIMESTAMP = "timestamp"
    JSON = "json"
    BYTES = "bytes"  # evidence files: base64, so the archive gives back the very same bytes


class ArchiveError(ValueError):
    """An archive that cannot be read or imported here, with the reason."""


def member_name(position: int, table: str) -> str:
    """The archive member holding one table's rows."""
    return f"tables/{position:03d}-{table}.jsonl"


def _timestamp_out(value: datetime) -> str:
    if value.tzinfo is None:  # stored naive means stored in UTC (app.db.types.UTCDateTime)
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _bytes_out(value: bytes | memoryview) -> str:
    return base64.b64encode(bytes(value)).decode("ascii")


ENCODERS: dict[Kind, Callable[[Any], Any] | None] = {
    Kind.PLAIN: None, Kind.JSON: None, Kind.TIMESTAMP: _timestamp_out, Kind.DATE: date.isoformat,
    Kind.BYTES: _bytes_out,
}
DECODERS: dict[Kind, Callable[[Any], Any] | None] = {
    Kind.PLAIN: None, Kind.JSON: None, Kind.TIMESTAMP: datetime.fromisoformat, Kind.DATE: date.fromisoformat,
    Kind.BYTES: base64.b64decode,
}


def encode(kind: Kind, value: Any) -> Any:
    """A column value as the archive writes it."""
    fn = ENCODERS[kind]
    return value if value is None or fn is None else fn(value)


def decode(kind: Kind, value: Any) -> Any:
    """An archive value as the database takes it (timestamps aware, in UTC)."""
    fn = DECODERS[kind]
    return value if value is None or fn is None else fn(value)


def row_codec(kinds: list[Kind], *, out: bool) -> Callable[[Sequence[Any]], list[Any]]:
    """One row's values encoded (out) or decoded, converting only the columns that need it."""
    table = ENCODERS if out else DECODERS
    fns = [(i, table[k]) for i, k in enumerate(kinds) if table[k] is not None]

    def convert(values: Sequence[Any]) -> list[Any]:
        row = list(values)
        for i, fn in fns:
            if row[i] is not None:
                row[i] = fn(row[i])  # type: ignore[misc]
        return row

    return convert
