"""A dosing session's states and the steps that move it, as one table the services consult.

Plain Python, no Django. The pathway (../shared/domain/monitoring.md sections 1-6): a proposed session is
scheduled, the patient checked in, the pre-dose reading clears or holds the dose (a hold is cleared by a recheck
within limits or the prescriber's override), the dose is given (an IV infusion runs in "dosing"; an injection,
spray or lozenge goes on to monitoring at once), then monitoring, recovery and discharge. A session that has
begun may be stopped early or escalated to emergency care; one not begun is cancelled (consent withdrawn, plan
replaced). A step that only records (a reading after the dose, an event, the order, the signature) moves nothing
and has the states it may be done in.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum, nonmember


class SessionState(StrEnum):
    PROPOSED = "proposed"
    SCHEDULED = "scheduled"
    CHECKED_IN = "checked_in"
    CLEARED = "cleared"
    HELD = "held"
    DOSING = "dosing"
    MONITORING = "monitoring"
    RECOVERY = "recovery"
    DISCHARGED = "discharged"
    STOPPED_EARLY = "stopped_early"
    ESCALATED = "escalated"
    CANCELLED = "cancelled"

    # Pages read the states by name (states.SCHEDULED); a template engine calls a callable (an enum class is one)
    # unless it says not to, as Django's own choices do.
    do_not_call_in_templates = nonmember(True)

    @property
    def label(self) -> str:
        return _LABELS.get(self, self.value.replace("_", " ").capitalize())


_LABELS = {SessionState.CLEARED: "Cleared to dose"}


class Step(StrEnum):
    """What is done to a session; the value is said in a refusal ("Cannot check in: the session is held.")."""

    SCHEDULE = "schedule"
    CANCEL = "cancel"
    CHANGE_CHECKLIST = "change the checklist"
    CHECK_IN = "check in"
    RECORD_VITALS = "record vitals"  # before the dose it clears or holds
    OVERRIDE_HOLD = "override a hold"
    ORDER_DOSE = "order the dose"
    ADMINISTER = "record the administration"
    END_INFUSION = "move to monitoring"
    RECOVER = "move to recovery"
    RECORD_EVENT = "record an event"
    DISCHARGE = "discharge"
    STOP = "stop the session"  # stopped early, or escalated to emergency care
    SIGN = "sign"
    SUBMIT_REMS = "submit the REMS form"


@dataclass(frozen=True)
class Move:
    from_state: SessionState
    to_state: SessionState
    step: Step


S = SessionState
NOT_STARTED = frozenset({S.PROPOSED, S.SCHEDULED})
BEFORE_DOSE = frozenset({S.CHECKED_IN, S.HELD})  # a reading now decides clearance (monitoring.md section 3)
AFTER_DOSE = frozenset({S.DOSING, S.MONITORING, S.RECOVERY})  # a reading now is judged for alerts
ACTIVE = frozenset({S.CHECKED_IN, S.CLEARED, S.HELD}) | AFTER_DOSE
ENDED = frozenset({S.DISCHARGED, S.STOPPED_EARLY, S.ESCALATED})  # the record is complete and may be signed
FINISHED = ENDED | {S.CANCELLED}
STOP_OUTCOMES = (S.STOPPED_EARLY, S.ESCALATED)

# Every move a session may make: from, to, and the step that makes it.
MOVES: tuple[Move, ...] = (
    Move(S.PROPOSED, S.SCHEDULED, Step.SCHEDULE),
    *(Move(state, S.CANCELLED, Step.CANCEL) for state in (S.PROPOSED, S.SCHEDULED)),
    Move(S.SCHEDULED, S.CHECKED_IN, Step.CHECK_IN),
    Move(S.CHECKED_IN, S.CLEARED, Step.RECORD_VITALS),
    Move(S.CHECKED_IN, S.HELD, Step.RECORD_VITALS),
    Move(S.HELD, S.CLEARED, Step.RECORD_VITALS),  # a recheck within limits
    Move(S.HELD, S.CLEARED, Step.OVERRIDE_HOLD),
    Move(S.CLEARED, S.DOSING, Step.ADMINISTER),
    Move(S.DOSING, S.MONITORING, Step.ADMINISTER),  # given at once: no infusion runs
    Move(S.DOSING, S.MONITORING, Step.END_INFUSION),
    Move(S.MONITORING, S.RECOVERY, Step.RECOVER),
    Move(S.MONITORING, S.DISCHARGED, Step.DISCHARGE),
    Move(S.RECOVERY, S.DISCHARGED, Step.DISCHARGE),
    *(Move(state, outcome, Step.STOP) for state in sorted(ACTIVE) for outcome in STOP_OUTCOMES),
)

# The steps that record without moving the session, and the states they may be done in.
RECORDED_IN: dict[Step, frozenset[SessionState]] = {
    Step.CHANGE_CHECKLIST: NOT_STARTED,
    Step.RECORD_VITALS: ACTIVE,
    Step.ORDER_DOSE: frozenset({S.CLEARED}),
    Step.RECORD_EVENT: ACTIVE,
    Step.SIGN: ENDED,
    Step.SUBMIT_REMS: ENDED,
}


def next_state(state: str, step: Step, to: str | None = None) -> SessionState | None:
    """The state `step` moves a session in `state` to (the one `to` names, when the step has a choice); None when
    the table has no such move."""
    targets = [m.to_state for m in MOVES if m.from_state == state and m.step == step]
    if to is not None:
        targets = [t for t in targets if t == to]
    return targets[0] if len(targets) == 1 else None


def refusal(state: str, step: Step) -> str | None:
    """None when `step` may be done to a session in `state` (a move from it, or a record in it); else why not."""
    if any(m.from_state == state and m.step == step for m in MOVES) or state in RECORDED_IN.get(step, ()):
        return None
    return f"Cannot {step}: the session is {SessionState(state).label.lower()}."
