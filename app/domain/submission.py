"""Row rules of a district submission: each row becomes a clean value or a conflict with a stable code."""

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.domain.conflicts import Code, cell_of
from app.domain.payload import RawRow
from app.domain.periods import Period, PeriodError, PeriodType, is_finer, is_future, overlaps, parse_period
from app.domain.text import TextError, clean_text, echo
from app.domain.vocabulary import FIELD_NAMES, MEASURE_NAMES, MEASURE_UNITS, PERIOD_NAMES, name_list
from app.i18n import Text, _, message_of, render

RATE_TOLERANCE = 0.005
MAX_COMMENT = 1000


@dataclass(frozen=True, slots=True)
class IndicatorRule:
    code: str
    name_zh: str
    unit: str
    measure: str
    level: str
    frequency: PeriodType
    low: float | None
    high: float | None


@dataclass(frozen=True, slots=True)
class UnitRef:
    """A resolved, current unit."""

    code: str
    name: str
    is_city: bool


@dataclass(frozen=True, slots=True)
class UnitProblem:
    """A unit that could not be used: unknown or retired, with the message to show."""

    code: Code
    detail: Text


@dataclass(frozen=True, slots=True)
class Clean:
    index: int
    line: int | None
    indicator: str
    unit: str
    period: Period
    value: float
    numerator: float | None
    denominator: float | None
    comment: str | None
    # Where a spreadsheet row came from (RawRow's sheet, row and cells), for conflicts found after the row checks.
    sheet: str | None = None
    row: int | None = None
    cells: Mapping[str, str] | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return self.indicator, self.unit, self.period.label


@dataclass(frozen=True, slots=True)
class Conflict:
    index: int
    line: int | None
    indicator: str | None
    unit: str | None
    period: str | None
    code: Code
    detail: Text
    sheet: str | None = None
    row: int | None = None
    cell: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The conflict as the API shows it, its detail in the request's language; sheet/row/cell for xlsx."""
        out = {
            "index": self.index, "line": self.line, "indicator": _echo(self.indicator),
            "unit": _echo(self.unit), "period": _echo(self.period), "code": self.code.value,
            "detail": render(self.detail),
        }
        if self.sheet is not None:
            out.update(sheet=self.sheet, row=self.row, cell=self.cell)
        return out


def _echo(text: str | None) -> str | None:
    return None if text is None else echo(text)


class _Reject(Exception):
    def __init__(self, code: Code, detail: Text, field: str | None = None) -> None:
        self.code, self.detail, self.field = code, detail, field


_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


def _number(raw: Any, name: str) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise _Reject(Code.BAD_NUMBER, _("{name} must be a number, not true/false.", name=FIELD_NAMES[name]), name)
    if isinstance(raw, int | float):
        try:
            out = float(raw)
        except OverflowError:  # an int past float's range (an xlsx cell of 400 nines): a row conflict
            out = math.inf
    elif isinstance(raw, str):
        text = raw.strip()
        if not text:
            return None
        if _THOUSANDS.match(text):
            text = text.replace(",", "")
        try:
            out = float(text)
        except ValueError:
            raise _Reject(Code.BAD_NUMBER, _("{name} '{text}' is not a number.", name=FIELD_NAMES[name],
                                             text=raw[:40]), name) from None
    else:
        raise _Reject(Code.BAD_NUMBER, _("{name} must be a number.", name=FIELD_NAMES[name]), name)
    if not math.isfinite(out) or abs(out) > 1e15:
        raise _Reject(Code.BAD_NUMBER, _("{name} must be a finite number below 10^15.", name=FIELD_NAMES[name]),
                      name)
    return out


_CONTROL_OR_BREAK = re.compile(r"[\x00-\x1f\x7f]")


def _text(raw: Any, name: str) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise _Reject(Code.INVALID_ROW, _("{name} must be a string.", name=FIELD_NAMES[name]), name)
    text = str(raw).strip()
    if name == "comment":
        # A comment may span lines; it is stored NFC, without control, format or bidi characters (app.domain.text;
        # its length is judged later, as comment_too_long).
        try:
            return clean_text(text, multiline=True, limit=len(text)) or None
        except TextError:
            raise _Reject(Code.INVALID_ROW, _("{name} contains control, format or bidi characters.",
                                              name=FIELD_NAMES[name]), name) from None
    # Codes and periods are one line; NUL and other control characters never.
    if _CONTROL_OR_BREAK.search(text):
        raise _Reject(Code.INVALID_ROW, _("{name} contains control characters.", name=FIELD_NAMES[name]), name)
    return text or None


