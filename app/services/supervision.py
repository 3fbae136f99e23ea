"""Supervision of deliverables: progress reports with evidence, extension requests and their decisions (SPEC
"Supervision"). Who may do what is decided here; what a request may say, in app.domain."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.db import deliverables as deliverable_store
from app.db import extensions as extension_store
from app.db import progress as progress_store
from app.db.evidence import FileMeta
from app.db.models_supervision import ExtensionRequest, ProgressReport
from app.domain.audit import Author
from app.domain.catalog import Catalog
from app.domain.evidence import Upload
from app.domain.extensions import (
    NOTE_MAX,
    ExtensionState,
    Problem,
    ValidRequest,
    check_request,
    clean_day,
    clean_text,
    refusal,
)
from app.domain.keys import Principal, Role
from app.domain.progress import NEXT_STEPS_MAX, SUMMARY_MAX
from app.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.i18n import _
from app.services import evidence
from app.services.deliverables import _names, _unknown


def refuse(problems: list[Problem]) -> Unprocessable:
    """One 422 for every problem found, the first one's code on top."""
    first = problems[0]
    return Unprocessable(
        first.message if len(problems) == 1 else _("{count} problems in the request; see errors.",
                                                   count=len(problems)),
        code=first.code,
        errors=[{"location": f"body.{p.field}", "code": p.code, "message": str(p.message)} for p in problems])


async def _department_may_act(session: AsyncSession, catalog: Catalog | None, caller: Principal, code: str) -> None:
    """A department of the deliverable or admin; locks the deliverable's row for the rest of the transaction."""
    if caller.role not in (Role.ADMIN, Role.DEPARTMENT):
        raise Forbidden(_("A {role} key cannot report on plan deliverables; this needs a department key of one "
                          "of its departments, or admin.", role=caller.role.value), code="role_cannot_report")
    found = await deliverable_store.get_for_update(session, code)
    if found is None:
        raise _unknown(code)
    departments = found[1]
    if not caller.may_report_for(departments):
        raise Forbidden(_("Deliverable {code} belongs to {departments}; this key reports for {department}.",
                          code=code, departments=_names(catalog, departments),
                          department=_names(catalog, [caller.department_code or ""])),
                        code="other_department")


@dataclass(frozen=True, slots=True)
class ProgressInput:
    summary: str | None
    percent: str | None = None
    next_steps: str | None = None
    expected_done_on: str | None = None


def _percent(text: str | None, problems: list[Problem]) -> int | None:
    text = text.strip() if text is not None else None
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or not 0 <= int(text) <= 100:
        problems.append(Problem("percent", "bad_percent", _("percent must be a whole number from 0 to 100.")))
        return None
    return int(text)


async def add_progress(session: AsyncSession, catalog: Catalog | None, *, caller: Principal, code: str,
                       fields: ProgressInput, uploads: list[Upload], by: Author
                       ) -> tuple[ProgressReport, list[FileMeta]]:
    """Record a progress report with its evidence files; nothing is stored on any refusal."""
    await _department_may_act(session, catalog, caller, code)
    problems: list[Problem] = []
    summary = clean_text("summary", fields.summary, SUMMARY_MAX, problems, required=True)
    percent = _percent(fields.percent, problems)
    next_steps = clean_text("next_steps", fields.next_steps, NEXT_STEPS_MAX, problems)
    expected = clean_day("expected_done_on", fields.expected_done_on, problems)
    if problems or summary is None:
        raise refuse(problems)
    files = await evidence.keep(session, uploads, by=by, department_code=caller.department_code)
    report = ProgressReport(deliverable_code=code, summary=summary, percent=percent, next_steps=next_steps,
                            expected_done_on=expected, department_code=caller.department_code, key_name=by.key_name)
    return await progress_store.add(session, report, files, by=by), files


async def list_progress(session: AsyncSession, code: str) -> list[tuple[ProgressReport, list[FileMeta]]]:
    if not await deliverable_store.exists(session, code):
        raise _unknown(code)
    return await progress_store.listing(session, code)


async def request_extension(session: AsyncSession, catalog: Catalog | None, *, caller: Principal, code: str,
                            new_deadline: str | None, reason: str | None, progress: str | None,
                            by: Author) -> ExtensionRequest:
    """A department's request to move its deliverable's deadline (SPEC's refusal codes, nothing stored then)."""
    await _department_may_act(session, catalog, caller, code)
    checked = check_request(new_deadline=new_deadline, reason=reason, progress=progress)
    if isinstance(checked, list):
        raise refuse(checked)
    d = next(x for x in await deliverable_store.load(session) if x.code == code)
    if await extension_store.pending_for(session, code) is not None:
        raise Conflict(_("Deliverable {code} already has a pending extension request; wait for its decision.",
                         code=code), code="extension_pending")
    problem = refusal(d, checked, today=clock.today())
    if problem is not None:
        raise refuse([problem])
    return await _create(session, code, d.effective_deadline, checked, caller, by)


async def _create(session: AsyncSession, code: str, effective: date | None, checked: ValidRequest,
                  caller: Principal, by: Author) -> ExtensionRequest:
    assert effective is not None  # refusal() said the deliverable has one
    try:
        async with session.begin_nested():
            return await extension_store.create(
                session, code=code, old_deadline=effective, new_deadline=checked.new_deadline,
                reason=checked.reason, progress=checked.progress, department_code=caller.department_code, by=by)
    except IntegrityError:
        # A concurrent request took the one pending place first.
        raise Conflict(_("Deliverable {code} already has a pending extension request; wait for its decision.",
                         code=code), code="extension_pending") from None


async def decide_extension(session: AsyncSession, *, caller: Principal, extension_id: int, approve: bool,
                           note: str | None, by: Author) -> ExtensionRequest:
    """A leader's (or admin's) decision on a pending request; 409 `review_state` unless it is pending."""
    if caller.role not in (Role.ADMIN, Role.LEADER):
        raise Forbidden(_("A {role} key cannot decide extension requests; this needs a leader or admin key.",
                          role=caller.role.value), code="role_cannot_decide")
    problems: list[Problem] = []
    note = clean_text("note", note, NOTE_MAX, problems)
    if problems:
        raise refuse(problems)
    row = await extension_store.get_for_update(session, extension_id)
    if row is None:
        raise NotFound(_("No extension request {id}.", id=extension_id), code="unknown_extension")
    if row.state != ExtensionState.PENDING.value:
        raise Conflict(_("Extension request {id} is already {state}; only a pending one can be decided.",
                         id=extension_id, state=row.state), code="review_state", state=row.state)
    return await extension_store.decide(
        session, row, ExtensionState.APPROVED if approve else ExtensionState.REJECTED, note=note, by=by)
