"""Lights (红黄绿灯): one rule for every deliverable and one for every target row, the first that applies wins
(SPEC "Supervision"). API, CSV, pages and metrics all ask here."""

from enum import StrEnum

from app.domain.deliverables import DeliverableStatus
from app.domain.judgement import Status


class Light(StrEnum):
    RED = "red"
    YELLOW = "yellow"
    GREEN = "green"
    GREY = "grey"


LIGHTS: tuple[Light, ...] = tuple(Light)

_RED_TARGET = frozenset({Status.MISSED.value, Status.OFF_TRACK.value})
_YELLOW_TARGET = frozenset({Status.AT_RISK.value})
_GREY_TARGET = frozenset({Status.NO_DATA.value, Status.INSUFFICIENT_DATA.value})
_YELLOW_DELIVERABLE = frozenset({DeliverableStatus.DONE_LATE, DeliverableStatus.DONE_AFTER_EXTENSION})
_GREY_DELIVERABLE = frozenset({DeliverableStatus.DROPPED, DeliverableStatus.STANDING, DeliverableStatus.NOT_DUE})


def deliverable_light(*, status: DeliverableStatus, extension_pending: bool, progress_overdue: bool,
                      recent_progress: bool, instruction_overdue: bool) -> Light:
    """A deliverable's light. `instruction_overdue`: an overdue 批示 on the deliverable or its task.
    Standing and not_due ones are grey only when nothing is due from them (an overdue progress report or a
    pending extension makes them yellow first)."""
    if status == DeliverableStatus.OVERDUE or instruction_overdue:
        return Light.RED
    if (status in _YELLOW_DELIVERABLE or extension_pending or progress_overdue
            or (status == DeliverableStatus.DUE_SOON and not recent_progress)):
        return Light.YELLOW
    if status in _GREY_DELIVERABLE:
        return Light.GREY
    return Light.GREEN


def target_light(*, status: str, instruction_overdue: bool) -> Light:
    """A target row's light from its attainment status. `instruction_overdue`: an overdue 批示 on the target's
    indicator or its task."""
    if status in _RED_TARGET or instruction_overdue:
        return Light.RED
    if status in _YELLOW_TARGET:
        return Light.YELLOW
    if status in _GREY_TARGET:
        return Light.GREY
    return Light.GREEN
