"""Evidence files (佐证材料) for any owner — progress reports now, replies to 批示 next: check each upload's type
from its bytes and keep the files; the owner links to the ids returned."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import evidence
from app.db.evidence import Checked, FileMeta
from app.domain.audit import Author
from app.domain.evidence import Upload, display_name, sniff
from app.errors import UnsupportedMediaType
from app.i18n import _


def check_files(uploads: list[Upload]) -> list[Checked]:
    """Each file's type from its bytes; 415 `file_type` for the first that is not PDF, DOCX, XLSX, PNG or JPEG."""
    out = []
    for i, u in enumerate(uploads):
        kind = sniff(u.data)
        if kind is None:
            raise UnsupportedMediaType(
                _("File {index} ({name}) is not a PDF, Word (.docx), Excel (.xlsx), PNG or JPEG file.",
                  index=i + 1, name=(u.name or "")[:80]), code="file_type")
        out.append(Checked(name=display_name(u.name, kind), type=kind, data=u.data))
    return out


async def keep(session: AsyncSession, uploads: list[Upload], *, by: Author,
               department_code: str | None) -> list[FileMeta]:
    """Check and store the uploads in the caller's transaction (nothing is stored when one is refused)."""
    return await evidence.store(session, check_files(uploads), by=by, department_code=department_code)
