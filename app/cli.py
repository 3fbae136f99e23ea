"""attain serve | migrate | seed | keys | simulate."""

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import cli_archive as archive_cli
from app.db import keys as key_store
from app.db import yearly_rebuild
from app.db.catalog import read_catalog
from app.db.engine import create_engine, create_session_factory
from app.db.migrate import upgrade
from app.db.models import Action, Deliverable, Measurement, YearlyValue
from app.db.seed import seed as load_seed
from app.db.types import utcnow
from app.domain.keys import Role, is_active, parse_expiry
from app.domain.text import TextError, clean_label, clean_line
from app.settings import Settings, get_settings

cli = typer.Typer(help="attain: Qingdao Ten Action Plans targets and attainment.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
keys_cli = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
cli.add_typer(keys_cli, name="keys")

T = TypeVar("T")


def _in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(settings)
        try:
            async with create_session_factory(engine, write=True)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def write_secret(path: Path, token: str) -> None:
    """Write a key to a file only its owner can read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token)
    os.chmod(path, 0o600)


async def _rebuild_kept_rows(session: AsyncSession) -> int:
    # Kept rows are derived data: a migration that changes their layout empties them, and they are rebuilt here.
    if (await session.execute(select(col(YearlyValue.year)).limit(1))).first() is not None:
        return 0
    if (await session.execute(select(col(Measurement.id)).limit(1))).first() is None:
        return 0
    await yearly_rebuild.hold_tables(session)
    from app.db.rollup import first_stamp
    from app.services import rollup

    since = await first_stamp(session) or utcnow()
    return await rollup.rebuild(session, await read_catalog(session), since=since)


def _migrate(settings: Settings) -> None:
    upgrade(settings.database_url)
    rebuilt = _in_session(settings, _rebuild_kept_rows)
    if rebuilt:
        typer.echo(f"kept yearly rows rebuilt from the stored values ({rebuilt} rows)")


@cli.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    _migrate(get_settings())
    typer.echo("database migrated")


@cli.command()
def seed() -> None:
    """Load the catalog from seeds/ (idempotent; admin changes are kept)."""
    settings = get_settings()
    report = _in_session(settings, lambda s: load_seed(s, settings.seeds_dir))
    summary = ", ".join(f"{k} {v}" for k, v in sorted(report.inserted.items())) or "nothing new"
    typer.echo(f"seeded: {summary}")


def bootstrap(settings: Settings) -> None:
    """Migrate, seed an empty catalog, and create the first admin key if there is none."""
    _migrate(settings)

    async def work(session: AsyncSession) -> str | None:
        # An upgraded store gets what is new in seeds/ (deliverables) without waiting for `attain seed`.
        if ((await session.execute(select(col(Action.number)).limit(1))).first() is None
                or (await session.execute(select(col(Deliverable.code)).limit(1))).first() is None):
            report = await load_seed(session, settings.seeds_dir)
            typer.echo(f"catalog seeded ({report.total} rows)")
        if await key_store.count_keys(session):
            return None
        _, token = await key_store.create_key(session, name="bootstrap admin", role=Role.ADMIN, unit_code=None)
        return token

    token = _in_session(settings, work)
    if token:
        if settings.bootstrap_key_file:
            write_secret(Path(settings.bootstrap_key_file), token)
            typer.echo(f"first start: admin API key written to {settings.bootstrap_key_file}")
        else:
            typer.echo("first start: an admin API key was created. It is shown only this once:\n")
            typer.echo(f"    {token}\n")


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes")] = None,
) -> None:
    """Migrate, seed if empty, and serve the HTTP API."""
    from app import server

    settings = get_settings()
    bootstrap(settings)
    n = workers or settings.workers
    if n > 1:
        from app.metrics import prepare_multiprocess

        prepare_multiprocess()
    typer.echo(f"serving on http://{host or settings.host}:{port or settings.port}")
    # uvicorn re-raises SIGTERM once its graceful shutdown is done; a finished shutdown is a clean exit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.run(settings, host=host or settings.host, port=port or settings.port, workers=n)


def _expires(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_expiry(text, now=utcnow())
    except ValueError as exc:
        typer.echo(f"error: --expires: {exc}", err=True)
        raise typer.Exit(2) from None


def _hand_over(token: str, out: Path | None, what: str) -> None:
    if out:
        write_secret(out, token)
        typer.echo(f"{what} written to {out}")
    else:
        typer.echo(token)


def _checked(option: str, value: str | None, rule: Callable[[str], str]) -> str | None:
    """A text option through the rule every text field passes (app.domain.text), or exit 2 saying why."""
    if value is None:
        return None
    try:
        return rule(value)
    except TextError as exc:
        typer.echo(f"error: {option} {exc}", err=True)
        raise typer.Exit(2) from None


@keys_cli.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="admin, bureau, district, department, reviewer, leader or scraper")],
    name: Annotated[str, typer.Option(help="Who holds the key, e.g. 黄岛区教体局 (unique among active keys)")],
    unit: Annotated[str | None, typer.Option(help="Unit code a district key is bound to")] = None,
    department: Annotated[str | None, typer.Option(help="Department (code, name or alias) a department key is "
                                                        "bound to, e.g. 基教处")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the key to this file (mode 0600)")] = None,
    expires: Annotated[str | None, typer.Option(help="Last day of validity (2027-06-30, Asia/Shanghai) or an "
                                                     "RFC 3339 instant; default: no expiry")] = None,
) -> None:
    """Create a key; it is shown (or written) once and only its hash is stored."""
    settings = get_settings()
    expires_at = _expires(expires)
    name = _checked("--name", name, clean_label) or name
    unit = _checked("--unit", unit, clean_line)
    department = _checked("--department", department, clean_line)
    try:
        row, token = _in_session(settings, lambda s: key_store.create_key(s, name=name, role=role, unit_code=unit,
                                                                           department=department,
                                                                           expires_at=expires_at))
    except key_store.KeyError_ as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    _hand_over(token, out, f"key {row.id} ({role.value})")


@keys_cli.command("rotate")
def keys_rotate(
    key_id: Annotated[int, typer.Argument(help="Key id from `attain keys list`")],
    out: Annotated[Path | None, typer.Option(help="Write the new key to this file (mode 0600)")] = None,
    expires: Annotated[str | None, typer.Option(help="Expiry of the new key, as for create")] = None,
) -> None:
    """A new key of the same name, role and unit; the old one keeps working for the grace period only."""
    settings = get_settings()
    grace = timedelta(hours=settings.key_rotation_grace_hours)
    expires_at = _expires(expires)
    try:
        old, new, token = _in_session(settings, lambda s: key_store.rotate(s, key_id=key_id, grace=grace,
                                                                           expires_at=expires_at))
    except key_store.KeyError_ as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"key {old.id} now expires at {old.expires_at:%Y-%m-%d %H:%M:%S}Z; its replacement is key {new.id}",
               err=True)
    _hand_over(token, out, f"key {new.id} ({new.role})")


@keys_cli.command("list")
def keys_list() -> None:
    """List keys (never the keys themselves): id, role, unit, prefix, state, last use, name."""
    rows = _in_session(get_settings(), key_store.list_keys)
    now = utcnow()
    for r in rows:
        if r.revoked_at:
            state = f"revoked {r.revoked_at:%Y-%m-%d}"
        elif not is_active(revoked_at=None, expires_at=r.expires_at, now=now):
            state = f"expired {r.expires_at:%Y-%m-%d}"
        elif r.expires_at:
            state = f"active until {r.expires_at:%Y-%m-%d %H:%M}Z" + (f" (rotated to {r.replaced_by})"
                                                                       if r.replaced_by else "")
        else:
            state = "active"
        used = f"{r.last_used_at:%Y-%m-%d %H:%M}Z" if r.last_used_at else "never used"
        bound = r.unit_code or r.department_code or "-"
        typer.echo(f"{r.id}\t{r.role}\t{bound}\t{r.prefix}\t{state}\t{used}\t{r.name}")


@keys_cli.command("revoke")
def keys_revoke(
    key_id: Annotated[int | None, typer.Argument(help="Key id from `attain keys list`")] = None,
    name: Annotated[str | None, typer.Option(help="Revoke every key with this name")] = None,
) -> None:
    """Revoke a key by id or by name."""
    if key_id is None and name is None:
        typer.echo("error: give a key id or --name", err=True)
        raise typer.Exit(2)
    n = _in_session(get_settings(), lambda s: key_store.revoke(s, key_id=key_id, name=name))
    typer.echo(f"revoked {n} key(s)")
    if n == 0:
        raise typer.Exit(1)


cli.command("export")(archive_cli.export)
cli.command("import")(archive_cli.import_)


@cli.command()
def simulate(
    url: Annotated[str, typer.Option(help="Base URL of a running attain")] = "http://127.0.0.1:8000",
    admin_key_file: Annotated[Path | None, typer.Option(help="File holding an admin key")] = None,
    admin_key: Annotated[str | None, typer.Option(envvar="ATTAIN_ADMIN_KEY", help="An admin key")] = None,
    first: Annotated[int, typer.Option(help="First year")] = 2018,
    last: Annotated[int, typer.Option(help="Last year (must have ended)")] = 2025,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed posts the same values")] = 2019,
    force: Annotated[bool, typer.Option(help="Post even when the store holds values simulate did not write")] = False,
) -> None:
    """Post SYNTHETIC values for every indicator, as the ten districts' systems would (demo data)."""
    from app import simulate as sim

    key = admin_key or (admin_key_file.read_text().strip() if admin_key_file else None)
    if not key:
        typer.echo("error: give --admin-key-file or ATTAIN_ADMIN_KEY", err=True)
        raise typer.Exit(2)
    try:
        summary = asyncio.run(sim.run(url, key, first=first, last=last, seed=seed, force=force))
    except sim.ForeignValues as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for unit, counts in summary.items():
        typer.echo(f"{unit}\t{counts}")
    typer.echo("posted synthetic values and deliverable reports (comment/note: 'synthetic (attain simulate)'); "
               "the keys it made are revoked")


def main() -> None:
    """Console entry point."""
    cli()


@cli.command()
def remind(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be sent; store nothing")] = False,
    day: Annotated[str | None, typer.Option("--date", help="The day to judge (YYYY-MM-DD); default today")] = None,
) -> None:
    """Print, in Chinese, the reminders, 催办 and notices due today (or on --date) and not yet sent."""
    from datetime import date as date_

    from app import clock
    from app.services.reminders import dry_run as plan

    if not dry_run:
        typer.echo("only --dry-run is offered: every `attain serve` sends reminders itself", err=True)
        raise typer.Exit(2)
    try:
        on = date_.fromisoformat(day) if day else clock.today()
    except ValueError:
        typer.echo(f"--date must be YYYY-MM-DD, not {(day or '')[:40]!r}", err=True)
        raise typer.Exit(2) from None
    settings = get_settings()
    notices = _in_session(settings, lambda s: plan(s, day=on, public_url=settings.public_url))
    names = {"department": "处室", "unit": "单位", "role": "角色"}
    typer.echo(f"{on.isoformat()} 将发送 {len(notices)} 条提醒（试运行，未保存）")
    for n in notices:
        typer.echo(f"- [{names[n.recipient.kind.value]} {n.recipient.code}] {n.title}\n  {n.body}"
                   + (f"\n  {n.link}" if n.link else ""))


if __name__ == "__main__":
    main()
