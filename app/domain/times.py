"""The two times of a report: `date` (the day judged) and `as_of` (what was known)."""

from datetime import UTC, date, datetime, time, timedelta

from app.domain.periods import SHANGHAI
from app.domain.text import echo
from app.i18n import _

FIRST_YEAR, LAST_YEAR = 1990, 2100


def parse_as_of(text: str) -> datetime:
    """An RFC 3339 instant, or a bare date meaning the end of that day in Asia/Shanghai; aware, in UTC."""
    raw = text.strip()
    try:
        if len(raw) == 10:
            day = parse_day(raw)
            end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI) - timedelta(microseconds=1)
            return end.astimezone(UTC)
        instant = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, OverflowError):
        raise ValueError(_("'{text}' is neither a date (2021-03-01) nor an RFC 3339 instant "
                           "(2021-03-01T12:00:00+08:00).", text=echo(text))) from None
    if instant.tzinfo is None:
        raise ValueError(_("'{text}' has no time zone offset; add +08:00 or Z.", text=echo(text)))
    if not FIRST_YEAR <= instant.year <= LAST_YEAR:
        raise ValueError(_("'{text}' is outside {first}–{last}.", text=echo(text), first=FIRST_YEAR,
                           last=LAST_YEAR))
    return instant.astimezone(UTC)


def parse_day(text: str) -> date:
    """A calendar date YYYY-MM-DD between 1990 and 2100."""
    raw = text.strip()
    try:
        if len(raw) != 10 or raw[4] != "-" or raw[7] != "-":
            raise ValueError(raw)
        day = date.fromisoformat(raw)
    except ValueError:
        raise ValueError(_("'{text}' is not a date like 2021-03-01.", text=echo(text))) from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValueError(_("'{text}' is outside {first}–{last}.", text=echo(text), first=FIRST_YEAR,
                           last=LAST_YEAR))
    return day
