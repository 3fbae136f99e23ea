"""The catalog as plain data: the unit tree, departments, tasks and indicators, indexed the ways requests
look them up. Loaded by db.catalog; nothing here touches the database."""

from dataclasses import dataclass, field

from app.domain.text import name_key
from app.i18n import Message, _

CITY = "370200"


@dataclass(frozen=True, slots=True)
class UnitRow:
    """A unit of the tree (plain data: thousands of schools load in milliseconds)."""

    code: str
    name: str
    name_en: str | None
    parent_code: str | None
    level: str
    aliases: list[str]


@dataclass(frozen=True, slots=True)
class RetiredUnitRow:
    """A code no longer in use, with its successor."""

    code: str
    name: str
    current_code: str


@dataclass(frozen=True, slots=True)
class DepartmentRow:
    code: str
    name_zh: str
    name_en: str
    aliases: list[str]


@dataclass(frozen=True, slots=True)
class TaskRow:
    number: int
    action_number: int
    text: str


@dataclass(frozen=True, slots=True)
class IndicatorRow:
    """An indicator as the rules see it (the same attribute names as the table)."""

    code: str
    task_number: int
    name_zh: str
    name_en: str
    unit: str
    measure: str
    direction: str
    level: str
    frequency: str
    min_value: float | None
    max_value: float | None
    source: str
    reporters: list[str] | None = None
    min_completeness: float = 1.0
    due_days: int = 31
    max_yoy_change: float = 0.5
    max_yoy_points: float = 10.0


@dataclass
class Catalog:
    """Units, departments, tasks and indicators, indexed the ways requests look them up."""

    units: dict[str, UnitRow]
    retired: dict[str, RetiredUnitRow]
    unit_names: dict[str, str]
    children: dict[str, list[str]]
    departments: dict[str, DepartmentRow]
    department_names: dict[str, str]
    tasks: dict[int, TaskRow]
    task_departments: dict[int, list[str]]
    indicators: dict[str, IndicatorRow]
    department_tasks: dict[str, list[int]] = field(default_factory=dict)
    parents: dict[str, str | None] = field(default_factory=dict)

    # Names and aliases by name_key: a unit given as "abc" or "A B C" finds the one stored as ＡＢＣ (names are
    # stored NFC as typed; two are the same name when their NFKC, case-folded, space-free forms are).
    name_keys: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.parents:
            self.parents = {code: u.parent_code for code, u in self.units.items()}
        if not self.name_keys:
            for name, code in self.unit_names.items():
                self.name_keys.setdefault(name_key(name), code)

    def resolve_unit(self, text: str) -> UnitRow | RetiredUnitRow | None:
        """A unit by code, name or alias; a retired code gives its RetiredUnitRow."""
        key = text.strip()
        if key in self.units:
            return self.units[key]
        if key in self.retired:
            return self.retired[key]
        code = self.unit_names.get(key) or self.name_keys.get(name_key(key))
        if code is not None:
            return self.units.get(code) or self.retired.get(code)
        return None

    def resolve_department(self, text: str) -> str | None:
        """A department code from its code, name or alias; None if there is no such department."""
        key = text.strip()
        return key if key in self.departments else self.department_names.get(key)

    def subtree(self, root: str) -> set[str]:
        """root and every unit under it."""
        found, stack = {root}, [root]
        while stack:
            for child in self.children.get(stack.pop(), []):
                if child not in found:
                    found.add(child)
                    stack.append(child)
        return found

    def ancestors(self, code: str) -> list[str]:
        """Parent, grandparent, … up to the root."""
        out: list[str] = []
        parent = self.units[code].parent_code if code in self.units else None
        while parent is not None and parent not in out:
            out.append(parent)
            parent = self.units[parent].parent_code
        return out

    def retired_message(self, retired: RetiredUnitRow) -> Message:
        current = self.units.get(retired.current_code)
        name = current.name if current else "?"
        return _("Unit code {code} ({name}) was retired; use the current code {current} ({current_name}).",
                 code=retired.code, name=retired.name, current=retired.current_code, current_name=name)
