"""Rules for a unit an admin adds: its names must not be confused with another unit's, its level sits below its
parent's."""

from collections.abc import Iterable
from dataclasses import dataclass

from app.domain.text import echo, level_below, name_key


@dataclass(frozen=True, slots=True)
class Existing:
    """A unit (or retired unit) already known: its code and every name it answers to."""

    code: str
    names: tuple[str, ...]


def new_unit_problems(*, code: str, name: str, aliases: list[str], level: str, parent_level: str,
                      existing: Iterable[Existing]) -> list[dict[str, str]]:
    """Per-field problems of a new unit (empty when it may be added). Names arrive NFKC-normalised.

    A name or alias may equal no unit's code, name or alias (compared case- and space-insensitively), since a
    submission names its unit by any of them; nor may the new unit's own names repeat each other or its code.
    """
    problems: list[dict[str, str]] = []
    if not level_below(parent_level, level):
        problems.append({"location": "body.level", "code": "level_not_below_parent",
                         "message": f"a {level} cannot sit under a {parent_level} (city > district > school)"})
    taken: dict[str, str] = {}
    for unit in existing:
        for n in (unit.code, *unit.names):
            taken.setdefault(name_key(n), unit.code)
    if name_key(code) in taken:
        problems.append({"location": "body.code", "code": "name_taken",
                         "message": f"'{echo(code)}' is already a code, name or alias of unit {taken[name_key(code)]}"})
    own: set[str] = {name_key(code)}
    for where, text in [("body.name", name), *((f"body.aliases.{i}", a) for i, a in enumerate(aliases))]:
        k = name_key(text)
        if k in taken:
            problems.append({"location": where, "code": "name_taken",
                             "message": f"'{echo(text)}' is already a code, name or alias of unit {taken[k]}"})
        elif k in own:
            problems.append({"location": where, "code": "name_repeated",
                             "message": f"'{echo(text)}' repeats the new unit's code or another of its names"})
        own.add(k)
    return problems