def check_row(
    raw: RawRow,
    *,
    indicators: Mapping[str, IndicatorRule],
    unit: UnitRef | UnitProblem | None,
    today: date,
) -> Clean | Conflict:
    """Every rule that one row can be judged by alone."""
    ind_code: str | None = None
    period_text: str | None = None
    unit_text: str | None = None
    try:
        if raw.extra:
            raise _Reject(Code.INVALID_ROW, _("Unexpected field(s) {fields}; allowed: indicator, unit, period, value, "
                                              "numerator, denominator, comment.",
                                              fields=echo(render(name_list(raw.extra)) or "")))
        ind_code, unit_text, period_text = (_text(raw.indicator, "indicator"), _text(raw.unit, "unit"),
                                            _text(raw.period, "period"))
        missing = [n for n, v in (("indicator", ind_code), ("unit", unit_text), ("period", period_text)) if not v]
        if missing:
            raise _Reject(Code.MISSING_FIELD, _("Missing {fields}.", fields=name_list(FIELD_NAMES[m] for m in missing)),
                          missing[0])
        assert ind_code and period_text
        rule = indicators.get(ind_code) or _by_name(indicators, ind_code)
        if rule is None:
            raise _Reject(Code.UNKNOWN_INDICATOR, _("No indicator '{text}'; see /api/v1/indicators for codes.",
                                                    text=echo(ind_code)))
        if unit is None:
            raise _Reject(Code.UNKNOWN_UNIT, _("No unit '{text}'; use a code or name from /api/v1/units.",
                                               text=echo(unit_text)))
        if isinstance(unit, UnitProblem):
            raise _Reject(unit.code, unit.detail)
        unit_text = unit.code
        period = _period(period_text, rule, today)
        period_text = period.label
        if rule.level == "city" and not unit.is_city:
            raise _Reject(Code.CITY_LEVEL_INDICATOR,
                          _("{code} ({name}) is reported by the city (370200) only, not by {unit}.", code=rule.code,
                            name=rule.name_zh, unit=unit.name))
        value, num, den = _values(raw, rule, unit)
        comment = _text(raw.comment, "comment")
        if comment is not None and len(comment) > MAX_COMMENT:
            raise _Reject(Code.COMMENT_TOO_LONG, _("comment is {length} characters; at most {most}.",
                                                   length=len(comment), most=MAX_COMMENT))
        return Clean(index=raw.index, line=raw.line, indicator=rule.code, unit=unit.code, period=period, value=value,
                     numerator=num, denominator=den, comment=comment, sheet=raw.sheet, row=raw.row, cells=raw.cells)
    except _Reject as r:
        return Conflict(index=raw.index, line=raw.line, indicator=ind_code, unit=unit_text, period=period_text,
                        code=r.code, detail=r.detail, sheet=raw.sheet, row=raw.row,
                        cell=cell_of(raw.cells, r.code, r.field))


def _by_name(indicators: Mapping[str, IndicatorRule], name: str) -> IndicatorRule | None:
    # Clerks may name an indicator by its exact Chinese name; only rows that miss a code pay for the scan.
    return next((r for r in indicators.values() if r.name_zh == name), None)


def _period(text: str, rule: IndicatorRule, today: date) -> Period:
    try:
        period = parse_period(text)
    except PeriodError as exc:
        raise _Reject(Code.BAD_PERIOD, message_of(exc)) from None
    if is_finer(period.type, rule.frequency):
        raise _Reject(Code.PERIOD_TOO_FINE,
                      _("{code} is reported per {frequency} at the finest; '{text}' is a {kind}.", code=rule.code,
                        frequency=PERIOD_NAMES[rule.frequency], text=text, kind=PERIOD_NAMES[period.type]))
    if is_future(period, today=today):
        raise _Reject(Code.FUTURE_PERIOD,
                      _("Period {period} ends on {end}, after today ({today}, Asia/Shanghai); report it once it "
                        "has ended.", period=period.label, end=period.end.isoformat(), today=today.isoformat()))
    return period


