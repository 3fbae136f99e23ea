"""Row rules of a submission, without a database: every Code branch of check_row, duplicates and flow overlaps."""

from datetime import date
from typing import Any

import pytest

from app.domain.payload import RawRow
from app.domain.periods import PeriodType, parse_period
from app.domain.submission import (
    MAX_COMMENT,
    Clean,
    Code,
    Conflict,
    IndicatorRule,
    UnitProblem,
    UnitRef,
    check_row,
    reject_duplicates,
    reject_overlaps,
)

TODAY = date(2021, 3, 15)
RULES = {
    r.code: r for r in (
        IndicatorRule("rate", "达标率", "percent", "rate", "district", PeriodType.YEAR, 0, 100),
        IndicatorRule("gross", "毛入园率", "percent", "rate", "district", PeriodType.YEAR, 0, 200),
        IndicatorRule("stock", "基地", "base", "stock", "district", PeriodType.SEMESTER, 0, 100),
        IndicatorRule("open", "无界", "item", "stock", "district", PeriodType.MONTH, None, None),
        IndicatorRule("flow", "经费", "yuan", "flow", "city", PeriodType.QUARTER, 0, 1e10),
    )
}
HUANGDAO = UnitRef("370211", "黄岛区", is_city=False)
CITY = UnitRef("370200", "青岛市", is_city=True)
RETIRED = UnitProblem(Code.RETIRED_UNIT, "Unit code 370282 (即墨市) was retired; use the current code 370215 (即墨区).")


def row(index: int = 0, line: int | None = None, **fields: Any) -> RawRow:
    base: dict[str, Any] = {"indicator": "rate", "unit": "370211", "period": "2020", "numerator": 971,
                            "denominator": 1000}
    base.update(fields)
    return RawRow(index=index, line=line, **base)


def check(raw: RawRow, unit: UnitRef | UnitProblem | None = HUANGDAO) -> Clean | Conflict:
    return check_row(raw, indicators=RULES, unit=unit, today=TODAY)


def conflict(raw: RawRow, unit: UnitRef | UnitProblem | None = HUANGDAO) -> Conflict:
    out = check(raw, unit)
    assert isinstance(out, Conflict), out
    return out


def clean(raw: RawRow, unit: UnitRef | UnitProblem | None = HUANGDAO) -> Clean:
    out = check(raw, unit)
    assert isinstance(out, Clean), out
    return out


