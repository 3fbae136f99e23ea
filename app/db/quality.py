"""Quality flag rows and the kept yearly values they compare."""

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Integer, String, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db.bulk import cells_in, chunks
from app.db.models import QualityFlag, Unit, YearlyValue
from app.db.types import utcnow

Y = YearlyValue.__table__  # type: ignore[attr-defined]
U = Unit.__table__  # type: ignore[attr-defined]
Cell = tuple[str, str, int]


async def group_values(session: AsyncSession, groups: Iterable[tuple[str, str | None, int]]
                       ) -> dict[Cell, float]:
    """Own kept values of every unit in the given (indicator, parent, year) sibling groups — read by parent, so a
    district's hundreds of schools are one indexed look-up, not a list of codes. A None parent is the root."""
    wanted = sorted(set(groups), key=lambda g: (g[0], g[1] or "", g[2]))
    out: dict[Cell, float] = {}
    with_parent = [(i, p, y) for i, p, y in wanted if p is not None]
    for part in chunks(with_parent):
        stmt = (select(Y.c.indicator_code, Y.c.unit_code, Y.c.year, Y.c.value)
                .join(U, U.c.code == Y.c.unit_code)
                .where(tuple_(Y.c.indicator_code, U.c.parent_code, Y.c.year).in_(list(part)), Y.c.own.is_(True)))
        for ind, unit, year, value in await session.execute(stmt):
            out[(ind, unit, year)] = value
    roots = [(i, y) for i, p, y in wanted if p is None]
    for top in chunks(roots):
        stmt = (select(Y.c.indicator_code, Y.c.unit_code, Y.c.year, Y.c.value)
                .join(U, U.c.code == Y.c.unit_code)
                .where(tuple_(Y.c.indicator_code, Y.c.year).in_(list(top)), U.c.parent_code.is_(None),
                       Y.c.own.is_(True)))
        for ind, unit, year, value in await session.execute(stmt):
            out[(ind, unit, year)] = value
    return out


async def flags_of(session: AsyncSession, cells: Sequence[Cell]) -> dict[tuple[str, str, int, str], QualityFlag]:
    out: dict[tuple[str, str, int, str], QualityFlag] = {}
    cols = (col(QualityFlag.indicator_code), col(QualityFlag.unit_code), col(QualityFlag.year))
    for where in cells_in(session, cols, sorted(set(cells)), (String, String, Integer)):
        for f in (await session.execute(select(QualityFlag).where(where))).scalars():
            out[(f.indicator_code, f.unit_code, f.year, f.code)] = f
    return out


def upsert(session: AsyncSession, existing: QualityFlag | None, cell: Cell, code: str, value: float,
           figures: dict[str, Any]) -> None:
    """Open a flag, or reopen it when the value it was about changed (a confirmation was of the old value)."""
    now = utcnow()
    if existing is None:
        session.add(QualityFlag(indicator_code=cell[0], unit_code=cell[1], year=cell[2], code=code, state="open",
                                value=value, figures=figures, created_at=now, updated_at=now))
        return
    if existing.state == "cleared" or existing.value != value:
        existing.state, existing.note, existing.confirmed_by = "open", None, None
    existing.value, existing.figures, existing.updated_at = value, figures, now


def clear(existing: QualityFlag) -> None:
    if existing.state != "cleared":
        existing.state, existing.updated_at = "cleared", utcnow()


async def listing(session: AsyncSession, *, indicator: str | None, units: set[str] | None, year: int | None,
                  state: str | None) -> list[QualityFlag]:
    stmt = select(QualityFlag).order_by(col(QualityFlag.indicator_code), col(QualityFlag.unit_code),
                                        col(QualityFlag.year), col(QualityFlag.code))
    if indicator is not None:
        stmt = stmt.where(col(QualityFlag.indicator_code) == indicator)
    if year is not None:
        stmt = stmt.where(col(QualityFlag.year) == year)
    if state is not None:
        stmt = stmt.where(col(QualityFlag.state) == state)
    return [f for f in (await session.execute(stmt)).scalars() if units is None or f.unit_code in units]
