"""Progress reports in the store: appended, never edited, listed newest first with their files' metadata."""

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db import evidence
from app.db.evidence import FileMeta
from app.db.models_supervision import ProgressReport, ProgressReportFile
from app.domain.audit import Author


async def add(session: AsyncSession, report: ProgressReport, files: list[FileMeta], *, by: Author) -> ProgressReport:
    """Keep a progress report and link its files, in the caller's transaction."""
    report.key_name, report.key_id = by.key_name, by.key_id
    report.request_id, report.client_request_id = by.request_id, by.client_request_id
    session.add(report)
    await session.flush()
    for i, f in enumerate(files):
        session.add(ProgressReportFile(progress_report_id=report.id or 0, file_id=f.id, position=i))
    await session.flush()
    return report


async def listing(session: AsyncSession, code: str) -> list[tuple[ProgressReport, list[FileMeta]]]:
    """A deliverable's progress reports, newest first, each with its files in the order sent."""
    reports = list((await session.execute(
        select(ProgressReport).where(col(ProgressReport.deliverable_code) == code)
        .order_by(col(ProgressReport.id).desc()))).scalars())
    ids = [r.id for r in reports if r.id is not None]
    links: dict[int, list[int]] = defaultdict(list)
    if ids:
        for rid, fid in await session.execute(
                select(col(ProgressReportFile.progress_report_id), col(ProgressReportFile.file_id))
                .where(col(ProgressReportFile.progress_report_id).in_(ids)).order_by(col(ProgressReportFile.position))):
            links[rid].append(fid)
    meta = await evidence.metadata(session, [f for fs in links.values() for f in fs])
    return [(r, [meta[f] for f in links.get(r.id or 0, []) if f in meta]) for r in reports]
