"""One clock for the whole service: every "now" and every "today" (Asia/Shanghai) comes from here.

Tests move it (``clock.set_now``/``clock.advance``) instead of sleeping; a process started by a test may be
given a fixed start with ``ATTAIN_CLOCK_START`` (an ISO instant), after which it runs forward in real time, or
``ATTAIN_CLOCK_RATE`` times faster (a simulated week of reminders in seconds; in-process tests move it instead).
"""

import os
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

_offset = timedelta(0)


def _start_offset() -> timedelta:
    start = os.environ.get("ATTAIN_CLOCK_START")
    if not start:
        return timedelta(0)
    instant = datetime.fromisoformat(start)
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=SHANGHAI)
    return instant - datetime.now(UTC)


_offset = _start_offset()
_RATE = float(os.environ.get("ATTAIN_CLOCK_RATE") or 1.0)
_BORN = datetime.now(UTC)


def now() -> datetime:
    """Now, aware, in UTC."""
    real = datetime.now(UTC)
    if _RATE != 1.0:
        return real + _offset + (real - _BORN) * (_RATE - 1.0)
    return real + _offset


def today() -> date:
    """Today's date in Qingdao (Asia/Shanghai), whatever the server's time zone."""
    return now().astimezone(SHANGHAI).date()


def set_now(instant: datetime | None) -> None:
    """Move the clock so that now() is ``instant`` (aware; naive means Asia/Shanghai); None puts it back."""
    global _offset
    if instant is None:
        _offset = timedelta(0)
        return
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=SHANGHAI)
    _offset = instant - datetime.now(UTC)


def set_today(day: date) -> None:
    """Move the clock to noon of ``day`` in Asia/Shanghai."""
    set_now(datetime(day.year, day.month, day.day, 12, tzinfo=SHANGHAI))


def advance(delta: timedelta) -> None:
    """Move the clock forward (or back) by ``delta``."""
    global _offset
    _offset += delta
