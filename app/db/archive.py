"""`attain export` / `attain import`: the whole store, every table of the schema, as one canonical archive
(app.domain.archive), streamed both ways so memory stays bounded whatever the number of rows.

Generic over the SQLAlchemy metadata: a table added to app/db/models.py is exported and imported with no change
here. Export reads every table in one snapshot (REPEATABLE READ on PostgreSQL, one read transaction on SQLite).
Import needs an empty store at the archive's schema revision; it inserts in dependency order in one
transaction, parents before children within a self-referencing table, and moves PostgreSQL's id sequences past
the imported ids.
"""

import hashlib
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, Any

import orjson
from alembic.script import ScriptDirectory
from sqlalchemy import JSON, Column, Date, DateTime, Integer, LargeBinary, String, Table, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db.migrate import alembic_config
from app.db.models import metadata
from app.domain.archive import FORMAT, MANIFEST, VERSION, ZIP_TIME, ArchiveError, Kind, member_name, row_codec

BATCH = 5_000


def head_revision() -> str:
    """The schema revision this code builds."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def kind_of(column: Column[Any]) -> Kind:
    t = column.type
    if isinstance(t, JSON):
        return Kind.JSON
    if isinstance(t, DateTime) or isinstance(getattr(t, "impl", None), DateTime):
        return Kind.TIMESTAMP
    if isinstance(t, Date):
        return Kind.DATE
    if isinstance(t, LargeBinary):
        return Kind.BYTES
    return Kind.PLAIN


def _batch(table: Table) -> int:
    # A row holding a file may hold 20 MiB: such tables travel a few rows at a time.
    return 4 if any(kind_of(c) is Kind.BYTES for c in table.columns) else BATCH


def tables() -> list[Table]:
    """Every table of the schema, parents before children — but the service's own secrets: an archive holding
    the session signing key would let whoever reads it forge a web session (an import makes a new one)."""
    return [t for t in metadata.sorted_tables if t.info.get("archived", True)]


def _ordered(table: Table, dialect: str) -> Any:
    keys = list(table.primary_key.columns) or list(table.columns)
    # Bytewise order for text on PostgreSQL too, whatever the database's collation.
    return [c.collate("C") if dialect == "postgresql" and isinstance(c.type, String) else c for c in keys]


async def _revision(conn: AsyncConnection) -> str | None:
    try:
        return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    except Exception:  # noqa: BLE001 — no alembic_version table: an unmigrated database
        return None


async def _rows(conn: AsyncConnection, table: Table) -> AsyncIterator[list[Any]]:
    kinds = [kind_of(c) for c in table.columns]
    out = row_codec(kinds, out=True)
    json_at = [i for i, k in enumerate(kinds) if k is Kind.JSON]
    stmt = select(*table.columns).order_by(*_ordered(table, conn.dialect.name))
    if conn.dialect.name == "postgresql":
        # asyncpg's own cursor, in the snapshot's transaction: several times faster than SQLAlchemy's rows.
        apg = (await conn.get_raw_connection()).driver_connection
        sql = str(stmt.compile(dialect=conn.dialect))
        async for record in apg.cursor(sql, prefetch=_batch(table)):  # type: ignore[union-attr]
            row = out(record)
            for i in json_at:  # json may arrive as text (the codec set on the connection); the archive holds JSON
                if isinstance(row[i], str | bytes):
                    row[i] = orjson.loads(row[i])
            yield row
        return
    result = await conn.stream(stmt)
    async for part in result.partitions(_batch(table)):
        for values in part:
            yield out(values)


async def export_store(engine: AsyncEngine, out: IO[bytes]) -> dict[str, Any]:
    """Write the archive of the whole store to `out` (a binary file); returns the manifest."""
    manifest: dict[str, Any] = {"format": FORMAT, "version": VERSION, "tables": []}
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            manifest["schema_revision"] = await _revision(conn)
            if manifest["schema_revision"] != head_revision():
                raise ArchiveError(f"the database is at schema revision {manifest['schema_revision']}, this attain "
                                   f"at {head_revision()}: run `attain migrate` first")
            with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
                for position, table in enumerate(tables()):
                    name = member_name(position, table.name)
                    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
                    info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
                    digest, count = hashlib.sha256(), 0
                    with archive.open(info, "w", force_zip64=True) as member:
                        async for row in _rows(conn, table):
                            line = orjson.dumps(row, option=orjson.OPT_SORT_KEYS) + b"\n"
                            member.write(line)
                            digest.update(line)
                            count += 1
                    manifest["tables"].append({
                        "name": table.name, "member": name, "columns": [c.name for c in table.columns],
                        "primary_key": [c.name for c in table.primary_key.columns], "rows": count,
                        "sha256": digest.hexdigest(),
                    })
                info = zipfile.ZipInfo(MANIFEST, date_time=ZIP_TIME)
                info.external_attr = 0o644 << 16
                archive.writestr(info, orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n",
                                 compress_type=zipfile.ZIP_DEFLATED)
    return manifest


def read_manifest(archive: zipfile.ZipFile) -> dict[str, Any]:
    """The manifest, checked against this code's schema."""
    try:
        manifest: dict[str, Any] = orjson.loads(archive.read(MANIFEST))
    except (KeyError, orjson.JSONDecodeError):
        raise ArchiveError(f"not an attain archive: no readable {MANIFEST}") from None
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ArchiveError(f"not an {FORMAT} version {VERSION} archive")
    head = head_revision()
    if manifest.get("schema_revision") != head:
        raise ArchiveError(f"the archive's schema revision is {manifest.get('schema_revision')}, this attain's is "
                           f"{head}: import it with the attain version that exported it, then upgrade")
    ours = {t.name: t for t in tables()}
    theirs = {t["name"]: t for t in manifest["tables"]}
    if set(ours) != set(theirs):
        raise ArchiveError(f"tables differ from the schema: {sorted(set(ours) ^ set(theirs))}")
    for name, entry in theirs.items():
        if entry["columns"] != [c.name for c in ours[name].columns]:
            raise ArchiveError(f"columns of {name} differ from the schema")
    return manifest


