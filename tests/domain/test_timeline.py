"""The roll-up's timelines (domain.timeline) against the whole-tree rule (domain.yearly.rollup): after every stamp
of a random history of own values in a random unit tree, the state each cell's line holds equals the rollup of the
values as they stood then — so the worker's level-by-level path and the rebuild share one rule."""

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.timeline import EMPTY, Line, ValueRevision, combine, own_line
from app.domain.yearly import Measure, rollup

YEAR = 2021
T0 = datetime(2026, 1, 1, tzinfo=UTC)
PERIODS = [("2021", "year", date(2021, 1, 1), date(2021, 12, 31)),
           ("2021Q2", "quarter", date(2021, 4, 1), date(2021, 6, 30)),
           ("2021S1", "semester", date(2021, 1, 1), date(2021, 6, 30))]


@st.composite
def histories(draw: st.DrawFn) -> tuple[Measure, dict[str, list[str]], list[tuple[int, str, int, float | None]]]:
    """A tree under "C" (districts, some with schools), and revisions (stamp, unit, period, value or delete)."""
    measure = draw(st.sampled_from(list(Measure)))
    children: dict[str, list[str]] = {"C": []}
    for d in range(draw(st.integers(1, 4))):
        district = f"D{d}"
        children["C"].append(district)
        children[district] = [f"{district}S{s}" for s in range(draw(st.integers(0, 3)))]
    units = [u for kids in children.values() for u in kids] + ["C"]
    # Flows: only the year period, so no two periods of one unit overlap (ingestion refuses that).
    periods = 1 if measure is Measure.FLOW else len(PERIODS)
    revisions = draw(st.lists(st.tuples(st.integers(0, 6), st.sampled_from(units), st.integers(0, periods - 1),
                                        st.one_of(st.none(), st.integers(1, 900).map(float))),
                              min_size=1, max_size=25))
    return measure, children, sorted(revisions, key=lambda r: r[0])


def _revision(period: int, value: float | None, stamp: int, measure: Measure) -> ValueRevision:
    label, kind, start, end = PERIODS[period]
    numerator, denominator = (value, 1000.0) if measure is Measure.RATE and value is not None else (None, None)
    shown = value / 10 if measure is Measure.RATE and value is not None else value
    return ValueRevision(label, kind, start, end, value is None, shown, numerator, denominator,
                         T0 + timedelta(seconds=stamp))


@settings(max_examples=150, deadline=None)
@given(histories(), st.integers(0, 6))
def test_lines_equal_the_whole_tree_rollup_after_every_stamp(
    history: tuple[Measure, dict[str, list[str]], list[tuple[int, str, int, float | None]]], split: int
) -> None:
    measure, children, revisions = history
    since = T0 + timedelta(seconds=split)
    by_unit: dict[str, list[ValueRevision]] = {}
    for stamp, unit, period, value in revisions:
        by_unit.setdefault(unit, []).append(_revision(period, value, stamp, measure))
    units = [u for kids in children.values() for u in kids] + ["C"]
    depth = {"C": 0, **{d: 1 for d in children["C"]}, **{s: 2 for d in children["C"] for s in children.get(d, [])}}
    lines: dict[str, Line] = {}
    for unit in sorted(units, key=lambda u: -depth[u]):
        own = own_line(measure=measure, year=YEAR, revisions=by_unit.get(unit, []), since=since)
        kids = {k: lines[k] for k in children.get(unit, [])}
        lines[unit] = combine(measure=measure, year=YEAR, total=len(children.get(unit, [])), own=own, children=kids)

    def state_at(line: Line, instant: datetime) -> object:
        found = line.base
        for s, st_ in line.changes:
            if s <= instant:
                found = st_
        return found.value

    for stamp in sorted({since - timedelta(seconds=1), *(T0 + timedelta(seconds=r[0]) for r in revisions)}):
        if stamp < since - timedelta(seconds=1):
            continue
        own_now = {}
        for unit in units:
            live: dict[str, ValueRevision] = {}
            for r in by_unit.get(unit, []):
                if r.recorded_at <= stamp:
                    if r.deleted:
                        live.pop(r.period, None)
                    else:
                        live[r.period] = r
            if live:
                later = stamp + timedelta(days=1)
                base, _ = own_line(measure=measure, year=YEAR, revisions=list(live.values()), since=later)
                if base is not None:
                    own_now[unit] = {YEAR: base}
        whole = rollup(measure=measure, children=children, own=own_now, root="C")
        for unit in units:
            expected = whole.get(unit, {}).get(YEAR)
            got = state_at(lines[unit], stamp)
            if expected is None:
                assert got is None, (unit, stamp)
            else:
                assert got is not None, (unit, stamp)
                assert (got.value, got.own, got.period) == (expected.value, expected.own, expected.period) or (
                    abs(got.value - expected.value) <= 1e-9 * max(1.0, abs(expected.value))
                    and (got.own, got.period) == (expected.own, expected.period)), (unit, stamp, got, expected)


