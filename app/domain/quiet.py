"""Quiet hours ("22-08", Asia/Shanghai): deliveries wait until they end."""

from datetime import datetime

from app.clock import SHANGHAI


def parse(spec: str) -> tuple[int, int]:
    """(start hour, end hour) of "HH-HH"; ValueError when malformed."""
    start, _, end = spec.partition("-")
    a, b = int(start), int(end)
    if not (0 <= a <= 23 and 0 <= b <= 23) or a == b:
        raise ValueError(f"quiet hours must be 'HH-HH' with two different hours, not {spec!r}")
    return a, b


def in_quiet_hours(spec: str | None, now: datetime) -> bool:
    """Whether `now` falls in the quiet hours (a window may wrap past midnight)."""
    if not spec:
        return False
    a, b = parse(spec)
    hour = now.astimezone(SHANGHAI).hour
    return a <= hour < b if a < b else hour >= a or hour < b
