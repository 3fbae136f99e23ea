"""Reporting periods: the label forms districts send, their date ranges, and how they compare."""

import calendar
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from zoneinfo import ZoneInfo

from app import clock
from app.i18n import Message, _

SHANGHAI = ZoneInfo("Asia/Shanghai")
MIN_YEAR = 1900
MAX_YEAR = 2100

ACCEPTED_FORMS = _(
    "2020 (year), 2020Q3 (quarter), 2020S1 or 2020S2 (half-year, also written 2020H1), "
    "2020-07 or 202007 (month), 2020Sep (school year, September 2020 to August 2021); "
    "years {first} to {last}", first=MIN_YEAR, last=MAX_YEAR
)


class PeriodType(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    SEMESTER = "semester"
    YEAR = "year"
    SCHOOL_YEAR = "school_year"


# A school year is as coarse as a calendar year: both are accepted wherever yearly values are.
_FINENESS = {
    PeriodType.MONTH: 1,
    PeriodType.QUARTER: 2,
    PeriodType.SEMESTER: 3,
    PeriodType.YEAR: 4,
    PeriodType.SCHOOL_YEAR: 4,
}


class PeriodError(ValueError):
    """A period label that is not one of the accepted forms."""


@dataclass(frozen=True, slots=True)
class Period:
    type: PeriodType
    label: str
    start: date
    end: date

    @property
    def year(self) -> int:
        """The calendar year the period belongs to: the one in which it ends."""
        return self.end.year


_YEAR = re.compile(r"([0-9]{4})")
_QUARTER = re.compile(r"([0-9]{4})[Qq]([0-9])")
_SEMESTER = re.compile(r"([0-9]{4})[SsHh]([0-9])")
# Two-digit months only: "2020-7" is refused so that every month has exactly one spelling besides 202007.
_MONTH = re.compile(r"([0-9]{4})-?([0-9]{2})")
_SCHOOL_YEAR = re.compile(r"([0-9]{4})sep", re.IGNORECASE)


def _error(text: str, problem: Message | None = None) -> PeriodError:
    shown = text if len(text) <= 40 else text[:37] + "..."
    if problem is None:
        return PeriodError(_('"{text}" is not a valid period. Accepted forms: {forms}.', text=shown,
                             forms=ACCEPTED_FORMS))
    return PeriodError(_('"{text}" is not a valid period: {problem}. Accepted forms: {forms}.', text=shown,
                         problem=problem, forms=ACCEPTED_FORMS))


def _months(year: int, first: int, last: int) -> tuple[date, date]:
    return date(year, first, 1), date(year, last, calendar.monthrange(year, last)[1])


def parse_period(text: str) -> Period:
    """Parse a period label in any accepted form into its canonical Period."""
    raw = text.strip()
    if m := _YEAR.fullmatch(raw):
        year = _check_year(raw, m.group(1))
        return Period(PeriodType.YEAR, str(year), date(year, 1, 1), date(year, 12, 31))
    if m := _QUARTER.fullmatch(raw):
        year = _check_year(raw, m.group(1))
        quarter = int(m.group(2))
        if not 1 <= quarter <= 4:
            raise _error(raw, _("quarters are Q1 to Q4"))
        start, end = _months(year, 3 * quarter - 2, 3 * quarter)
        return Period(PeriodType.QUARTER, f"{year}Q{quarter}", start, end)
    if m := _SEMESTER.fullmatch(raw):
        year = _check_year(raw, m.group(1))
        half = int(m.group(2))
        if half not in (1, 2):
            raise _error(raw, _("half-years are S1 (January to June) and S2 (July to December)"))
        start, end = _months(year, 6 * half - 5, 6 * half)
        return Period(PeriodType.SEMESTER, f"{year}S{half}", start, end)
    if m := _MONTH.fullmatch(raw):
        year = _check_year(raw, m.group(1))
        month = int(m.group(2))
        if not 1 <= month <= 12:
            raise _error(raw, _("months are 01 to 12"))
        start, end = _months(year, month, month)
        return Period(PeriodType.MONTH, f"{year}-{month:02d}", start, end)
    if m := _SCHOOL_YEAR.fullmatch(raw):
        year = _check_year(raw, m.group(1))
        return Period(PeriodType.SCHOOL_YEAR, f"{year}Sep", date(year, 9, 1), date(year + 1, 8, 31))
    raise _error(raw)


def _check_year(raw: str, digits: str) -> int:
    year = int(digits)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise _error(raw, _("the year must be between {first} and {last}", first=MIN_YEAR, last=MAX_YEAR))
    return year


def fineness(period_type: PeriodType) -> int:
    """Rank of a period type from finest (month, 1) to coarsest (year and school year, 4)."""
    return _FINENESS[period_type]


def is_finer(period_type: PeriodType, frequency: PeriodType) -> bool:
    """Whether a period type is finer than an indicator's frequency, and so not accepted for it."""
    return _FINENESS[period_type] < _FINENESS[frequency]


def overlaps(a: Period, b: Period) -> bool:
    """Whether two different periods share at least one day."""
    return a != b and a.start <= b.end and b.start <= a.end


def is_future(period: Period, *, today: date) -> bool:
    """Whether a period ends after the given day."""
    return period.end > today


def today_in_shanghai() -> date:
    """Today's date in Qingdao (Asia/Shanghai), from the service's one clock."""
    return clock.today()
