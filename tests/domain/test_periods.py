import time
from collections.abc import Iterator
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from app.domain.periods import (
    Period,
    PeriodError,
    PeriodType,
    is_finer,
    is_future,
    overlaps,
    parse_period,
    today_in_shanghai,
)

M, Q, S, Y, SY = (
    PeriodType.MONTH,
    PeriodType.QUARTER,
    PeriodType.SEMESTER,
    PeriodType.YEAR,
    PeriodType.SCHOOL_YEAR,
)


@pytest.mark.parametrize(
    ("text", "kind", "label", "start", "end"),
    [
        ("2020", Y, "2020", date(2020, 1, 1), date(2020, 12, 31)),
        ("1900", Y, "1900", date(1900, 1, 1), date(1900, 12, 31)),
        ("2100", Y, "2100", date(2100, 1, 1), date(2100, 12, 31)),
        ("2020Q1", Q, "2020Q1", date(2020, 1, 1), date(2020, 3, 31)),
        ("2020Q3", Q, "2020Q3", date(2020, 7, 1), date(2020, 9, 30)),
        ("2020q4", Q, "2020Q4", date(2020, 10, 1), date(2020, 12, 31)),
        ("2020S1", S, "2020S1", date(2020, 1, 1), date(2020, 6, 30)),
        ("2020S2", S, "2020S2", date(2020, 7, 1), date(2020, 12, 31)),
        ("2020s2", S, "2020S2", date(2020, 7, 1), date(2020, 12, 31)),
        ("2020H1", S, "2020S1", date(2020, 1, 1), date(2020, 6, 30)),
        ("2020h2", S, "2020S2", date(2020, 7, 1), date(2020, 12, 31)),
        ("2020-07", M, "2020-07", date(2020, 7, 1), date(2020, 7, 31)),
        ("202007", M, "2020-07", date(2020, 7, 1), date(2020, 7, 31)),
        ("2020-02", M, "2020-02", date(2020, 2, 1), date(2020, 2, 29)),
        ("201902", M, "2019-02", date(2019, 2, 1), date(2019, 2, 28)),
        ("2020-12", M, "2020-12", date(2020, 12, 1), date(2020, 12, 31)),
        ("2020Sep", SY, "2020Sep", date(2020, 9, 1), date(2021, 8, 31)),
        ("2020sep", SY, "2020Sep", date(2020, 9, 1), date(2021, 8, 31)),
        ("2020SEP", SY, "2020Sep", date(2020, 9, 1), date(2021, 8, 31)),
        ("  2020Q3\t", Q, "2020Q3", date(2020, 7, 1), date(2020, 9, 30)),
        ("\n2020\n", Y, "2020", date(2020, 1, 1), date(2020, 12, 31)),
    ],
)
def test_parse_accepts(text: str, kind: PeriodType, label: str, start: date, end: date) -> None:
    assert parse_period(text) == Period(type=kind, label=label, start=start, end=end)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "20",
        "202",
        "20200",
        "2020-13",
        "2020-00",
        "202013",
        "202000",
        "2020-7",
        "2020-007",
        "2020Q0",
        "2020Q5",
        "2020Q",
        "2020Q12",
        "2020-Q3",
        "2020 Q3",
        "Q3 2020",
        "2020S0",
        "2020S3",
        "2020H3",
        "2020Sept",
        "2020September",
        "Sep2020",
        "2020-07-01",
        "1899",
        "2101",
        "1899Q4",
        "2101-01",
        "2101Sep",
        "２０２０",
        "abcd",
        "2020.5",
        "-2020",
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(PeriodError):
        parse_period(text)


def test_period_error_is_a_value_error_naming_the_input_and_the_accepted_forms() -> None:
    with pytest.raises(ValueError, match="2020-13") as caught:
        parse_period("2020-13")
    message = str(caught.value)
    assert isinstance(caught.value, PeriodError)
    for form in ("2020Q3", "2020S1", "2020-07", "202007", "2020Sep"):
        assert form in message
    assert "01 to 12" in message


