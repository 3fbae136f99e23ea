"""What a notice says, in Chinese (its readers are the bureau's 处室, districts and leaders); links are absolute."""

from dataclasses import dataclass
from datetime import date

from app.domain.reminders import Kind, Step


@dataclass(frozen=True, slots=True)
class Text:
    title: str
    body: str
    link: str | None


def _d(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _short(title: str) -> str:
    # Robots show the title as the chat preview: keep it short, the body carries the whole name.
    return title if len(title) <= 40 else title[:40] + "…"


def deliverable_text(step: Step, *, code: str, title: str, deadline: date, departments: str, link: str | None
                     ) -> Text:
    """A deadline reminder, an overdue notice or a 催办 about a deliverable."""
    name = f"「{title}」（{code}）"
    title = _short(title)
    if step.kind == Kind.DEADLINE_REMINDER:
        left = (deadline - step.due_day).days
        return Text(f"【到期提醒】{title}",
                    f"{name}将于{_d(deadline)}到期，还有 {left} 天。责任处室：{departments}。", link)
    late = (step.due_day - deadline).days
    if step.kind == Kind.OVERDUE:
        return Text(f"【逾期通知】{title}",
                    f"{name}已于{_d(deadline)}到期，尚未完成（逾期 {late} 天）。责任处室：{departments}。"
                    "请尽快办理，或报送进展与延期申请。", link)
    return Text(f"【第{step.seq}次催办】{title}",
                f"第{step.seq}次催办：{name}已逾期 {late} 天（截止{_d(deadline)}），仍未完成。"
                f"责任处室：{departments}。请即办理并报送进展。", link)


def report_text(step: Step, *, indicator: str, unit: str, year: int, due: date, link: str | None) -> Text:
    """A reporting reminder or a missing-report notice for a district."""
    what = f"{unit}「{indicator}」{year}年度数据"
    if step.kind == Kind.REPORT_DUE:
        left = (due - step.due_day).days
        return Text(f"【填报提醒】{indicator} {year}年度",
                    f"请于{_d(due)}前报送{what}（还有 {left} 天）。", link)
    return Text(f"【缺报通知】{indicator} {year}年度",
                f"{what}应于{_d(due)}前报送，至今未报，请尽快补报。", link)


def progress_text(*, code: str, title: str, due: date, link: str | None) -> Text:
    """A progress report is due on a deliverable."""
    return Text(f"【进展报送提醒】{_short(title)}",
                f"「{title}」（{code}）应于{_d(due)}前报送进展情况（含佐证材料），请及时报送。", link)


def extension_text(*, code: str, title: str, approved: bool, new_deadline: date, note: str | None,
                   link: str | None) -> Text:
    """A decision on a department's extension request."""
    verdict = "已批准" if approved else "未获批准"
    body = (f"「{title}」（{code}）的延期申请{verdict}"
            + (f"，完成时间调整为{_d(new_deadline)}。" if approved else "，仍按原完成时间办理。")
            + (f"意见：{note}" if note else ""))
    return Text(f"【延期申请{verdict}】{_short(title)}", body, link)


def instruction_text(*, number: int, target: str, text: str, respond_by: date | None, link: str | None) -> Text:
    """A 批示 addressed to a department."""
    due = f"请于{_d(respond_by)}前反馈。" if respond_by else "请及时反馈。"
    return Text(f"【领导批示】{target}", f"第 {number} 号批示（{target}）：{text[:500]}　{due}", link)


def reply_text(*, number: int, target: str, department: str, link: str | None) -> Text:
    """A department answered a 批示."""
    return Text(f"【批示反馈】{target}", f"{department}已反馈第 {number} 号批示（{target}）。", link)
