"""What a report on a deliverable may say: one pure check, each problem with a stable code."""

from dataclasses import dataclass
from datetime import date

from app.domain.deliverables import State
from app.domain.text import NOTE_MAX, URL_MAX, TextError, clean_text, clean_url
from app.domain.times import parse_day
from app.i18n import Text, _, message_of

DOCUMENT_NO_MAX = 100


@dataclass(frozen=True, slots=True)
class ReportInput:
    """A report as sent: every field still text."""

    state: str | None
    done_on: str | None = None
    document_no: str | None = None
    url: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class ValidReport:
    state: State
    done_on: date | None
    document_no: str | None
    url: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class ReportProblem:
    """One reason a report is refused: the field, a stable code, and what to do."""

    field: str
    code: str
    message: Text


def _blank(text: str | None) -> str | None:
    return text.strip() or None if text is not None else None


def _text(name: str, value: str | None, limit: int, problems: list[ReportProblem], *,
          multiline: bool = False) -> str | None:
    value = _blank(value)
    if value is None:
        return None
    if len(value) > limit:
        message = _("{name} has {length} characters; at most {most}.", name=name, length=len(value), most=limit)
        problems.append(ReportProblem(name, f"{name}_too_long", message))
        return value
    try:
        return clean_text(value, multiline=multiline, limit=limit)
    except TextError:
        problems.append(ReportProblem(name, "control_characters", _(
            "{name} contains control, format or bidi characters.", name=name)))
        return value


def _url(value: str | None, problems: list[ReportProblem]) -> str | None:
    value = _blank(value)
    if value is None:
        return None
    if len(value) > URL_MAX:
        problems.append(ReportProblem("url", "url_too_long", _("{name} has {length} characters; at most {most}.",
                                                                 name="url", length=len(value), most=URL_MAX)))
        return value
    try:
        return clean_url(value)
    except TextError:
        problems.append(ReportProblem("url", "bad_url", _("url must be an http:// or https:// address with a valid "
                                                          "host and port.")))
        return value


def _done_on(text: str | None, today: date, problems: list[ReportProblem]) -> date | None:
    text = _blank(text)
    if text is None:
        return None
    try:
        day = parse_day(text)
    except ValueError as exc:
        problems.append(ReportProblem("done_on", "bad_date", message_of(exc)))
        return None
    if day > today:
        problems.append(ReportProblem("done_on", "future_date",
                                      _("done_on {day} is after today ({today}, Asia/Shanghai).", day=day,
                                        today=today)))
    return day


def check_report(raw: ReportInput, *, today: date) -> ValidReport | list[ReportProblem]:
    """The report, normalised, or every problem found in it (nothing may be stored then)."""
    problems: list[ReportProblem] = []
    state: State | None = None
    text = _blank(raw.state)
    if text is None:
        problems.append(ReportProblem("state", "missing_state", _("state is required.")))
    elif text not in State._value2member_map_:
        allowed = ", ".join(s.value for s in State)
        problems.append(ReportProblem("state", "unknown_state", _("Unknown state '{text}'; use one of {allowed}.",
                                                                  text=text[:40], allowed=allowed)))
    else:
        state = State(text)
    done_on = _done_on(raw.done_on, today, problems)
    document_no = _text("document_no", raw.document_no, DOCUMENT_NO_MAX, problems)
    url = _url(raw.url, problems)
    note = _text("note", raw.note, NOTE_MAX, problems, multiline=True)
    if state == State.DONE and done_on is None and _blank(raw.done_on) is None:
        problems.append(ReportProblem("done_on", "done_needs_date", _("A done report needs done_on (YYYY-MM-DD).")))
    if state is not None and state != State.DONE and _blank(raw.done_on) is not None:
        problems.append(ReportProblem("done_on", "date_needs_done", _("done_on is only given with state done.")))
    if state == State.DROPPED and note is None:
        problems.append(ReportProblem("note", "dropped_needs_note",
                                      _("A dropped deliverable needs a note saying why.")))
    if problems or state is None:
        return problems
    return ValidReport(state=state, done_on=done_on, document_no=document_no, url=url, note=note)