def test_an_empty_history_is_an_empty_line() -> None:
    own = own_line(measure=Measure.STOCK, year=YEAR, revisions=[], since=T0)
    assert own == (None, [])
    assert combine(measure=Measure.STOCK, year=YEAR, total=0, own=own, children={}) == Line(EMPTY)


@st.composite
def parents(draw: st.DrawFn) -> tuple[Measure, dict[str, list[tuple[int, str, int, float | None]]], set[str], int]:
    """A parent's children with value histories; some children change (more revisions) after `split`."""
    measure = draw(st.sampled_from(list(Measure)))
    periods = 1 if measure is Measure.FLOW else len(PERIODS)
    kids = [f"S{k}" for k in range(draw(st.integers(1, 6)))]
    histories = {k: draw(st.lists(st.tuples(st.integers(0, 3), st.just(k), st.integers(0, periods - 1),
                                            st.one_of(st.none(), st.integers(1, 900).map(float))), max_size=4))
                 for k in kids}
    moving = draw(st.sets(st.sampled_from(kids)))
    for k in moving:
        histories[k] = histories[k] + draw(st.lists(st.tuples(st.integers(4, 8), st.just(k),
                                                              st.integers(0, periods - 1),
                                                              st.one_of(st.none(), st.integers(1, 900).map(float))),
                                                    min_size=1, max_size=4))
    return measure, histories, moving, draw(st.integers(0, 8))


@settings(max_examples=300, deadline=None)
@given(parents())
def test_a_parent_updated_by_its_changed_children_equals_one_read_from_all_of_them(
    case: tuple[Measure, dict[str, list[tuple[int, str, int, float | None]]], set[str], int]
) -> None:
    from app.domain.timeline import combine_delta

    measure, histories, moving, split = case
    since = T0 + timedelta(seconds=split)
    no_own = own_line(measure=measure, year=YEAR, revisions=[], since=since)

    def line_of(revs: list[tuple[int, str, int, float | None]]) -> Line:
        own = own_line(measure=measure, year=YEAR, since=since,
                       revisions=[_revision(p, v, s, measure) for s, _, p, v in sorted(revs, key=lambda r: r[0])])
        return combine(measure=measure, year=YEAR, total=0, own=own, children={})

    # Before: the moving children's later revisions not yet known; after: all of them.
    old = {k: line_of([r for r in revs if k not in moving or r[0] < 4]) for k, revs in histories.items()}
    new = {k: line_of(revs) for k, revs in histories.items()}
    parent_old = combine(measure=measure, year=YEAR, total=len(histories), own=no_own, children=old)
    full = combine(measure=measure, year=YEAR, total=len(histories), own=no_own, children=new,
                   stored=parent_old.base)
    delta = combine_delta(measure=measure, year=YEAR, total=len(histories), own=no_own, old=parent_old,
                          changed={k: (old[k], new[k]) for k in moving})
    if delta is None:
        return  # the delta declines only when a latest period may have moved: the full read is then taken
    assert len(delta.changes) == len(full.changes)
    for (s1, a), (s2, b) in zip(delta.changes, full.changes, strict=True):
        assert s1 == s2
        assert (a.sums.count, a.sums.period, a.value is None) == (b.sums.count, b.sums.period, b.value is None)
        assert abs(a.sums.value - b.sums.value) < 1e-6 and abs(a.sums.numerator - b.sums.numerator) < 1e-6
