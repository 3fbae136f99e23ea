"""An admin's correction of a deliverable (PATCH /deliverables/{code}): title, deadline, departments,
progress_days and progress_from, kept as a revision that holds the whole corrected deliverable. A patched
deadline replaces the original one (an approved extension stays effective while it is later)."""

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import deliverables as store
from app.db.models_supervision import DeliverableEdit
from app.domain.audit import Author
from app.domain.catalog import Catalog
from app.domain.extensions import Problem, clean_day, clean_text
from app.errors import Unprocessable
from app.i18n import _
from app.services.deliverables import _unknown
from app.services.supervision import refuse

TITLE_MAX = 1000
PROGRESS_DAYS_MAX = 366
FIELDS = ("title", "deadline", "departments", "progress_days", "progress_from")


@dataclass(frozen=True, slots=True)
class Edited:
    edit: DeliverableEdit | None  # None when the patch repeated what the deliverable says


def _departments(catalog: Catalog, given: Any, problems: list[Problem]) -> list[str] | None:
    if not isinstance(given, list) or not given or len(given) > 20 or not all(isinstance(x, str) for x in given):
        problems.append(Problem("departments", "bad_departments",
                                _("departments must be a list of 1 to 20 department codes or names.")))
        return None
    out: list[str] = []
    for text in given:
        code = catalog.resolve_department(text[:100])
        if code is None:
            problems.append(Problem("departments", "unknown_department",
                                    _("Unknown department '{text}'.", text=text[:40])))
        elif code not in out:
            out.append(code)
    return out


def _progress_days(given: Any, problems: list[Problem]) -> int | None:
    if isinstance(given, bool) or not isinstance(given, int) or not 1 <= given <= PROGRESS_DAYS_MAX:
        problems.append(Problem("progress_days", "bad_progress_days",
                                _("progress_days must be a whole number from 1 to {most}.", most=PROGRESS_DAYS_MAX)))
        return None
    return given


def _day(name: str, given: Any, problems: list[Problem]) -> date | None:
    if given is not None and not isinstance(given, str):
        problems.append(Problem(name, "bad_date", _("{name} must be a date (YYYY-MM-DD) or null.", name=name)))
        return None
    return clean_day(name, given, problems)


async def patch_deliverable(session: AsyncSession, catalog: Catalog, code: str, patch: dict[str, Any], *,
                            by: Author) -> Edited:
    """Apply the fields present in `patch`; one revision per change, nothing stored on a refusal."""
    unknown = sorted(set(patch) - set(FIELDS))
    if unknown or not patch:
        raise Unprocessable(_("A correction may change {fields}; nothing else.", fields=", ".join(FIELDS)),
                            code="bad_patch")
    found = await store.get_for_update(session, code)
    if found is None:
        raise _unknown(code)
    current = next(d for d in await store.load(session) if d.code == code)
    edit_in_force = await store.latest_edit(session, code)
    new: dict[str, Any] = {
        "title": current.title, "deadline": current.deadline, "departments": list(current.departments),
        "progress_days": current.progress_days,
        "progress_from": edit_in_force.progress_from if edit_in_force else None,
    }
    problems: list[Problem] = []
    if "title" in patch:
        title = clean_text("title", patch["title"] if isinstance(patch["title"], str) else None, TITLE_MAX,
                           problems, required=True)
        new["title"] = title or new["title"]
    if "deadline" in patch:
        new["deadline"] = _day("deadline", patch["deadline"], problems)
    if "departments" in patch:
        new["departments"] = _departments(catalog, patch["departments"], problems) or new["departments"]
    if "progress_days" in patch:
        new["progress_days"] = _progress_days(patch["progress_days"], problems) or new["progress_days"]
    if "progress_from" in patch:
        new["progress_from"] = _day("progress_from", patch["progress_from"], problems)
    if problems:
        raise refuse(problems)
    old = {"title": current.title, "deadline": current.deadline, "departments": list(current.departments),
           "progress_days": current.progress_days,
           "progress_from": edit_in_force.progress_from if edit_in_force else None}
    changed = [f for f in FIELDS if new[f] != old[f]]
    if not changed:
        return Edited(edit=None)
    edit = DeliverableEdit(deliverable_code=code, changed=changed, **new, **by.columns())
    session.add(edit)
    await session.flush()
    return Edited(edit=edit)