def _values(raw: RawRow, rule: IndicatorRule, unit: UnitRef) -> tuple[float, float | None, float | None]:
    value = _number(raw.value, "value")
    num = _number(raw.numerator, "numerator")
    den = _number(raw.denominator, "denominator")
    if rule.measure == "rate":
        if num is None and den is None:
            if not unit.is_city:
                raise _Reject(Code.RATE_NEEDS_FRACTION,
                              _("{code} is a rate: give numerator and denominator (the value is derived).",
                                code=rule.code))
            if value is None:
                raise _Reject(Code.MISSING_VALUE, _("Give a value, or numerator and denominator."))
        elif num is None or den is None:
            raise _Reject(Code.RATE_NEEDS_FRACTION, _("Give both numerator and denominator."),
                          "denominator" if num is not None else "numerator")
        else:
            if den == 0:
                raise _Reject(Code.ZERO_DENOMINATOR, _("denominator is 0; a rate needs a positive denominator."))
            if num < 0 or den < 0:
                raise _Reject(Code.OUT_OF_BOUNDS, _("numerator and denominator must not be negative."))
            derived = 100.0 * num / den
            if value is not None and abs(value - derived) > RATE_TOLERANCE:
                raise _Reject(Code.RATE_MISMATCH,
                              _("value {value:g} disagrees with {num:g}/{den:g} = {derived:.3f}%.", value=value,
                                num=num, den=den, derived=derived))
            value = derived
    else:
        if num is not None or den is not None:
            raise _Reject(Code.UNEXPECTED_FRACTION,
                          _("{code} is a {measure}, not a rate: give a value without numerator/denominator.",
                            code=rule.code, measure=MEASURE_NAMES.get(rule.measure, rule.measure)))
        if value is None:
            raise _Reject(Code.MISSING_VALUE, _("value is missing."))
    assert value is not None
    if (rule.low is not None and value < rule.low) or (rule.high is not None and value > rule.high):
        raise _Reject(Code.OUT_OF_BOUNDS,
                      _("{value:g} is outside the plausible range of {code} [{low}, {high}] {unit}.", value=value,
                        code=rule.code, low=_fmt(rule.low), high=_fmt(rule.high),
                        unit=MEASURE_UNITS.get(rule.unit, rule.unit)))
    return value, num, den


def _fmt(x: float | None) -> str:
    return "…" if x is None else f"{x:g}"


def reject_duplicates(rows: Sequence[Clean]) -> tuple[list[Clean], list[Conflict]]:
    """Rows sharing (indicator, unit, period) after normalisation are all rejected."""
    seen: dict[tuple[str, str, str], list[Clean]] = defaultdict(list)
    for r in rows:
        seen[r.key].append(r)
    keep, bad = [], []
    for r in rows:
        group = seen[r.key]
        if len(group) == 1:
            keep.append(r)
            continue
        others = ", ".join(str(o.index) for o in group if o is not r)
        bad.append(_conflict(r, Code.DUPLICATE_IN_REQUEST,
                             _("{indicator} / {unit} / {period} also appears at index {others}.",
                               indicator=r.indicator, unit=r.unit, period=r.period.label, others=others)))
    return keep, bad


def reject_overlaps(
    rows: Sequence[Clean], *, flow_indicators: frozenset[str], stored: Iterable[tuple[str, str, Period]]
) -> tuple[list[Clean], list[Conflict]]:
    """A flow period may not overlap another stored or submitted period of the same unit (they would add up twice)."""
    existing: dict[tuple[str, str], list[Period]] = defaultdict(list)
    for ind, unit, period in stored:
        existing[(ind, unit)].append(period)
    submitted: dict[tuple[str, str], list[Clean]] = defaultdict(list)
    for r in rows:
        if r.indicator in flow_indicators:
            submitted[(r.indicator, r.unit)].append(r)
    keep, bad = [], []
    for r in rows:
        if r.indicator not in flow_indicators:
            keep.append(r)
            continue
        pair = (r.indicator, r.unit)
        clash = [p.label for p in existing[pair] if overlaps(p, r.period)]
        clash += [o.period.label for o in submitted[pair] if o is not r and overlaps(o.period, r.period)]
        if clash:
            bad.append(_conflict(r, Code.PERIOD_OVERLAP,
                                 _("{period} overlaps {others} of the same flow; delete the other period first or "
                                   "report in one period type.", period=r.period.label,
                                   others=", ".join(sorted(set(clash))))))
        else:
            keep.append(r)
    return keep, bad


def _conflict(r: Clean, code: Code, detail: Text) -> Conflict:
    return Conflict(index=r.index, line=r.line, indicator=r.indicator, unit=r.unit, period=r.period.label, code=code,
                    detail=detail, sheet=r.sheet, row=r.row, cell=cell_of(r.cells, code))
