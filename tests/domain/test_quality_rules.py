"""The quality rules over plain numbers (SPEC.md "Quality flags")."""

from app.domain.quality import OUTLIER_PEERS, OUTLIER_YOY, peers, yoy


def test_yoy_for_stocks_and_flows_is_a_fraction_of_the_previous_value() -> None:
    flagged = yoy(rate=False, previous=100, current=160, max_change=0.5, max_points=10)
    assert flagged is not None and flagged.code == OUTLIER_YOY and abs(flagged.figures["change"] - 0.6) < 1e-12
    assert yoy(rate=False, previous=100, current=140, max_change=0.5, max_points=10) is None
    assert yoy(rate=False, previous=100, current=40, max_change=0.5, max_points=10) is not None  # −60%
    assert yoy(rate=False, previous=0, current=50, max_change=0.5, max_points=10) is None
    assert yoy(rate=False, previous=None, current=50, max_change=0.5, max_points=10) is None


def test_yoy_for_rates_is_in_percentage_points() -> None:
    assert yoy(rate=True, previous=80, current=92, max_change=0.5, max_points=10) is not None
    assert yoy(rate=True, previous=80, current=89, max_change=0.5, max_points=10) is None
    assert yoy(rate=True, previous=10, current=14.9, max_change=0.1, max_points=5) is None  # +49% yet < 5 points


def test_peers_leave_the_unit_out_and_need_five_varying_siblings() -> None:
    siblings = [90, 91, 89, 90, 92, 88, 90, 91, 89]
    far = peers(current=50, siblings=siblings)
    assert far is not None and far.code == OUTLIER_PEERS and far.figures["z"] < -3
    # Had 50 been among its own peers, the spread would hide it: z ≈ −2.8.
    assert peers(current=50, siblings=[*siblings, 50]) is None
    assert peers(current=50, siblings=[90, 91, 89, 90]) is None  # four siblings
    assert peers(current=50, siblings=[90] * 9) is None  # no spread


def test_peers_of_a_whole_group_agree_with_one_at_a_time() -> None:
    from app.domain.quality import peers_of_all

    group = {f"d{i}": v for i, v in enumerate([90, 91, 89, 90, 92, 88, 90, 91, 89, 50])}
    found = peers_of_all(group)
    assert set(found) == {"d9"}
    one = peers(current=50, siblings=[v for k, v in group.items() if k != "d9"])
    assert one is not None and abs(found["d9"].figures["z"] - one.figures["z"]) < 1e-6
    assert peers_of_all({f"d{i}": 0.1 + 0.2 for i in range(6)} | {"x": 0.3}) == {}
    assert peers_of_all({f"d{i}": 90.0 for i in range(4)} | {"x": 50.0}) == {}  # four siblings
