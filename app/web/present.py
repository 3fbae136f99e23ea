"""How the pages show things: status words and colours, numbers rounded for display (never for computing).

Rounding shown on the pages (README "Choices"): percentages and ratios to 2 decimals, money in 万元 to
2 decimals, counts as whole numbers when whole, else 2 decimals. The browser tests compare with the JSON
API after exactly this rounding.
"""

from dataclasses import dataclass

from app.domain.attainment import SEVERITY
from app.schemas.attainment import AttainmentRow


@dataclass(frozen=True, slots=True)
class Look:
    word: str   # the word always shown beside the colour (colour-blind safe)
    short: str  # for the narrow cells of the heat map
    css: str


# Colours follow deploy/grafana's value mappings: missed red, off_track orange, no/insufficient data grey,
# at_risk yellow, on_track and achieved green (achieved a darker green). Words follow the lang=zh CSV.
STATUS: dict[str, Look] = {
    "missed": Look("未达成", "未达成", "s-missed"),
    "off_track": Look("进度滞后", "滞后", "s-off_track"),
    "no_data": Look("无数据", "无数据", "s-no_data"),
    "insufficient_data": Look("数据不足", "不足", "s-insufficient_data"),
    "at_risk": Look("存在风险", "风险", "s-at_risk"),
    "on_track": Look("按计划推进", "推进", "s-on_track"),
    "achieved": Look("已达成", "已达成", "s-achieved"),
}
STATUS_ORDER = [s.value for s in SEVERITY]
BEHIND = frozenset({"missed", "off_track", "at_risk"})

# Words as the lang=zh deliverables CSV has them; colours by severity on the same scale as targets.
DELIVERABLE: dict[str, Look] = {
    "overdue": Look("逾期", "逾期", "s-missed"),
    "done_late": Look("逾期完成", "迟完成", "s-off_track"),
    "done_after_extension": Look("延期后完成", "延期完成", "s-at_risk"),
    "due_soon": Look("即将到期", "将到期", "s-at_risk"),
    "not_due": Look("未到期", "未到期", "s-no_data"),
    "standing": Look("长期推进", "长期", "s-no_data"),
    "dropped": Look("已撤销", "撤销", "s-insufficient_data"),
    "done": Look("已完成", "完成", "s-on_track"),
    "done_on_time": Look("按期完成", "按期", "s-achieved"),
}
LIGHT = {"red": "红灯", "yellow": "黄灯", "green": "绿灯", "grey": "灰灯"}
COMPLETENESS: dict[str, Look] = {
    "missing": Look("未报送", "未报", "s-missed"),
    "late": Look("迟报", "迟报", "s-at_risk"),
    "on_time": Look("按时报送", "按时", "s-achieved"),
    "not_due": Look("未到期", "未到期", "s-no_data"),
}

KIND = {"reach": "到期达成", "every_year": "逐年保持", "each_unit": "每个单位"}
TREND = {"improving": "向好", "worsening": "变差", "flat": "持平"}
MEASURE_UNIT = {
    "percent": "%", "yuan": "万元", "school": "所", "teacher": "名", "program": "个", "person-time": "人次",
    "base": "个", "class": "个", "curriculum": "门", "group": "个", "site": "个",
}


def number(value: float | None, unit: str = "") -> str:
    """A value in its indicator's unit, rounded for display; "—" when there is none."""
    if value is None:
        return "—"
    if unit == "yuan":
        return f"{value / 10_000:,.2f}"
    if unit == "percent" or not float(value).is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def with_unit(value: float | None, unit: str) -> str:
    """A value followed by its unit of measure (Chinese)."""
    shown = number(value, unit)
    if shown == "—":
        return shown
    suffix = MEASURE_UNIT.get(unit, "")
    return f"{shown}{suffix}" if unit == "percent" else f"{shown} {suffix}".rstrip()


def ratio(value: float | None) -> str:
    """Pace, progress, attainment ratio: 2 decimals."""
    return "—" if value is None else f"{value:.2f}"


def op_word(op: str) -> str:
    """≥ / ≤ as people write them."""
    return {">=": "≥", "<=": "≤"}.get(op, op)


def why(r: AttainmentRow) -> str:
    """One sentence that explains a row's status from its own figures."""
    unit = r.measure_unit
    goal = f"目标 {op_word(r.op)}{with_unit(r.target, unit)}"
    if r.status == "no_data":
        return f"尚无可用数据；{goal}。"
    if r.kind == "each_unit" and r.units_total:
        return f"{r.units_met or 0}/{r.units_total} 个单位已达标；{goal}。"
    if r.kind == "every_year" or r.target_year is None:
        failed = [str(y.year) for y in r.years if y.met is False and not y.pending]
        missing = [str(y.year) for y in r.years if y.missing]
        parts = [goal]
        if failed:
            parts.append("未达标年份 " + "、".join(failed))
        if missing:
            parts.append("缺数年份 " + "、".join(missing))
        if r.actual:
            parts.append(f"{r.actual.year}年 {with_unit(r.actual.value, unit)}")
        return "；".join(parts) + "。"
    parts = []
    if r.actual:
        parts.append(f"{r.actual.year}年实际 {with_unit(r.actual.value, unit)}")
    if r.complete:
        parts.append(f"{r.complete.reported}/{r.complete.expected} 个下级已报送")
    if r.status == "insufficient_data":
        parts.append("下级报送不完整，无法判断" if r.reason == "incomplete" else "完整年份不足两年，无法预测")
    elif not r.deadline_passed and r.projection is not None:
        parts.append(f"预测{r.target_year}年 {with_unit(r.projection, unit)}，进度速度 {ratio(r.pace)}")
    parts.append(goal + (f"（{r.target_year}年）" if r.target_year else ""))
    if r.trend in TREND:
        parts.append(f"趋势{TREND[r.trend]}")
    return "；".join(parts) + "。"
