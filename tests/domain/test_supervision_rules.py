"""Supervision's pure rules: evidence types from bytes, extended deadlines, progress due days, lights."""

import io
import zipfile
from datetime import date, timedelta

from app.domain.deliverables import Deliverable, DeliverableStatus, Report, State, status_on
from app.domain.evidence import FileType, display_name, sniff, upload_deadline
from app.domain.extensions import ValidRequest, check_request, refusal
from app.domain.lights import Light, deliverable_light, target_light
from app.domain.progress import progress_due_on, progress_overdue, recent_progress

S = DeliverableStatus
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _zip(*names: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n in names:
            z.writestr(n, "<x/>")
    return buf.getvalue()


def test_types_come_from_the_bytes_only() -> None:
    assert sniff(PDF) == FileType.PDF
    assert sniff(b"\x89PNG\r\n\x1a\n" + b"\0" * 20) == FileType.PNG
    assert sniff(b"\xff\xd8\xff\xe0" + b"\0" * 20) == FileType.JPEG
    assert sniff(_zip("[Content_Types].xml", "word/document.xml")) == FileType.DOCX
    assert sniff(_zip("[Content_Types].xml", "xl/workbook.xml")) == FileType.XLSX


def test_what_is_refused() -> None:
    assert sniff(b"<!DOCTYPE html><html><script>alert(1)</script></html>") is None  # HTML named .pdf
    assert sniff(b"MZ\x90\x00" + b"\0" * 60) is None  # a Windows executable
    assert sniff(b"\x7fELF\x02\x01\x01") is None
    assert sniff(_zip("[Content_Types].xml", "readme.txt")) is None  # a ZIP that is neither
    assert sniff(_zip("[Content_Types].xml", "xl/workbook.xml", "xl/vbaProject.bin")) is None  # macros
    assert sniff(PDF + b"<html><body onload=alert(1)></body></html>") is None  # PDF/HTML polyglot
    assert sniff(b"") is None


def test_display_names_and_upload_deadline() -> None:
    assert display_name("C:\\Users\\张三\\进展.pdf", FileType.PDF) == "进展.pdf"
    assert display_name("../../etc/passwd\x00", FileType.PDF) == "passwd"
    assert display_name(None, FileType.JPEG) == "file.jpg"
    assert upload_deadline(1024, floor_seconds=30) == 30
    assert upload_deadline(100 * 1024 * 1024, floor_seconds=30) == 400


def _done(day: date) -> Report:
    return Report(state=State.DONE, done_on=day)


def test_done_after_extension_keeps_on_time_for_the_original_deadline() -> None:
    deadline, extended = date(2027, 3, 31), date(2027, 6, 30)
    on = date(2027, 12, 1)
    assert status_on(deadline=deadline, report=_done(deadline), on=on, extended_to=extended) == S.DONE_ON_TIME
    assert status_on(deadline=deadline, report=_done(deadline + timedelta(1)), on=on,
                     extended_to=extended) == S.DONE_AFTER_EXTENSION
    assert status_on(deadline=deadline, report=_done(extended), on=on, extended_to=extended) == S.DONE_AFTER_EXTENSION
    assert status_on(deadline=deadline, report=_done(extended + timedelta(1)), on=on,
                     extended_to=extended) == S.DONE_LATE
    # Not done: the extended date is the one that counts, the day before and after it.
    assert status_on(deadline=deadline, report=Report(), on=extended, extended_to=extended) == S.DUE_SOON
    assert status_on(deadline=deadline, report=Report(), on=extended + timedelta(1), extended_to=extended) == S.OVERDUE
    # A patched deadline later than the extension overtakes it.
    assert status_on(deadline=date(2027, 9, 30), report=_done(date(2027, 8, 1)), on=on,
                     extended_to=extended) == S.DONE_ON_TIME


def _deliverable(**kw: object) -> Deliverable:
    base: dict[str, object] = {"code": "r01-1", "row": 1, "n": 1, "title": "t", "deadline": date(2027, 6, 30),
                               "departments": ("jijiao",), "tasks": (1,), "progress_from": date(2027, 1, 1)}
    return Deliverable(**{**base, **kw})  # type: ignore[arg-type]


def test_progress_is_due_every_progress_days_from_the_last_report() -> None:
    d = _deliverable(progress_days=30)
    assert progress_due_on(d, date(2027, 1, 15)) == date(2027, 1, 31)
    assert not progress_overdue(d, date(2027, 1, 31))  # just inside
    assert progress_overdue(d, date(2027, 2, 1))  # just outside
    d = _deliverable(progress_days=30, progress_reported=(date(2027, 1, 20), date(2027, 3, 1)))
    assert progress_due_on(d, date(2027, 2, 10)) == date(2027, 2, 19)  # the later report is not yet made then
    assert progress_overdue(d, date(2027, 2, 20)) and not progress_overdue(d, date(2027, 3, 1))
    assert recent_progress(d, date(2027, 3, 31)) and not recent_progress(d, date(2027, 4, 1))
    assert not progress_overdue(d, date(2026, 12, 31))  # before the count starts
    assert not progress_overdue(_deliverable(deadline=None), date(2027, 6, 1))  # nothing due without a deadline
    assert not progress_overdue(_deliverable(report=_done(date(2027, 1, 2))), date(2027, 6, 1))  # done


def test_extension_refusals() -> None:
    req = check_request(new_deadline="2027-09-30", reason="会签", progress=None)
    assert isinstance(req, ValidRequest)
    d = _deliverable()
    assert refusal(d, req, today=date(2027, 6, 30)) is None
    too_late = refusal(d, req, today=date(2027, 7, 1))
    assert too_late is not None and too_late.code == "too_late"
    same = check_request(new_deadline="2027-06-30", reason="x", progress=None)
    assert isinstance(same, ValidRequest)
    not_later = refusal(d, same, today=date(2027, 6, 1))
    assert not_later is not None and not_later.code == "deadline_not_later"
    for bad in (_deliverable(deadline=None), _deliverable(report=_done(date(2027, 1, 5)))):
        found = refusal(bad, req, today=date(2027, 2, 1))
        assert found is not None and found.code == "not_extendable"
    problems = check_request(new_deadline="1999-12-31", reason="a\x07b", progress="p" * 2001)
    assert isinstance(problems, list)
    assert {p.code for p in problems} == {"date_out_of_range", "control_characters", "progress_too_long"}


def test_lights_first_rule_wins() -> None:
    def light(status: S, **kw: bool) -> Light:
        flags = {"extension_pending": False, "progress_overdue": False, "recent_progress": True,
                 "instruction_overdue": False, **kw}
        return deliverable_light(status=status, **flags)

    assert light(S.OVERDUE, extension_pending=True) == Light.RED
    assert light(S.DONE_ON_TIME, instruction_overdue=True) == Light.RED
    assert light(S.DONE_LATE) == light(S.DONE_AFTER_EXTENSION) == Light.YELLOW
    assert light(S.NOT_DUE, extension_pending=True) == light(S.NOT_DUE, progress_overdue=True) == Light.YELLOW
    assert light(S.DUE_SOON, recent_progress=False) == Light.YELLOW
    assert light(S.DUE_SOON) == Light.GREEN
    assert light(S.NOT_DUE) == light(S.STANDING) == light(S.DROPPED) == Light.GREY
    assert light(S.DONE) == light(S.DONE_ON_TIME) == Light.GREEN
    assert target_light(status="missed", instruction_overdue=False) == Light.RED
    assert target_light(status="off_track", instruction_overdue=False) == Light.RED
    assert target_light(status="at_risk", instruction_overdue=False) == Light.YELLOW
    assert target_light(status="no_data", instruction_overdue=False) == Light.GREY
    assert target_light(status="insufficient_data", instruction_overdue=False) == Light.GREY
    assert target_light(status="achieved", instruction_overdue=True) == Light.RED
    assert target_light(status="on_track", instruction_overdue=False) == Light.GREEN
