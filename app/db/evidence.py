"""Evidence files in the store: kept once per upload with SHA-256 and size, read back byte for byte. Owners
(progress reports, replies to 批示) link to them by id; nothing here knows its owners."""

import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models_supervision import EvidenceFile
from app.domain.audit import Author
from app.domain.evidence import FileType

T = EvidenceFile.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Checked:
    """A file whose type was decided from its bytes, with the name to show."""

    name: str
    type: FileType
    data: bytes


@dataclass(frozen=True, slots=True)
class FileMeta:
    id: int
    name: str
    type: str
    size: int
    sha256: str


async def store(session: AsyncSession, files: list[Checked], *, by: Author,
                department_code: str | None) -> list[FileMeta]:
    """Keep the files, in the caller's transaction; their metadata in the order given."""
    out = []
    for f in files:
        row = EvidenceFile(sha256=hashlib.sha256(f.data).hexdigest(), size=len(f.data), type=f.type.value,
                           name=f.name, content=f.data, key_name=by.key_name, key_id=by.key_id,
                           department_code=department_code, request_id=by.request_id)
        session.add(row)
        await session.flush()
        out.append(FileMeta(id=row.id or 0, name=row.name, type=row.type, size=row.size, sha256=row.sha256))
    return out


async def metadata(session: AsyncSession, ids: list[int]) -> dict[int, FileMeta]:
    """The metadata (never the bytes) of the given files."""
    if not ids:
        return {}
    rows = await session.execute(select(T.c.id, T.c.name, T.c.type, T.c.size, T.c.sha256).where(T.c.id.in_(ids)))
    return {r.id: FileMeta(id=r.id, name=r.name, type=r.type, size=r.size, sha256=r.sha256) for r in rows}


async def content(session: AsyncSession, file_id: int) -> tuple[FileMeta, bytes] | None:
    """One file's metadata and bytes."""
    r = (await session.execute(select(T).where(T.c.id == file_id))).first()
    if r is None:
        return None
    return FileMeta(id=r.id, name=r.name, type=r.type, size=r.size, sha256=r.sha256), bytes(r.content)
