"""Completeness of yearly values (docs/ATTAINMENT.md "Completeness"): which units must report an indicator,
which children a parent expects, and whether each A(u, y) is complete — computed bottom-up over the unit tree
from per-unit facts (own covering value or children's aggregate), so silence never makes a parent look better."""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.domain.catalog import Catalog
from app.domain.yearly import YearValue

DEFAULT_MIN_COMPLETENESS = 1.0


@dataclass(frozen=True, slots=True)
class Scope:
    """Who must report an indicator, and the share of expected children a parent needs to be complete."""

    reporters: frozenset[str]
    min_completeness: float = DEFAULT_MIN_COMPLETENESS


def needed(min_completeness: float, expected: int) -> int:
    """⌈min_completeness × expected⌉, immune to binary fractions (0.7 × 10 is 7, not 8)."""
    return max(0, math.ceil(round(min_completeness * expected, 9)))


def default_reporters(levels: Mapping[str, str], level: str) -> frozenset[str]:
    """Every unit at the indicator's level (SPEC.md "Schedule")."""
    return frozenset(code for code, lvl in levels.items() if lvl == level)


def units_by_level(catalog: Catalog) -> dict[str, frozenset[str]]:
    """Every unit grouped by level: the default reporter lists, built once for all indicators."""
    grouped: dict[str, set[str]] = {}
    for code, u in catalog.units.items():
        grouped.setdefault(u.level, set()).add(code)
    return {level: frozenset(codes) for level, codes in grouped.items()}


def scope_of(catalog: Catalog, state: Mapping[str, Any], by_level: Mapping[str, frozenset[str]] | None = None
             ) -> Scope:
    """An indicator's Scope from its row or a revision's state (older states lack the fields: defaults)."""
    listed = state.get("reporters")
    if listed is not None:
        reporters = frozenset(u for u in listed if u in catalog.units)
    else:
        reporters = (by_level if by_level is not None else units_by_level(catalog)).get(state["level"], frozenset())
    minimum = state.get("min_completeness")
    return Scope(reporters, DEFAULT_MIN_COMPLETENESS if minimum is None else float(minimum))


def reporter_codes(catalog: Catalog, listed: Iterable[str] | None, level: str) -> list[str]:
    """The reporter list shown for an indicator: its own list, or every unit at its level."""
    if listed is not None:
        return sorted(listed)
    return sorted(default_reporters({c: u.level for c, u in catalog.units.items()}, level))


class Tree:
    """Expected children per parent for one reporter list: children that report or have reporters below."""

    def __init__(self, *, children: Mapping[str, Sequence[str]], parents: Mapping[str, str | None],
                 reporters: Iterable[str]) -> None:
        relevant: set[str] = set()
        for unit in reporters:
            node: str | None = unit
            while node is not None and node not in relevant:
                relevant.add(node)
                node = parents.get(node)
        self.relevant = frozenset(relevant)
        # Built once from the relevant units, never by scanning a district's hundreds of schools per question.
        expected: dict[str, list[str]] = {}
        for unit in relevant:
            parent = parents.get(unit)
            if parent is not None and unit in children.get(parent, ()):
                expected.setdefault(parent, []).append(unit)
        self._expected = {parent: sorted(kids) for parent, kids in expected.items()}

    def expected(self, unit: str) -> list[str]:
        """Direct children of unit that are reporters or have reporters below them."""
        return self._expected.get(unit, [])


def mark(*, tree: Tree, scope: Scope, series: Mapping[str, Mapping[int, YearValue]]) -> dict[str, dict[int, YearValue]]:
    """Every unit's yearly values with `complete`, and `reported`/`total` (expected) on aggregated years.

    `series` holds effective values (own or aggregated); units that are missing have no value. Only expected
    children are looked at, so a series holding the reporters and their ancestors is enough.
    """
    memo: dict[tuple[str, int], bool] = {}

    def complete(unit: str, year: int) -> bool:
        key = (unit, year)
        if key not in memo:
            value = series.get(unit, {}).get(year)
            if value is None:
                memo[key] = False
            elif value.own:
                memo[key] = value.covers
            else:
                expected = tree.expected(unit)
                reported = sum(1 for kid in expected if complete(kid, year))
                memo[key] = reported >= needed(scope.min_completeness, len(expected))
        return memo[key]

    out: dict[str, dict[int, YearValue]] = {}
    for unit, years in series.items():
        marked: dict[int, YearValue] = {}
        expected = tree.expected(unit)
        for year, value in years.items():
            if value.own:
                same = value.complete == value.covers and value.reported == value.total == 0
                marked[year] = value if same else _with(value, value.covers, 0, 0)
            else:
                reported = sum(1 for kid in expected if complete(kid, year))
                marked[year] = _with(value, complete(unit, year), reported, len(expected))
        out[unit] = marked
    return out


def _with(v: YearValue, complete: bool, reported: int, total: int) -> YearValue:
    # A direct constructor call: dataclasses.replace costs several times more, thousands of times per report.
    return YearValue(v.year, v.value, v.numerator, v.denominator, v.period, v.period_end, v.own, reported, total,
                     v.covers, complete)


def completed_at(
    *, tree: Tree, scope: Scope, series: Mapping[str, Mapping[int, YearValue]],
    covered: Mapping[tuple[str, int], datetime], unit: str, year: int,
) -> datetime | None:
    """When A(unit, year) became complete: its own covering values' time, or the moment the needed share of
    its expected children had completed. None while incomplete (or, for an aggregate that expects nothing
    below it, when no time is known)."""
    value = series.get(unit, {}).get(year)
    if value is None:
        return None
    if value.own:
        return covered.get((unit, year)) if value.covers else None
    expected = tree.expected(unit)
    need = needed(scope.min_completeness, len(expected))
    times = sorted(t for kid in expected
                   if (t := completed_at(tree=tree, scope=scope, series=series, covered=covered, unit=kid,
                                         year=year)) is not None)
    if need == 0:
        return times[0] if times else None
    return times[need - 1] if len(times) >= need else None
