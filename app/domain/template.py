"""The clerk's .xlsx template: a sheet 填报 to fill in, a sheet 说明 explaining each indicator (Chinese)."""

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from app.domain.tables import neutralise
from app.domain.vocabulary import DIRECTION_NAMES, FREQUENCY_NAMES, MEASURE_NAMES, MEASURE_UNITS
from app.domain.workbook import TEMPLATE_SHEET
from app.i18n import Message

GUIDE_SHEET = "说明"
# Read back: 指标代码, 单位, 期间, 数值, 分子, 分母, 备注. Read past: 指标名称, 计量单位, 上年数值 (reference only).
HEADINGS = ("指标代码", "指标名称", "计量单位", "单位", "期间", "数值", "分子", "分母", "备注", "上年数值")
INPUT_COLUMNS = ("F", "G", "H", "I")
WIDTHS = (34, 46, 10, 10, 10, 12, 12, 12, 30, 12)
_HEAD = PatternFill("solid", fgColor="DDEBF7")
_INPUT = PatternFill("solid", fgColor="FFF2CC")


@dataclass(frozen=True, slots=True)
class Line:
    """One indicator the unit must report for the period."""

    code: str
    name_zh: str
    task: int
    task_text: str
    unit: str
    measure: str
    direction: str
    frequency: str
    low: float | None
    high: float | None
    previous: float | None


def build(*, unit_code: str, unit_name: str, period: str, previous_period: str, lines: Sequence[Line]) -> bytes:
    """The workbook's bytes."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = TEMPLATE_SHEET
    _fill(sheet, unit_name=unit_name, period=period, lines=lines)
    _guide(book.create_sheet(GUIDE_SHEET), unit_code=unit_code, unit_name=unit_name, period=period,
           previous_period=previous_period, lines=lines)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _fill(sheet: Worksheet, *, unit_name: str, period: str, lines: Sequence[Line]) -> None:
    sheet.append(HEADINGS)
    for cell in sheet[1]:
        cell.font, cell.fill = Font(bold=True), _HEAD
    for letter, width in zip("ABCDEFGHIJ", WIDTHS, strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "B2"
    bounds: dict[tuple[float | None, float | None], DataValidation] = {}
    fractions = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0", allow_blank=True,
                               showErrorMessage=True, errorTitle="数值无效", error="分子、分母须为不小于 0 的数字。")
    sheet.add_data_validation(fractions)
    for r, line in enumerate(lines, start=2):
        sheet.append([neutralise(line.code), neutralise(line.name_zh), _word(MEASURE_UNITS, line.unit),
                      neutralise(unit_name), neutralise(period), None, None, None, None, line.previous])
        for letter in INPUT_COLUMNS:
            cell = sheet[f"{letter}{r}"]
            cell.protection, cell.fill = Protection(locked=False), _INPUT
        if line.measure == "rate":
            fractions.add(f"G{r}:H{r}")
        else:
            sheet[f"G{r}"].protection = sheet[f"H{r}"].protection = Protection(locked=True)
            sheet[f"G{r}"].fill = sheet[f"H{r}"].fill = PatternFill()
        key = (line.low, line.high)
        if key not in bounds:
            bounds[key] = _bounds_rule(line.low, line.high)
            sheet.add_data_validation(bounds[key])
        bounds[key].add(f"F{r}")
    # Codes, names and periods are locked (no password: it guards against slips, not people).
    sheet.protection.sheet = True
    sheet.protection.formatColumns = sheet.protection.formatRows = False


def _bounds_rule(low: float | None, high: float | None) -> DataValidation:
    if low is not None and high is not None:
        rule = DataValidation(type="decimal", operator="between", formula1=f"{low:g}", formula2=f"{high:g}")
        text = f"请填写 {low:g} 至 {high:g} 之间的数字。"
    elif low is not None:
        rule = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1=f"{low:g}")
        text = f"请填写不小于 {low:g} 的数字。"
    elif high is not None:
        rule = DataValidation(type="decimal", operator="lessThanOrEqual", formula1=f"{high:g}")
        text = f"请填写不大于 {high:g} 的数字。"
    else:
        rule = DataValidation(type="decimal", operator="between", formula1="-1E15", formula2="1E15")
        text = "请填写数字。"
    rule.allow_blank, rule.showErrorMessage, rule.errorTitle, rule.error = True, True, "数值超出合理范围", text
    return rule


def _guide(sheet: Worksheet, *, unit_code: str, unit_name: str, period: str, previous_period: str,
           lines: Sequence[Line]) -> None:
    intro = [
        f"{unit_name}（{unit_code}）{period} 期间填报模板",
        "在“填报”工作表的黄色单元格中填写：比率类指标填分子和分母（数值由系统计算，也可一并填写以便核对）；"
        "其他指标只填数值。没有数据的行留空即可，空行不会提交。",
        "指标代码、指标名称、计量单位、单位和期间已锁定，请勿修改；“上年数值”为 "
        f"{previous_period} 已报数据，仅供参考，不会回读。",
        "上传：POST /api/v1/measurements，Content-Type 为 "
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet；有误的行会标明工作表、行号和单元格。",
        "",
    ]
    for text in intro:
        sheet.append([neutralise(text)])  # the first line starts with the unit's name, which an admin chose
    sheet["A1"].font = Font(bold=True, size=13)
    head = ("指标代码", "指标名称", "所属任务", "计量单位", "类型", "方向", "填报频率", "合理范围", "填报方法")
    sheet.append(head)
    for cell in sheet[len(intro) + 1]:
        cell.font, cell.fill = Font(bold=True), _HEAD
    for line in lines:
        how = ("填写分子和分母，数值 = 分子 ÷ 分母 × 100" if line.measure == "rate"
               else "填写期末数" if line.measure == "stock" else "填写期内发生额（各期不可重叠）")
        sheet.append([
            neutralise(line.code), neutralise(line.name_zh), neutralise(f"任务{line.task}：{line.task_text}"),
            _word(MEASURE_UNITS, line.unit), _word(MEASURE_NAMES, line.measure), _word(DIRECTION_NAMES, line.direction),
            _word(FREQUENCY_NAMES, line.frequency),
            _range(line.low, line.high), how,
        ])
    for letter, width in zip("ABCDEFGHI", (34, 46, 60, 10, 18, 12, 10, 16, 40), strict=True):
        sheet.column_dimensions[letter].width = width
    for row in sheet.iter_rows(min_row=len(intro) + 2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")


def _word(words: Mapping[str, Message], key: str) -> str:
    found = words.get(key)
    return found.render("zh") if found is not None else neutralise(key)


def _range(low: float | None, high: float | None) -> str:
    return f"{'…' if low is None else f'{low:g}'} – {'…' if high is None else f'{high:g}'}"
