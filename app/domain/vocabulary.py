"""The words people read for the service's stable identifiers (fields, period types, measures, statuses, kinds)."""

from collections.abc import Iterable

from app.i18n import Message, _

FIELD_NAMES: dict[str, Message] = {
    "indicator": _("indicator"),
    "unit": _("unit"),
    "period": _("period"),
    "value": _("value"),
    "numerator": _("numerator"),
    "denominator": _("denominator"),
    "comment": _("comment"),
}

PERIOD_NAMES: dict[str, Message] = {
    "month": _("month"),
    "quarter": _("quarter"),
    "semester": _("half-year"),
    "year": _("year"),
    "school_year": _("school year"),
}

MEASURE_NAMES: dict[str, Message] = {
    "rate": _("rate"),
    "stock": _("stock (level at period end)"),
    "flow": _("flow (amount within the period)"),
}

STATUS_NAMES: dict[str, Message] = {
    "achieved": _("achieved"),
    "on_track": _("on track"),
    "at_risk": _("at risk"),
    "off_track": _("off track"),
    "missed": _("missed"),
    "no_data": _("no data"),
    "insufficient_data": _("insufficient data"),
}

LIGHT_NAMES: dict[str, Message] = {"red": _("red"), "yellow": _("yellow"), "green": _("green"), "grey": _("grey")}

REPORT_STATE_NAMES: dict[str, Message] = {
    "on_time": _("on time"), "late": _("late"), "missing": _("missing"), "not_due": _("not due"),
}

GROUP_NAMES: dict[str, Message] = {"all": _("all"), "action": _("action"), "department": _("department")}

KIND_NAMES: dict[str, Message] = {
    "reach": _("reach by the target year"),
    "every_year": _("every year"),
    "each_unit": _("each unit"),
}

# Units of measure as a clerk writes them; an admin's new count noun shows as given.
MEASURE_UNITS: dict[str, Message] = {
    "percent": _("%"), "yuan": _("yuan"), "school": _("schools"), "teacher": _("teachers"), "class": _("classes"),
    "base": _("bases"), "curriculum": _("courses"), "group": _("groups"), "person-time": _("person-times"),
    "program": _("programmes"), "site": _("sites"),
}
FREQUENCY_NAMES: dict[str, Message] = {
    "month": _("monthly"), "quarter": _("quarterly"), "semester": _("half-yearly"), "year": _("yearly"),
    "school_year": _("per school year"),
}

DIRECTION_NAMES: dict[str, Message] = {"up": _("higher is better"), "down": _("lower is better")}
LEVEL_NAMES: dict[str, Message] = {"district": _("district"), "city": _("city"), "school": _("school")}
YES, NO = _("yes"), _("no")


def name_list(items: Iterable[Message | str]) -> Message | str:
    """Several words joined the way the reader's language lists them (", " or "、")."""
    words = list(items)
    if len(words) <= 1:
        return words[0] if words else ""
    return _("{first}, {rest}", first=words[0], rest=name_list(words[1:]))
