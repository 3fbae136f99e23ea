"""CSV answers of the GET endpoints: when CSV is wanted, and the response that carries it."""

from collections.abc import Sequence

from fastapi import Request, Response

from app.domain.catalog import Catalog
from app.domain.tables import to_csv
from app.domain.vocabulary import (
    DIRECTION_NAMES,
    FREQUENCY_NAMES,
    LEVEL_NAMES,
    MEASURE_NAMES,
    MEASURE_UNITS,
    PERIOD_NAMES,
)
from app.schemas.catalog import IndicatorRead
from app.schemas.measurements import ValueRead


def wants_csv(request: Request, fmt: str | None) -> bool:
    """`?format=csv`, or `Accept: text/csv` without an explicit `?format=json`."""
    return fmt == "csv" or (fmt is None and "text/csv" in request.headers.get("accept", ""))


def csv_response(body: bytes, name: str, *, headers: dict[str, str] | None = None) -> Response:
    """UTF-8 CSV (with a BOM, from domain.tables) as a download named `name`.csv."""
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"', **(headers or {})})


VALUE_COLUMNS = (
    ("indicator", "indicator", "指标代码"), ("indicator_name", "indicator_name", "指标名称"),
    ("unit", "unit", "单位代码"), ("unit_name", "unit_name", "单位"), ("period", "period", "期间"),
    ("period_type", "period_type", "期间类型"), ("value", "value", "数值"), ("numerator", "numerator", "分子"),
    ("denominator", "denominator", "分母"), ("comment", "comment", "备注"), ("recorded_at", "recorded_at", "填报时间"),
)
INDICATOR_COLUMNS = (
    ("code", "code", "指标代码"), ("name", "name", "指标名称"), ("task", "task", "任务"), ("action", "action", "行动"),
    ("departments", "departments", "责任处室"), ("unit", "unit", "计量单位"), ("measure", "measure", "类型"),
    ("direction", "direction", "方向"), ("level", "level", "填报层级"), ("frequency", "frequency", "填报频率"),
    ("min", "min", "下限"), ("max", "max", "上限"), ("source", "source", "来源"),
)
INDICATOR_WORDS = {"unit": MEASURE_UNITS, "measure": MEASURE_NAMES, "direction": DIRECTION_NAMES,
                   "level": LEVEL_NAMES, "frequency": FREQUENCY_NAMES}


def values_csv(catalog: Catalog, items: Sequence[ValueRead], *, chinese: bool) -> bytes:
    """Stored values as CSV; Chinese names of indicators and units beside their codes."""
    rows = []
    for v in items:
        ind, unit = catalog.indicators.get(v.indicator), catalog.units.get(v.unit)
        rows.append({**v.model_dump(), "indicator_name": (ind.name_zh if chinese else ind.name_en) if ind else None,
                     "unit_name": (unit.name if chinese or not unit.name_en else unit.name_en) if unit else None})
    return to_csv(VALUE_COLUMNS, rows, chinese=chinese, words={"period_type": PERIOD_NAMES})


def indicators_csv(catalog: Catalog, items: Sequence[IndicatorRead], *, chinese: bool) -> bytes:
    """The indicator catalog as CSV; departments by name in Chinese."""
    rows = []
    for i in items:
        names = [catalog.departments[d].name_zh if d in catalog.departments else d for d in i.departments]
        rows.append({**i.model_dump(), "name": i.name_zh if chinese else i.name_en,
                     "departments": "、".join(names) if chinese else " ".join(i.departments)})
    return to_csv(INDICATOR_COLUMNS, rows, chinese=chinese, words=INDICATOR_WORDS)
