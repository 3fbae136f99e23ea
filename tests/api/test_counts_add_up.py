"""Every row sent is stored, left unchanged or rejected: for random rows, good and bad, sent as JSON, CSV or an
.xlsx workbook, the answer's counts add up to the rows sent, and the rows kept are exactly those counted."""

import csv
import io
import re
import zipfile
from typing import Any

import httpx
import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.workbook import XLSX
from tests.api.helpers import GROSS, HUANGDAO, RATE, SEMESTER, SHINAN, STOCK, count_rows, post
from tests.api.test_clerk_hostile import repack
from tests.conftest import Keys

FIELDS = ("indicator", "unit", "period", "value", "numerator", "denominator", "comment")
numbers = st.one_of(
    st.integers(-5, 150), st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from([0, 1e300, -1e16, 10**400, "9" * 400, "1,234", "1.5e3", "abc", " ", "NaN", "inf", "12%"]),
)
text = st.one_of(st.sampled_from(["", "说明", "=1+1", "-x", "line\nbreak", "\u202eevil", "x" * 1001]),
                 st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=12))
row = st.fixed_dictionaries({
    "indicator": st.sampled_from([RATE, STOCK, GROSS, SEMESTER, "t99-nope", " ",
                                  "中小学校在线学习及移动办公校园网络基础建设达标率"]),
    "unit": st.sampled_from([HUANGDAO, SHINAN, "黄岛区", "370200", "999999", ""]),
    "period": st.sampled_from(["2019", "2020", "2021", "2020S1", "2020H3", "2099", "next year", ""]),
    "value": st.one_of(st.none(), numbers),
    "numerator": st.one_of(st.none(), numbers),
    "denominator": st.one_of(st.none(), numbers),
    "comment": st.one_of(st.none(), text),
})


def entered(r: dict[str, Any]) -> bool:
    """A row carries something to report (a workbook row without any is a template row left blank)."""
    return any(r[f] not in (None, "") and str(r[f]).strip() for f in ("value", "numerator", "denominator", "comment"))


def as_csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(FIELDS)
    for r in rows:
        writer.writerow(["" if r[f] is None else r[f] for f in FIELDS])
    return out.getvalue().encode()


def as_xlsx(rows: list[dict[str, Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(FIELDS)
    for number, r in enumerate(rows, start=2):
        for col, f in enumerate(FIELDS, start=1):
            value = r[f]
            cell = sheet.cell(number, col)
            if isinstance(value, str):
                cell.value, cell.data_type = value, "s"  # text stays text, never a formula
            elif isinstance(value, int) and abs(value) > 10**300:
                cell.value, cell.data_type = str(value), "n"  # a numeric cell beyond float's range
            else:
                cell.value = value
    out = io.BytesIO()
    book.save(out)
    # The declared dimension claims one data row whatever the sheet holds (a writer may get it wrong).
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as z:
        sheet_xml = z.read("xl/worksheets/sheet1.xml").decode()
    lying = re.sub(r'<dimension ref="[^"]*"', '<dimension ref="A1:G2"', sheet_xml, count=1)
    return repack(out.getvalue(), replace={"xl/worksheets/sheet1.xml": lying.encode()})


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=st.lists(row.filter(entered), min_size=1, max_size=8), form=st.sampled_from(["json", "csv", "xlsx"]),
       atomic=st.booleans(), dry_run=st.booleans())
async def test_counts_add_up_to_the_rows_sent(
    client: httpx.AsyncClient, keys: Keys, session: AsyncSession, rows: list[dict[str, Any]], form: str,
    atomic: bool, dry_run: bool,
) -> None:
    body: dict[str, Any] | bytes
    if form == "json":
        body = {"values": [{k: v for k, v in r.items() if v is not None} for r in rows]}
        if any(isinstance(v, int) and abs(v) > 10**300 for r in rows for v in r.values()):
            body = {"values": [{k: str(v) if isinstance(v, int) else v for k, v in r.items() if v is not None}
                               for r in rows]}  # JSON numbers past float's range are not JSON (400)
    else:
        body = as_csv(rows) if form == "csv" else as_xlsx(rows)
    revisions = await count_rows(session, "measurement_revisions")
    r = await post(client, keys.admin, body, content_type=XLSX if form == "xlsx" else None, atomic=atomic,
                   dry_run=dry_run)
    assert r.status_code in (200, 422), r.text
    counts = r.json()["counts"]
    assert sum(counts.values()) == len(rows), (counts, rows)
    stored = 0 if dry_run else counts["created"] + counts["updated"]
    assert await count_rows(session, "measurement_revisions") == revisions + stored, (counts, rows)