async def _is_empty(conn: AsyncConnection) -> list[str]:
    # Preset tables are filled by the migrations themselves (the day a feature was installed): an import
    # replaces their rows with the archived store's.
    return [t.name for t in tables() if not t.info.get("preset")
            and (await conn.execute(select(func.count()).select_from(t))).scalar()]


def _lines(archive: zipfile.ZipFile, entry: dict[str, Any]) -> Iterator[list[Any]]:
    digest, count = hashlib.sha256(), 0
    with archive.open(entry["member"]) as member:
        for line in member:
            digest.update(line)
            count += 1
            yield orjson.loads(line)
    if count != entry["rows"] or digest.hexdigest() != entry["sha256"]:
        raise ArchiveError(f"{entry['member']} is damaged: {count} rows read, its checksum does not match")


def _parents_first(table: Table, rows: list[list[Any]]) -> list[list[Any]]:
    """Rows of a self-referencing table (units under units) so that every parent precedes its children."""
    at = {c.name: i for i, c in enumerate(table.columns)}
    links = [(at[fk.parent.name], at[fk.column.name]) for fk in table.foreign_keys if fk.column.table is table]
    done: set[tuple[int, Any]] = set()
    out: list[list[Any]] = []
    pending = rows
    while pending:
        ready = [r for r in pending if all(r[c] is None or (ref, r[c]) in done for c, ref in links)]
        if not ready:
            raise ArchiveError(f"{table.name}: rows refer to parents that are not in the archive")
        for r in ready:
            out.append(r)
            done.update((ref, r[ref]) for _, ref in links)
        ready_ids = {id(r) for r in ready}
        pending = [r for r in pending if id(r) not in ready_ids]
    return out


async def import_store(engine: AsyncEngine, path: Path) -> dict[str, Any]:
    """Load an archive into an empty store at the same schema revision; returns its manifest."""
    with zipfile.ZipFile(path) as archive:
        manifest = read_manifest(archive)
        ours = {t.name: t for t in tables()}
        async with engine.begin() as conn:
            if await _revision(conn) != manifest["schema_revision"]:
                raise ArchiveError("the database is not at the archive's schema revision; run `attain migrate`")
            if filled := await _is_empty(conn):
                raise ArchiveError(f"the store is not empty ({', '.join(filled)} hold rows); import needs an empty one")
            for entry in manifest["tables"]:
                await _load(conn, ours[entry["name"]], archive, entry)
            if conn.dialect.name == "postgresql":
                await _move_sequences(conn)
    return manifest


async def _load(conn: AsyncConnection, table: Table, archive: zipfile.ZipFile, entry: dict[str, Any]) -> None:
    kinds = [kind_of(c) for c in table.columns]
    decode_row = row_codec(kinds, out=False)
    if table.info.get("preset"):
        await conn.execute(delete(table))
    rows: Iterator[list[Any]] = (decode_row(values) for values in _lines(archive, entry))
    if any(fk.column.table is table for fk in table.foreign_keys):
        # A self-referencing table (the unit tree: thousands of rows at most) is held whole to order it.
        rows = iter(_parents_first(table, list(rows)))
    batch: list[list[Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= _batch(table):
            await _insert(conn, table, batch)
            batch = []
    if batch:
        await _insert(conn, table, batch)


async def _insert(conn: AsyncConnection, table: Table, batch: list[list[Any]]) -> None:
    names = [c.name for c in table.columns]
    if conn.dialect.name != "postgresql":
        await conn.execute(table.insert(), [dict(zip(names, r, strict=True)) for r in batch])
        return
    # COPY, in the import's transaction: an order of magnitude faster than INSERT for millions of rows.
    apg = (await conn.get_raw_connection()).driver_connection
    for i, c in enumerate(table.columns):
        if kind_of(c) is Kind.JSON:  # the connection's json codec takes text
            for r in batch:
                if r[i] is not None:
                    r[i] = orjson.dumps(r[i]).decode()
    await apg.copy_records_to_table(table.name, records=batch, columns=names)  # type: ignore[union-attr]


async def _move_sequences(conn: AsyncConnection) -> None:
    for table in tables():
        pk = list(table.primary_key.columns)
        if len(pk) == 1 and isinstance(pk[0].type, Integer) and pk[0].autoincrement in (True, "auto"):
            seq = (await conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                      {"t": table.name, "c": pk[0].name})).scalar()
            if seq:
                await conn.execute(text(f"SELECT setval('{seq}', COALESCE((SELECT MAX({pk[0].name}) FROM "
                                        f"{table.name}), 0) + 1, false)"))
