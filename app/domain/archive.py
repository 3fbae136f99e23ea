"""The store archive's canonical form: how each kind of column value is written and read back.

An archive is a ZIP file: `tables/NNN-<table>.jsonl` for every table of the schema in foreign-key dependency
order (NNN is that order), each line a JSON array of one row's values in the table's column order, rows in
primary-key order (strings compared bytewise); `manifest.json` last, naming the format, the schema revision,
and per table its columns, primary key, row count and the SHA-256 of its member. Values: integers and floats as
JSON numbers (floats in the shortest form that reads back to the same double, so a number comes out as it was
written), text as JSON strings, booleans as true/false, dates as "YYYY-MM-DD", timestamps in UTC with
microseconds ("2026-11-30T02:35:51.123456Z"), JSON columns as JSON with sorted keys, NULL as null. Members are
deflated with a fixed timestamp, so the same store always gives the same bytes, whichever database holds it.
`manifest.hmac`, when the archive was exported with a key, holds the HMAC-SHA256 of the manifest's exact bytes:
as the manifest names every member's row count and SHA-256, it authenticates the whole archive.
"""

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from app.i18n import _

FORMAT = "attain-archive"
VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.hmac"
# The shortest archive key accepted: 16 characters (`openssl rand -hex 32` gives 64).
MIN_KEY = 16
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
    """An archive that cannot be read or imported here, with the reason (a Message: Chinese or English)."""


def sign(manifest: bytes, key: bytes) -> str:
    """The signature member's text: HMAC-SHA256 of the manifest's bytes, hex."""
    return hmac.new(key, manifest, hashlib.sha256).hexdigest() + "\n"


def authenticate(manifest: bytes, signature: bytes | None, *, key: bytes | None, trust_unsigned: bool) -> None:
    """Whether an archive may be imported: signed with `key`, or taken unsigned because the operator said so."""
    if key is not None and signature is not None:
        if not hmac.compare_digest(signature.strip(), sign(manifest, key).strip().encode()):
            raise ArchiveError(_("The archive's signature does not match this key: it was changed after export, "
                                 "or exported with another key."))
        return
    if trust_unsigned:
        return
    if key is not None:
        raise ArchiveError(_("The archive is not signed; export it with --key-file, or import it with "
                             "--trust-unsigned if you are sure where it came from."))
    raise ArchiveError(_("The archive cannot be authenticated without its key: give --key-file (the file given to "
                         "export), or --trust-unsigned."))


_HEX64 = re.compile(r"[0-9a-f]{64}")


def check_manifest(manifest: Any) -> list[dict[str, Any]]:
    """The manifest's table entries, each checked for shape: a malformed manifest is an ArchiveError, never a
    KeyError or TypeError further on."""
    entries = manifest.get("tables") if isinstance(manifest, dict) else None
    if not isinstance(entries, list):
        raise ArchiveError(_("The manifest lists no tables."))
    names: set[str] = set()
    for position, entry in enumerate(entries):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            raise ArchiveError(_("Table entry {position} of the manifest has no name.", position=position))
        if name in names:
            raise ArchiveError(_("The manifest lists table {table} twice.", table=name[:64]))
        names.add(name)
        if entry.get("member") != member_name(position, name):
            raise ArchiveError(_("The manifest's member for table {table} is not {member}.", table=name[:64],
                                 member=member_name(position, name)))
        checksum, rows = entry.get("sha256"), entry.get("rows")
        if not isinstance(checksum, str) or not _HEX64.fullmatch(checksum):
            raise ArchiveError(_("The manifest has no valid checksum for table {table}.", table=name[:64]))
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
            raise ArchiveError(_("The manifest has no valid row count for table {table}.", table=name[:64]))
        columns = entry.get("columns")
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise ArchiveError(_("The manifest has no valid columns for table {table}.", table=name[:64]))
    return entries


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
    """One row's values encoded (out) or decoded, converting only the columns that need it (a value that cannot
    be decoded raises ValueError or TypeError)."""
    table = ENCODERS if out else DECODERS
    fns = [(i, table[k]) for i, k in enumerate(kinds) if table[k] is not None]

    def convert(values: Sequence[Any]) -> list[Any]:
        row = list(values)
        for i, fn in fns:
            if row[i] is not None:
                row[i] = fn(row[i])  # type: ignore[misc]
        return row

    return convert
