"""Conflict codes of a submission row: stable identifiers for machines, a sentence for people, a cell to point at."""

from collections.abc import Mapping
from enum import StrEnum

from app.i18n import Message, _


class Code(StrEnum):
    """Conflict codes. Stable: clients may branch on them (the README lists them)."""

    INVALID_ROW = "invalid_row"
    MISSING_FIELD = "missing_field"
    UNKNOWN_INDICATOR = "unknown_indicator"
    UNKNOWN_UNIT = "unknown_unit"
    RETIRED_UNIT = "retired_unit"
    BAD_PERIOD = "bad_period"
    PERIOD_TOO_FINE = "period_too_fine"
    FUTURE_PERIOD = "future_period"
    CITY_LEVEL_INDICATOR = "city_level_indicator"
    BAD_NUMBER = "bad_number"
    MISSING_VALUE = "missing_value"
    RATE_NEEDS_FRACTION = "rate_needs_fraction"
    RATE_MISMATCH = "rate_mismatch"
    ZERO_DENOMINATOR = "zero_denominator"
    UNEXPECTED_FRACTION = "unexpected_fraction"
    OUT_OF_BOUNDS = "out_of_bounds"
    COMMENT_TOO_LONG = "comment_too_long"
    DUPLICATE_IN_REQUEST = "duplicate_in_request"
    PERIOD_OVERLAP = "period_overlap"
    LOCKED = "locked"


# What each conflict code means, for people: the README's table and the 说明 sheet read it; a test walks it.
CODE_TEXT: dict[Code, Message] = {
    Code.INVALID_ROW: _("The row is malformed: unexpected fields, cells or characters."),
    Code.MISSING_FIELD: _("The indicator, unit or period is missing."),
    Code.UNKNOWN_INDICATOR: _("No indicator has this code or Chinese name."),
    Code.UNKNOWN_UNIT: _("No unit has this code, name or alias."),
    Code.RETIRED_UNIT: _("The unit code was retired; the message names the current one."),
    Code.BAD_PERIOD: _("The period is not one of the accepted forms."),
    Code.PERIOD_TOO_FINE: _("The period is finer than the indicator's reporting frequency."),
    Code.FUTURE_PERIOD: _("The period has not ended yet."),
    Code.CITY_LEVEL_INDICATOR: _("Only the city reports this indicator."),
    Code.BAD_NUMBER: _("A number cannot be read."),
    Code.MISSING_VALUE: _("The value is missing."),
    Code.RATE_NEEDS_FRACTION: _("A rate needs both numerator and denominator."),
    Code.RATE_MISMATCH: _("The value disagrees with numerator/denominator."),
    Code.ZERO_DENOMINATOR: _("The denominator is 0."),
    Code.UNEXPECTED_FRACTION: _("Numerator and denominator are given for an indicator that is not a rate."),
    Code.OUT_OF_BOUNDS: _("The value is outside the indicator's plausible range."),
    Code.COMMENT_TOO_LONG: _("The comment is too long."),
    Code.DUPLICATE_IN_REQUEST: _("The same indicator, unit and period appear twice in the request."),
    Code.PERIOD_OVERLAP: _("A flow's period overlaps another period of the same flow."),
    Code.LOCKED: _("The value belongs to an approved dataset and cannot change until it is unlocked."),
}


# The field a conflict points at when its rule names none (the cell a clerk must correct).
_FIELD_OF: dict[Code, str] = {
    Code.UNKNOWN_UNIT: "unit", Code.RETIRED_UNIT: "unit", Code.CITY_LEVEL_INDICATOR: "unit",
    Code.BAD_PERIOD: "period", Code.PERIOD_TOO_FINE: "period", Code.FUTURE_PERIOD: "period",
    Code.PERIOD_OVERLAP: "period", Code.MISSING_VALUE: "value", Code.RATE_MISMATCH: "value",
    Code.OUT_OF_BOUNDS: "value", Code.RATE_NEEDS_FRACTION: "numerator", Code.UNEXPECTED_FRACTION: "numerator",
    Code.ZERO_DENOMINATOR: "denominator", Code.COMMENT_TOO_LONG: "comment",
}


def cell_of(cells: Mapping[str, str] | None, code: Code, field: str | None = None) -> str | None:
    """The spreadsheet cell a conflict points at: its field's, else the indicator's."""
    if not cells:
        return None
    return cells.get(field or _FIELD_OF.get(code, "indicator")) or cells.get("indicator") or next(
        iter(cells.values()), None)

