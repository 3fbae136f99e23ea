"""The department scorecard computed by hand: three departments, a component with nothing to count, a tie."""

import pytest

from app.domain.department_scores import (
    BadWeights,
    Component,
    Counts,
    Weights,
    check_weights,
    components,
    rank,
)

# A: 3 of 4 deliverables on time (1 done_late; not_due and dropped are not judged), 1 of 2 progress reports on
#    time, 批示 2 of 2, targets 0 of 2 judged (the no_data rows left out).
#    score = 100 × (40·0.75 + 20·0.5 + 20·1 + 20·0) / 100 = 60.
A = Counts("a", deliverables={"done_on_time": 3, "done_late": 1, "not_due": 5, "dropped": 1}, progress_on_time=1,
           progress_due=2, instructions_in_time=2, instructions_addressed=2,
           targets={"missed": 1, "off_track": 1, "no_data": 3})
# B: nothing to count for 批示 (none addressed): it drops out and the rest rescale to 80.
#    on_time 1/2 (an overdue one), progress 4/4, targets 1/2 (on_track, missed):
#    100 × (40·0.5 + 20·1 + 20·0.5) / 80 = 100 × 50 / 80 = 62.5.
B = Counts("b", deliverables={"done_on_time": 1, "overdue": 1}, progress_on_time=4, progress_due=4,
           targets={"on_track": 1, "missed": 1})
# C: on_time 1/2 (done after an extension is not on time), progress 1/2, 批示 1/1, and targets 5/8 to tie with B:
#    100 × (40·0.5 + 20·0.5 + 20·1 + 20·0.625) / 100 = 100 × 62.5 / 100 = 62.5.
C = Counts("c", deliverables={"done_on_time": 1, "done_after_extension": 1}, progress_on_time=1, progress_due=2,
           instructions_in_time=1, instructions_addressed=1, targets={"achieved": 5, "at_risk": 3})
NOTHING = Counts("z")


def test_three_departments_by_hand_with_a_tie() -> None:
    lines = rank([C, NOTHING, B, A], Weights())
    assert [(line.counts.department, line.score, line.rank) for line in lines] == [
        ("b", 62.5, 1), ("c", 62.5, 1), ("a", 60.0, 3), ("z", None, None)]
    assert components(B)[Component.INSTRUCTIONS] is None
    assert components(A)[Component.TARGETS] == 0.0
    assert components(A)[Component.ON_TIME] == 0.75


def test_ties_share_a_rank_and_the_next_one_skips() -> None:
    lines = rank([B, C, A], Weights(on_time=1, progress=0, instructions=0, targets=0))
    # on_time alone: a 0.75, then b and c tie at 0.5
    assert [(line.counts.department, line.score, line.rank) for line in lines] == [
        ("a", 75.0, 1), ("b", 50.0, 2), ("c", 50.0, 2)]
    even = rank([B, C, Counts("d", deliverables={"done_late": 1})], Weights(1, 0, 0, 0))
    assert [(line.counts.department, line.rank) for line in even] == [("b", 1), ("c", 1), ("d", 3)]


def test_a_zero_weight_leaves_a_component_out() -> None:
    # Only 批示 weighted: B has none to count, so it has no score at all.
    lines = {line.counts.department: line for line in rank([A, B], Weights(0, 0, 5, 0))}
    assert lines["a"].score == 100.0 and lines["b"].score is None and lines["b"].rank is None


@pytest.mark.parametrize("weights,code", [
    (Weights(-1, 20, 20, 20), "negative_weight"),
    (Weights(0, 0, 0, 0), "weights_all_zero"),
    (Weights(1001, 0, 0, 0), "weight_too_large"),
])
def test_bad_weights(weights: Weights, code: str) -> None:
    with pytest.raises(BadWeights) as caught:
        check_weights(weights)
    assert caught.value.code == code
