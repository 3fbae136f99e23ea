"""Rules for a unit an admin adds: its names must not be confused with another unit's, its level sits below its
parent's."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from app.domain.text import echo, level_below, name_key
from app.domain.vocabulary import LEVEL_NAMES
from app.i18n import _


@dataclass(frozen=True, slots=True)
class Existing:
    """A unit (or retired unit) already known: its code and every name it answers to."""

    code: str
    names: tuple[str, ...]


def new_unit_problems(*, code: str, name: str, aliases: list[str], level: str, parent_level: str,
                      existing: Iterable[Existing]) -> list[dict[str, Any]]:
    """Per-field problems of a new unit (empty when it may be added). Names arrive NFKC-normalised.

    A name or alias may equal no unit's code, name or alias (compared case- and space-insensitively), since a
    submission names its unit by any of them; nor may the new unit's own names repeat each other or its code.
    """
    problems: list[dict[str, Any]] = []
    if not level_below(parent_level, level):
        problems.append({"location": "body.level", "code": "level_not_below_parent",
                         "message": _("a {level} cannot sit under a {parent} (city > district > school)",
                                      level=LEVEL_NAMES.get(level, level), parent=LEVEL_NAMES.get(parent_level,
                                                                                                  parent_level))})
    taken: dict[str, str] = {}
    for unit in existing:
        for n in (unit.code, *unit.names):
            taken.setdefault(name_key(n), unit.code)
    if name_key(code) in taken:
        problems.append({"location": "body.code", "code": "name_taken",
                         "message": _("'{text}' is already a code, name or alias of unit {unit}", text=echo(code),
                                      unit=taken[name_key(code)])})
    own: set[str] = {name_key(code)}
    for where, text in [("body.name", name), *((f"body.aliases.{i}", a) for i, a in enumerate(aliases))]:
        k = name_key(text)
        if k in taken:
            problems.append({"location": where, "code": "name_taken",
                             "message": _("'{text}' is already a code, name or alias of unit {unit}",
                                          text=echo(text), unit=taken[k])})
        elif k in own:
            problems.append({"location": where, "code": "name_repeated",
                             "message": _("'{text}' repeats the new unit's code or another of its names",
                                          text=echo(text))})
        own.add(k)
    return problems
