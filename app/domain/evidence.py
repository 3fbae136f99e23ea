"""Evidence files (佐证材料): what a file is, decided from its own bytes (never its name or declared type).

Accepted: PDF, DOCX, XLSX, PNG, JPEG. Refused: anything else — an HTML page named .pdf, an executable, a ZIP that
is neither a Word document nor a workbook (or one carrying macros), and a file of an accepted kind that also holds
HTML (a polyglot a browser could be talked into rendering).
"""

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from enum import StrEnum

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_FILES = 10
MAX_REQUEST_BYTES = 100 * 1024 * 1024
# Uploads may take longer than the ordinary body deadline: max(30 s, size ÷ this rate).
UPLOAD_BYTES_PER_SECOND = 256 * 1024
NAME_MAX = 255


class FileType(StrEnum):
    PDF = "pdf"
    DOCX = "docx"
    XLSX = "xlsx"
    PNG = "png"
    JPEG = "jpeg"


MEDIA_TYPES = {
    FileType.PDF: "application/pdf",
    FileType.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    FileType.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    FileType.PNG: "image/png",
    FileType.JPEG: "image/jpeg",
}
EXTENSIONS = {FileType.PDF: ".pdf", FileType.DOCX: ".docx", FileType.XLSX: ".xlsx", FileType.PNG: ".png",
              FileType.JPEG: ".jpg"}

# What makes a browser treat bytes as a page: any of these anywhere in an accepted file refuses it.
_HTML = re.compile(rb"<(?:!doctype\s+html|html|head|body|script|iframe|svg|object|embed|meta\s)", re.IGNORECASE)


def _office(data: bytes) -> FileType | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    if "[Content_Types].xml" not in names or any(n.lower().endswith("vbaproject.bin") for n in names):
        return None
    if "word/document.xml" in names:
        return FileType.DOCX
    if "xl/workbook.xml" in names:
        return FileType.XLSX
    return None


def sniff(data: bytes) -> FileType | None:
    """The file's type from its bytes, or None when it is not one attain accepts."""
    if data.startswith(b"%PDF-"):
        kind: FileType | None = FileType.PDF
    elif data.startswith(b"\x89PNG\r\n\x1a\n"):
        kind = FileType.PNG
    elif data.startswith(b"\xff\xd8\xff"):
        kind = FileType.JPEG
    elif data.startswith(b"PK\x03\x04"):
        kind = _office(data)
    else:
        kind = None
    # An Office file's parts are deflated, so a scan of its raw bytes finds nothing real: only the others are read.
    if kind in (FileType.PDF, FileType.PNG, FileType.JPEG) and _HTML.search(data):
        return None
    return kind


def display_name(raw: str | None, kind: FileType) -> str:
    """The name kept for display: its last path segment, without control or format characters, at most NAME_MAX
    characters; a file sent without one is named after its type."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf")).strip()
    if not name or name in (".", ".."):
        name = "file" + EXTENSIONS[kind]
    return name[:NAME_MAX]


@dataclass(frozen=True, slots=True)
class Upload:
    """One file as received: the name the client gave and the bytes."""

    name: str | None
    data: bytes


def upload_deadline(size: int, *, floor_seconds: float) -> float:
    """Seconds an upload of `size` bytes may take to arrive."""
    return max(floor_seconds, size / UPLOAD_BYTES_PER_SECOND)
