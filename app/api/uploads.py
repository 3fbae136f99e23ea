"""One multipart/form-data reader for every upload (progress reports' evidence, replies to 批示): form fields and
files, with the limits enforced while the body streams in — a file or request over its limit, or one file too
many, is refused before the rest is read."""

import hashlib
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from app.domain.evidence import MAX_FILE_BYTES, MAX_FILES, MAX_REQUEST_BYTES, Upload
from app.errors import AppError, BadRequest, PayloadTooLarge, Unprocessable, UnsupportedMediaType
from app.i18n import _

FILES_FIELD = "files"
# A text field longer than this is no form a person filled in (each field's own limit is checked later).
FIELD_MAX_BYTES = 64 * 1024
MIB = 1024 * 1024


@dataclass(slots=True)
class Form:
    """Text fields (first value of each name), files in order, and the fingerprint of what was sent: each part's
    name, text value and file SHA-256 — never the boundary, which clients change on every retry."""

    fields: dict[str, str] = field(default_factory=dict)
    files: list[Upload] = field(default_factory=list)
    digest: "hashlib._Hash" = field(default_factory=hashlib.sha256)

    @property
    def fingerprint(self) -> bytes:
        return self.digest.hexdigest().encode()


def _too_large_file(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(_("A file is larger than {limit} MiB; split it or compress it.", limit=limit // MIB),
                           code="file_too_large")


def _too_large_request(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(_("The upload is larger than {limit} MiB; send the files in several reports.",
                             limit=limit // MIB), code="file_too_large")


class _Reader:
    def __init__(self, form: Form, *, max_file: int, max_files: int) -> None:
        self.form, self.max_file, self.max_files = form, max_file, max_files
        self.headers: dict[bytes, bytes] = {}
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.name: str | None = None
        self.filename: str | None = None
        self.is_file = False
        self.data = bytearray()

    def on_part_begin(self) -> None:
        self.headers, self.data = {}, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[bytes(self.header_field).lower()] = bytes(self.header_value)
        self.header_field, self.header_value = bytearray(), bytearray()

    def on_headers_finished(self) -> None:
        kind, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        if kind != b"form-data" or b"name" not in options:
            raise BadRequest(_("Every part of the form needs a Content-Disposition naming it."),
                             code="bad_multipart")
        self.name = options[b"name"].decode("utf-8", "replace")
        raw = options.get(b"filename")
        self.is_file = raw is not None or self.name == FILES_FIELD
        self.filename = raw.decode("utf-8", "replace") if raw is not None else None
        if self.is_file and len(self.form.files) >= self.max_files:
            raise Unprocessable(_("At most {most} files may be sent at once.", most=self.max_files),
                                code="too_many_files")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self.data += data[start:end]
        if self.is_file and len(self.data) > self.max_file:
            raise _too_large_file(self.max_file)
        if not self.is_file and len(self.data) > FIELD_MAX_BYTES:
            raise Unprocessable(_("The form field {name} is too long.", name=(self.name or "")[:40]),
                                code="field_too_long")

    def on_part_end(self) -> None:
        name = self.name or ""
        h = self.form.digest
        h.update(b"F" if self.is_file else b"T")
        h.update(name.encode() + b"\0")
        if self.is_file:
            data = bytes(self.data)
            h.update(hashlib.sha256(data).hexdigest().encode() + b"\0")
            self.form.files.append(Upload(name=self.filename, data=data))
            return
        try:
            text = self.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(_("The form field {name} is not UTF-8 text.", name=name[:40]),
                             code="bad_encoding") from exc
        h.update(text.encode() + b"\0")
        self.form.fields.setdefault(name, text)


async def _urlencoded(request: Request) -> Form:
    # A report without files may come as a plain form; same fields, same fingerprint as its multipart twin.
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > FIELD_MAX_BYTES * 4:
            raise Unprocessable(_("The form is too long."), code="field_too_long")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise BadRequest(_("The form is not UTF-8 text."), code="bad_encoding") from exc
    form = Form()
    for name, value in pairs:
        form.digest.update(b"T" + name.encode() + b"\0" + value.encode() + b"\0")
        form.fields.setdefault(name, value)
    return form


async def read_form(request: Request, *, max_file: int = MAX_FILE_BYTES, max_files: int = MAX_FILES,
                    max_request: int = MAX_REQUEST_BYTES) -> Form:
    """The request's multipart form, read within the limits (413 `file_too_large`, 422 `too_many_files`,
    415 when the body is no multipart form, 400 when it cannot be parsed)."""
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind == b"application/x-www-form-urlencoded":
        return await _urlencoded(request)
    if kind != b"multipart/form-data" or not boundary:
        raise UnsupportedMediaType(_("Send the report as multipart/form-data (fields, and files named 'files')."),
                                   code="unsupported_media_type")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_request:
        raise _too_large_request(max_request)
    form = Form()
    reader = _Reader(form, max_file=max_file, max_files=max_files)
    callbacks = {name: getattr(reader, name) for name in (
        "on_part_begin", "on_part_data", "on_part_end", "on_header_field", "on_header_value", "on_header_end",
        "on_headers_finished")}
    parser = MultipartParser(boundary, callbacks, max_header_count=16)  # type: ignore[arg-type]
    seen = 0
    try:
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > max_request:
                raise _too_large_request(max_request)
            parser.write(chunk)
        parser.finalize()
    except (AppError, ClientDisconnect):
        raise
    except Exception as exc:  # noqa: BLE001 — the parser's own errors: a body that is no valid form
        raise BadRequest(_("The multipart body could not be read."), code="bad_multipart") from exc
    return form
