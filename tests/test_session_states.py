"""The dosing session's states and moves as one table (issue 14, item 4: kapclinic/clinical/session_states.py):
every allowed move, some refused ones, and the table complete. Pure: no database."""

from __future__ import annotations

import pytest

from kapclinic.clinical.session_states import (
    ACTIVE,
    FINISHED,
    MOVES,
    RECORDED_IN,
    SessionState,
    Step,
    next_state,
    refusal,
)

S = SessionState

# Worked examples, read off the pathway (monitoring.md sections 1-6): (from, step, to).
ALLOWED = [
    (S.PROPOSED, Step.SCHEDULE, S.SCHEDULED),
    (S.PROPOSED, Step.CANCEL, S.CANCELLED),
    (S.SCHEDULED, Step.CANCEL, S.CANCELLED),
    (S.SCHEDULED, Step.CHECK_IN, S.CHECKED_IN),
    (S.CHECKED_IN, Step.RECORD_VITALS, S.CLEARED),  # a pre-dose reading within limits
    (S.CHECKED_IN, Step.RECORD_VITALS, S.HELD),  # outside them
    (S.HELD, Step.RECORD_VITALS, S.CLEARED),  # a recheck within limits
    (S.HELD, Step.OVERRIDE_HOLD, S.CLEARED),  # the prescriber's override, with a reason
    (S.CLEARED, Step.ADMINISTER, S.DOSING),
    (S.DOSING, Step.ADMINISTER, S.MONITORING),  # an injection, spray or lozenge: no infusion runs
    (S.DOSING, Step.END_INFUSION, S.MONITORING),
    (S.MONITORING, Step.RECOVER, S.RECOVERY),
    (S.MONITORING, Step.DISCHARGE, S.DISCHARGED),
    (S.RECOVERY, Step.DISCHARGE, S.DISCHARGED),
    *((state, Step.STOP, outcome) for state in ACTIVE for outcome in (S.STOPPED_EARLY, S.ESCALATED)),
]


@pytest.mark.parametrize(("from_state", "step", "to"), ALLOWED)
def test_every_allowed_move(from_state: SessionState, step: Step, to: SessionState) -> None:
    assert next_state(from_state, step, to) == to
    assert refusal(from_state, step) is None


def test_the_table_holds_the_worked_examples_and_nothing_else() -> None:
    assert {(m.from_state, m.step, m.to_state) for m in MOVES} == set(ALLOWED)


def test_a_step_with_one_way_out_needs_no_choice_and_one_with_two_does() -> None:
    assert next_state(S.SCHEDULED, Step.CHECK_IN) == S.CHECKED_IN
    assert next_state(S.HELD, Step.OVERRIDE_HOLD) == S.CLEARED
    assert next_state(S.CHECKED_IN, Step.RECORD_VITALS) is None  # cleared or held: the reading decides
    assert next_state(S.MONITORING, Step.STOP) is None  # stopped early or escalated: the nurse says
    assert next_state(S.MONITORING, Step.STOP, "escalated") == S.ESCALATED
    assert next_state(S.MONITORING, Step.STOP, "discharged") is None


@pytest.mark.parametrize(
    ("state", "step", "said"),
    [
        (S.HELD, Step.CHECK_IN, "Cannot check in: the session is held."),
        (S.CHECKED_IN, Step.ADMINISTER, "Cannot record the administration: the session is checked in."),
        (S.CLEARED, Step.OVERRIDE_HOLD, "Cannot override a hold: the session is cleared to dose."),
        (S.DOSING, Step.DISCHARGE, "Cannot discharge: the session is dosing."),
        (S.RECOVERY, Step.END_INFUSION, "Cannot move to monitoring: the session is recovery."),
        (S.DISCHARGED, Step.STOP, "Cannot stop the session: the session is discharged."),
        (S.SCHEDULED, Step.RECORD_VITALS, "Cannot record vitals: the session is scheduled."),
        (S.HELD, Step.ORDER_DOSE, "Cannot order the dose: the session is held."),
        (S.MONITORING, Step.SIGN, "Cannot sign: the session is monitoring."),
        (S.CANCELLED, Step.SIGN, "Cannot sign: the session is cancelled."),  # nothing happened to sign
        (S.DOSING, Step.CANCEL, "Cannot cancel: the session is dosing."),  # begun: stopped, not cancelled
    ],
)
def test_refused_steps_say_why_in_the_screens_words(state: SessionState, step: Step, said: str) -> None:
    assert refusal(state, step) == said
    assert next_state(state, step) is None


def test_steps_that_only_record_move_nothing_and_have_their_states() -> None:
    assert refusal(S.CLEARED, Step.ORDER_DOSE) is None and next_state(S.CLEARED, Step.ORDER_DOSE) is None
    assert refusal(S.RECOVERY, Step.RECORD_VITALS) is None and next_state(S.RECOVERY, Step.RECORD_VITALS) is None
    for state in (S.DISCHARGED, S.STOPPED_EARLY, S.ESCALATED):
        assert refusal(state, Step.SIGN) is None and refusal(state, Step.SUBMIT_REMS) is None
    assert refusal(S.PROPOSED, Step.CHANGE_CHECKLIST) is None and refusal(S.CHECKED_IN, Step.CHANGE_CHECKLIST)


def test_every_state_is_reached_from_proposed() -> None:
    reached, frontier = {S.PROPOSED}, [S.PROPOSED]
    while frontier:
        state = frontier.pop()
        for move in MOVES:
            if move.from_state == state and move.to_state not in reached:
                reached.add(move.to_state)
                frontier.append(move.to_state)
    assert reached == set(SessionState)


def test_finished_states_have_no_way_out_and_every_other_state_has_one() -> None:
    leaving = {m.from_state for m in MOVES}
    assert not leaving & FINISHED
    assert leaving == set(SessionState) - FINISHED


def test_every_step_is_in_the_table() -> None:
    assert {m.step for m in MOVES} | set(RECORDED_IN) == set(Step)


def test_the_labels_are_the_screens() -> None:
    assert [s.label for s in SessionState] == [
        "Proposed",
        "Scheduled",
        "Checked in",
        "Cleared to dose",
        "Held",
        "Dosing",
        "Monitoring",
        "Recovery",
        "Discharged",
        "Stopped early",
        "Escalated",
        "Cancelled",
    ]
