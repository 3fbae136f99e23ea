"""The migrations build and tear down both databases; seeding is idempotent and respects admin changes."""

import asyncio
from pathlib import Path

import httpx
from alembic import command
from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import create_engine
from app.db.migrate import alembic_config, downgrade, upgrade
from app.db.models import CatalogRevision, Indicator, Target, Unit, metadata
from app.db.seed import seed
from app.settings import SEEDS_DIR, Settings
from tests.conftest import Keys

API = "/api/v1"


async def _tables(url: str) -> set[str]:
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_migrations_upgrade_downgrade_and_match_the_models(database_url: str) -> None:
    # The fixture's database is already at head (built by the migrations); go down and up again.
    expected = set(metadata.tables)
    assert expected <= await _tables(database_url)
    await asyncio.to_thread(downgrade, database_url, "base")
    assert await _tables(database_url) <= {"alembic_version"}
    await asyncio.to_thread(upgrade, database_url, "head")
    assert expected <= await _tables(database_url)
    # No drift between the models and what the migrations build.
    await asyncio.to_thread(command.check, alembic_config(database_url))


async def _counts(session: AsyncSession) -> dict[str, int]:
    out = {}
    for model in (Indicator, Target, Unit, CatalogRevision):
        out[model.__name__] = (await session.execute(select(func.count()).select_from(model))).scalar_one()
    await session.commit()
    return out


async def test_seeding_twice_changes_nothing(session: AsyncSession) -> None:
    before = await _counts(session)
    async with session.begin():
        report = await seed(session, SEEDS_DIR)
    assert report.total == 0, report.inserted
    assert await _counts(session) == before


async def test_admin_changes_survive_a_reseed(client: httpx.AsyncClient, keys: Keys, session: AsyncSession) -> None:
    h = keys.auth(keys.admin)
    detail = (await client.get(f"{API}/indicators/t09-sister-schools", headers=h)).json()
    (target,) = detail["targets"]
    assert (await client.patch(f"{API}/targets/{target['id']}", json={"value": 600}, headers=h)).status_code == 200
    r = await client.patch(f"{API}/indicators/t09-sister-schools", json={"name_en": "Sister schools abroad"},
                           headers=h)
    assert r.status_code == 200
    net = (await client.get(f"{API}/indicators/t03-campus-network-compliance", headers=h)).json()["targets"][0]
    assert (await client.delete(f"{API}/targets/{net['id']}", headers=h)).status_code == 204
    async with session.begin():
        report = await seed(session, SEEDS_DIR)
    assert report.total == 0, report.inserted
    after = (await client.get(f"{API}/indicators/t09-sister-schools", headers=h)).json()
    assert after["name_en"] == "Sister schools abroad" and after["targets"][0]["value"] == 600
    gone = (await client.get(f"{API}/indicators/t03-campus-network-compliance", headers=h)).json()
    assert gone["targets"] == []
    history = (await client.get(f"{API}/catalog/revisions", params={"entity": "target", "key": str(target["id"])},
                                headers=h)).json()
    assert [r["action"] for r in history] == ["create", "update"]
    assert history[1]["old"]["value"] == 500 and history[1]["data"]["value"] == 600


def test_a_fresh_sqlite_file_is_created_with_its_folder(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/nested/data/attain.db"
    upgrade(url)
    assert (tmp_path / "nested/data/attain.db").exists()