CASES: list[tuple[str, dict[str, Any], UnitRef | UnitProblem | None, Code]] = [
    ("unexpected field", {"extra": ("colour",)}, HUANGDAO, Code.INVALID_ROW),
    ("not an object", {"extra": ("(not an object)",)}, HUANGDAO, Code.INVALID_ROW),
    ("indicator not a string", {"indicator": ["rate"]}, HUANGDAO, Code.INVALID_ROW),
    ("comment not a string", {"comment": {"a": 1}}, HUANGDAO, Code.INVALID_ROW),
    ("no indicator", {"indicator": None}, HUANGDAO, Code.MISSING_FIELD),
    ("blank period", {"period": "  "}, HUANGDAO, Code.MISSING_FIELD),
    ("no unit", {"unit": None}, None, Code.MISSING_FIELD),
    ("unknown indicator", {"indicator": "t99"}, HUANGDAO, Code.UNKNOWN_INDICATOR),
    ("unknown unit", {"unit": "370299"}, None, Code.UNKNOWN_UNIT),
    ("retired unit", {"unit": "370282"}, RETIRED, Code.RETIRED_UNIT),
    ("quarter 5", {"period": "2020Q5"}, HUANGDAO, Code.BAD_PERIOD),
    ("garbage period", {"period": "20x"}, HUANGDAO, Code.BAD_PERIOD),
    ("month of a yearly rate", {"period": "2020-07"}, HUANGDAO, Code.PERIOD_TOO_FINE),
    ("quarter of a semester stock", {"indicator": "stock", "period": "2020Q1", "numerator": None,
                                     "denominator": None, "value": 1}, HUANGDAO, Code.PERIOD_TOO_FINE),
    ("this year, not over", {"period": "2021"}, HUANGDAO, Code.FUTURE_PERIOD),
    ("school year not over", {"period": "2020Sep"}, HUANGDAO, Code.FUTURE_PERIOD),
    ("city indicator, district unit", {"indicator": "flow", "value": 1, "numerator": None, "denominator": None},
     HUANGDAO, Code.CITY_LEVEL_INDICATOR),
    ("value not a number", {"value": "97,1"}, HUANGDAO, Code.BAD_NUMBER),
    ("value true", {"value": True}, HUANGDAO, Code.BAD_NUMBER),
    ("numerator nan", {"numerator": "nan"}, HUANGDAO, Code.BAD_NUMBER),
    ("denominator infinite", {"denominator": "inf"}, HUANGDAO, Code.BAD_NUMBER),
    ("value 1e16", {"indicator": "open", "period": "2020-01", "numerator": None, "denominator": None,
                    "value": 1e16}, HUANGDAO, Code.BAD_NUMBER),
    ("value a list", {"value": [1]}, HUANGDAO, Code.BAD_NUMBER),
    ("stock without value", {"indicator": "stock", "numerator": None, "denominator": None}, HUANGDAO,
     Code.MISSING_VALUE),
    ("city rate with nothing", {"numerator": None, "denominator": None}, CITY, Code.MISSING_VALUE),
    ("district rate, value only", {"numerator": None, "denominator": None, "value": 97.1}, HUANGDAO,
     Code.RATE_NEEDS_FRACTION),
    ("numerator only", {"denominator": None}, HUANGDAO, Code.RATE_NEEDS_FRACTION),
    ("denominator only, city", {"numerator": None}, CITY, Code.RATE_NEEDS_FRACTION),
    ("rate disagrees", {"value": 97.0}, HUANGDAO, Code.RATE_MISMATCH),
    ("just past tolerance", {"value": 97.1051}, HUANGDAO, Code.RATE_MISMATCH),
    ("zero denominator", {"numerator": 0, "denominator": 0}, HUANGDAO, Code.ZERO_DENOMINATOR),
    ("zero denominator, city", {"numerator": 5, "denominator": "0"}, CITY, Code.ZERO_DENOMINATOR),
    ("fraction on a stock", {"indicator": "stock"}, HUANGDAO, Code.UNEXPECTED_FRACTION),
    ("101 percent", {"numerator": 1010}, HUANGDAO, Code.OUT_OF_BOUNDS),
    ("negative fraction", {"numerator": -1, "denominator": -2}, HUANGDAO, Code.OUT_OF_BOUNDS),
    ("stock above max", {"indicator": "stock", "numerator": None, "denominator": None, "value": 101}, HUANGDAO,
     Code.OUT_OF_BOUNDS),
    ("negative flow", {"indicator": "flow", "value": -1, "numerator": None, "denominator": None}, CITY,
     Code.OUT_OF_BOUNDS),
    ("comment too long", {"comment": "长" * (MAX_COMMENT + 1)}, HUANGDAO, Code.COMMENT_TOO_LONG),
]


