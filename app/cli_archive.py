"""`attain export` / `attain import`: the store as one archive, signed with a key the operator keeps, and every
refusal one line on stderr (Chinese, or English with --lang en) with exit status 2 — never a traceback."""

import asyncio
import sys
import zipfile
from pathlib import Path
from typing import Annotated, Any, NoReturn

import asyncpg
import typer
from sqlalchemy.exc import SQLAlchemyError

from app.db.engine import create_engine
from app.db.migrate import upgrade
from app.domain.archive import MIN_KEY, ArchiveError
from app.i18n import LANGS, _
from app.i18n import use as use_lang
from app.settings import Settings, get_settings

KeyFile = Annotated[Path | None, typer.Option(
    "--key-file", help="File holding the archive key (at least 16 characters, e.g. from `openssl rand -hex 32`): "
                       "export signs the manifest with HMAC-SHA256, import accepts only an archive signed with it. "
                       "Give the same file to both; keep it apart from the archives.")]
LangOption = Annotated[str | None, typer.Option("--lang", help="Language of messages: zh or en (default: "
                                                              "ATTAIN_DEFAULT_LANG)")]


def _speak(lang: str | None, settings: Settings) -> None:
    """Messages of this command in `lang` (zh or en), else the service's default language."""
    chosen = lang or settings.default_lang
    if chosen not in LANGS:
        typer.echo(f"error: --lang must be zh or en, not {chosen[:20]}", err=True)
        raise typer.Exit(2)
    use_lang(chosen)  # type: ignore[arg-type]


def _fail(message: object) -> NoReturn:
    """One line on stderr, exit 2: what an operator reads instead of a traceback."""
    text = " ".join(str(message).split())
    typer.echo(str(_("error: {message}", message=text)), err=True)
    raise typer.Exit(2)


def _archive_key(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        _fail(_("the key file cannot be read: {error}", error=exc.strerror or type(exc).__name__))
    if len(key) < MIN_KEY:
        _fail(_("the key file must hold at least {most} characters (e.g. `openssl rand -hex 32 > FILE`)",
                most=MIN_KEY))
    return key


def export(
    file: Annotated[Path, typer.Argument(help="Archive to write (a ZIP of JSON Lines; '-' for stdout)")],
    key_file: KeyFile = None,
    lang: LangOption = None,
) -> None:
    """Write the whole store — catalog, keys' hashes, values, every revision, every table — as one archive."""
    from app.db.archive import export_store

    settings = get_settings()
    _speak(lang, settings)
    key = _archive_key(key_file)

    async def run() -> dict[str, Any]:
        engine = create_engine(settings)
        try:
            if str(file) == "-":
                return await export_store(engine, sys.stdout.buffer, key=key)
            part = file.with_name(file.name + ".part")
            try:
                with open(part, "wb") as out:
                    manifest = await export_store(engine, out, key=key)
            except BaseException:
                part.unlink(missing_ok=True)
                raise
            part.replace(file)  # never a half-written archive under the asked name
            return manifest
        finally:
            await engine.dispose()

    try:
        manifest = asyncio.run(run())
    except ArchiveError as exc:
        _fail(exc)
    except OSError as exc:
        _fail(_("the archive cannot be written: {error}", error=exc.strerror or type(exc).__name__))
    rows = sum(t["rows"] for t in manifest["tables"])
    typer.echo(str(_("exported {rows} rows of {tables} tables (schema {revision})", rows=rows,
                     tables=len(manifest["tables"]), revision=manifest["schema_revision"])), err=True)
    if key is None:
        typer.echo(str(_("warning: the archive is not signed; `attain import` will take it only with "
                         "--trust-unsigned (sign it with --key-file)")), err=True)


def import_(
    file: Annotated[Path, typer.Argument(help="Archive written by `attain export`")],
    key_file: KeyFile = None,
    trust_unsigned: Annotated[bool, typer.Option(
        "--trust-unsigned", help="Import an archive that cannot be authenticated (unsigned, or no --key-file). "
                                 "RISK: whoever could change the file could have added an admin key, changed "
                                 "values or rewritten history, and import would take it all as true. Only for "
                                 "an archive you exported yourself and kept where no one else could write.")
    ] = False,
    lang: LangOption = None,
) -> None:
    """Load an archive into an EMPTY store (migrated first); refuses a store that holds anything, and an archive
    it cannot authenticate."""
    from app.db.archive import import_store

    settings = get_settings()
    _speak(lang, settings)
    key = _archive_key(key_file)
    upgrade(settings.database_url)

    async def run() -> dict[str, Any]:
        engine = create_engine(settings)
        try:
            return await import_store(engine, file, key=key, trust_unsigned=trust_unsigned)
        finally:
            await engine.dispose()

    try:
        manifest = asyncio.run(run())
    except ArchiveError as exc:
        _fail(exc)
    except zipfile.BadZipFile:
        _fail(_("not an attain archive: not a ZIP file"))
    except OSError as exc:
        _fail(_("the archive cannot be read: {error}", error=exc.strerror or type(exc).__name__))
    except (SQLAlchemyError, asyncpg.PostgresError, ValueError, TypeError) as exc:
        # Rows the manifest vouches for (signed, or trusted) that the database still refuses: nothing was kept.
        _fail(_("the archive's rows cannot be stored ({error}); nothing was imported", error=type(exc).__name__))
    rows = sum(t["rows"] for t in manifest["tables"])
    typer.echo(str(_("imported {rows} rows of {tables} tables", rows=rows, tables=len(manifest["tables"]))))