@pytest.mark.parametrize(
    ("text", "hint"),
    [("2020Q5", "Q1 to Q4"), ("2020S3", "S1"), ("1899", "between 1900 and 2100")],
)
def test_period_error_says_what_is_wrong(text: str, hint: str) -> None:
    with pytest.raises(PeriodError, match=hint):
        parse_period(text)


def test_period_error_shortens_a_long_input() -> None:
    with pytest.raises(PeriodError) as caught:
        parse_period("x" * 10_000)
    assert len(str(caught.value)) < 600


@pytest.mark.parametrize(
    ("text", "year"),
    [("2020", 2020), ("2020Q3", 2020), ("2020-12", 2020), ("2020S2", 2020), ("2020Sep", 2021)],
)
def test_a_period_belongs_to_the_year_in_which_it_ends(text: str, year: int) -> None:
    assert parse_period(text).year == year


@pytest.mark.parametrize(
    ("period_type", "frequency", "finer"),
    [
        (M, M, False),
        (M, Q, True),
        (M, S, True),
        (M, Y, True),
        (Q, M, False),
        (Q, Q, False),
        (Q, S, True),
        (Q, Y, True),
        (S, Q, False),
        (S, Y, True),
        (Y, M, False),
        (Y, Y, False),
        (SY, Y, False),
        (SY, S, False),
        (SY, M, False),
        (Y, SY, False),
        (S, SY, True),
    ],
)
def test_is_finer(period_type: PeriodType, frequency: PeriodType, finer: bool) -> None:
    assert is_finer(period_type, frequency) is finer


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ("2020", "2020Q1", True),
        ("2020Q1", "2020-01", True),
        ("2020Q1", "2020-03", True),
        ("2020Q1", "2020-04", False),
        ("2020Q1", "2020Q2", False),
        ("2020S1", "2020Q2", True),
        ("2020S1", "2020S2", False),
        ("2020-06", "2020S2", False),
        ("2020Sep", "2021S1", True),
        ("2020Sep", "2020", True),
        ("2020Sep", "2020S1", False),
        ("2020Sep", "2021Sep", False),
        ("2019", "2020", False),
        ("2020Q3", "2020Q3", False),
        ("2020-07", "202007", False),
    ],
)
def test_overlaps(a: str, b: str, overlap: bool) -> None:
    pa, pb = parse_period(a), parse_period(b)
    assert overlaps(pa, pb) is overlap
    assert overlaps(pb, pa) is overlap


@pytest.mark.parametrize(
    ("text", "today", "future"),
    [
        ("2020Q3", date(2020, 9, 30), False),
        ("2020Q3", date(2020, 9, 29), True),
        ("2020", date(2020, 12, 31), False),
        ("2020", date(2020, 6, 1), True),
        ("2020Sep", date(2021, 8, 31), False),
        ("2020Sep", date(2021, 8, 30), True),
        ("2020-07", date(2021, 1, 1), False),
    ],
)
def test_is_future(text: str, today: date, future: bool) -> None:
    assert is_future(parse_period(text), today=today) is future


def test_overlaps_counts_a_single_shared_day() -> None:
    first = Period(PeriodType.SEMESTER, "a", date(2020, 1, 1), date(2020, 6, 30))
    second = Period(PeriodType.SEMESTER, "b", date(2020, 6, 30), date(2020, 12, 31))
    assert overlaps(first, second) and overlaps(second, first)


@pytest.fixture
def restore_local_zone() -> Iterator[None]:
    yield
    time.tzset()  # after monkeypatch has put TZ back


# Twenty hours behind Shanghai and six ahead: at any instant one of them is on another date than Qingdao.
@pytest.mark.parametrize("local_zone", ["Etc/GMT+12", "Etc/GMT-14"])
def test_today_in_shanghai_ignores_the_server_zone(
    local_zone: str, monkeypatch: pytest.MonkeyPatch, restore_local_zone: None
) -> None:
    monkeypatch.setenv("TZ", local_zone)
    time.tzset()
    zone = ZoneInfo("Asia/Shanghai")
    before = datetime.now(zone).date()
    today = today_in_shanghai()
    after = datetime.now(zone).date()
    assert today in (before, after)
    assert type(today) is date