@pytest.mark.parametrize(("fields", "unit", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_rule(fields: dict[str, Any], unit: UnitRef | UnitProblem | None, code: Code) -> None:
    c = conflict(row(index=4, line=6, **fields), unit)
    assert (c.code, c.index, c.line) == (code, 4, 6)
    assert c.detail and c.as_dict()["code"] == code.value


def test_every_code_has_a_case() -> None:
    # Set-level codes are tested where they arise: duplicates and overlaps here, `locked` in test_reviews.py.
    covered = {c[3] for c in CASES} | {Code.DUPLICATE_IN_REQUEST, Code.PERIOD_OVERLAP, Code.LOCKED}
    assert covered == set(Code)


def test_conflicts_name_what_they_could_resolve() -> None:
    retired = conflict(row(unit="370282"), RETIRED)
    assert (retired.unit, retired.period) == ("370282", "2020") and "370215" in str(retired.detail)
    late = conflict(row(period=" 2020q4 ", unit="西海岸新区", value=1))
    # Too fine: the unit is resolved to its code, the period echoed as sent (trimmed).
    assert (late.code, late.indicator, late.unit, late.period) == (Code.PERIOD_TOO_FINE, "rate", "370211", "2020q4")
    bounds = conflict(row(numerator=1010))
    assert "101" in str(bounds.detail) and "[0, 100]" in str(bounds.detail)
    mismatch = conflict(row(value=97.0))
    assert "97.100" in str(mismatch.detail)


def test_clean_rows() -> None:
    r = clean(row(value=97.104, comment="  ok  ", period="2020"))
    assert (r.indicator, r.unit, r.period.label, r.numerator, r.denominator, r.comment) == (
        "rate", "370211", "2020", 971, 1000, "ok")
    assert r.value == pytest.approx(97.1)  # the derived value is stored, not the given one
    assert clean(row(value=97.095)).value == pytest.approx(97.1)
    assert clean(row(numerator="1,010", denominator="1,000", indicator="gross")).value == pytest.approx(101.0)
    assert clean(row(numerator=0, denominator=10)).value == 0
    assert clean(row(numerator=None, denominator=None, value=97.5), CITY).value == 97.5
    assert clean(row(indicator="stock", period="2020S2", numerator=None, denominator=None, value="12")).value == 12
    assert clean(row(indicator="stock", period="2019Sep", numerator=None, denominator=None, value=1),
                 ).period.type == PeriodType.SCHOOL_YEAR
    assert clean(row(indicator="flow", period="2020Q4", numerator=None, denominator=None, value=3e7), CITY).value \
        == 3e7
    assert clean(row(indicator="open", period="202002", numerator=None, denominator=None, value=-5)).period.label \
        == "2020-02"
    assert clean(row(period="2020", comment="长" * MAX_COMMENT)).comment == "长" * MAX_COMMENT
    assert clean(row(period=2020)).period.label == "2020"  # a JSON number as period


def test_period_ending_today_is_not_future() -> None:
    today = date(2020, 12, 31)
    assert isinstance(check_row(row(), indicators=RULES, unit=HUANGDAO, today=today), Clean)
    assert isinstance(check_row(row(), indicators=RULES, unit=HUANGDAO, today=date(2020, 12, 30)), Conflict)


def _c(index: int, unit: str, period: str, indicator: str = "rate") -> Clean:
    return Clean(index=index, line=None, indicator=indicator, unit=unit, period=parse_period(period), value=1.0,
                 numerator=None, denominator=None, comment=None)


def test_duplicates_are_all_rejected_and_name_each_other() -> None:
    rows = [_c(0, "370211", "2020"), _c(1, "370202", "2020"), _c(2, "370211", "2020"),
            _c(3, "370211", "2020"), _c(4, "370211", "2019")]
    keep, bad = reject_duplicates(rows)
    assert [r.index for r in keep] == [1, 4]
    assert [(c.index, c.code) for c in bad] == [(i, Code.DUPLICATE_IN_REQUEST) for i in (0, 2, 3)]
    assert "2, 3" in str(bad[0].detail) and "0, 3" in str(bad[1].detail)
    # Labels are canonical, so spellings of one month collide.
    keep, bad = reject_duplicates([_c(0, "370211", "202007", "open"), _c(1, "370211", "2020-07", "open")])
    assert keep == [] and len(bad) == 2


def test_flow_overlaps_with_stored_and_submitted_periods() -> None:
    flows = frozenset({"flow"})
    stored = [("flow", "370200", parse_period("2020")), ("flow", "370211", parse_period("2019Q1"))]
    rows = [_c(0, "370200", "2020Q1", "flow"), _c(1, "370211", "2019Q2", "flow"), _c(2, "370211", "2018", "flow"),
            _c(3, "370211", "2018Q3", "flow"), _c(4, "370200", "2020Q1", "rate")]
    keep, bad = reject_overlaps(rows, flow_indicators=flows, stored=stored)
    # 2019Q2 touches no stored quarter; the rate is not a flow.
    assert [r.index for r in keep] == [1, 4]
    assert [(c.index, c.code) for c in bad] == [(0, Code.PERIOD_OVERLAP), (2, Code.PERIOD_OVERLAP),
                                                (3, Code.PERIOD_OVERLAP)]
    assert "2020" in str(bad[0].detail) and "2018Q3" in str(bad[1].detail) and "2018 " in str(bad[2].detail)
    # Resending the stored period itself is no overlap (it is the same value, upserted).
    keep, bad = reject_overlaps([_c(0, "370200", "2020", "flow")], flow_indicators=flows, stored=stored)
    assert len(keep) == 1 and bad == []
