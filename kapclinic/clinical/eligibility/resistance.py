"""Treatment resistance: whether the prior trials meet the FDA label definition (Spravato PI 1).

eligibility.md section 3: at least 2 failed adequate trials in the current episode; the 6-week duration is
[unverified] (TRANSFORM, not found), so it is a policy default (`EligibilityPolicy.adequate_trial_weeks`).
"""

from __future__ import annotations

from collections.abc import Sequence

from kapclinic.clinical.eligibility.drugs import ORAL_ANTIDEPRESSANTS, normalise_text
from kapclinic.clinical.eligibility.policy import DEFAULT_POLICY, EligibilityPolicy
from kapclinic.clinical.eligibility.snapshot import TreatmentTrial, TrialResponse


def is_oral_antidepressant(trial: TreatmentTrial) -> bool:
    """Return whether the trial counts as an oral antidepressant: the prescriber's say, else the drug name."""
    if trial.antidepressant is not None:
        return trial.antidepressant
    return bool(ORAL_ANTIDEPRESSANTS.find((trial.drug,))[0])


# Each response in words, and why a trial with it does not count (None: an inadequate response, it counts).
_RESPONSES: dict[TrialResponse, tuple[str, str | None]] = {
    "none": ("no response", None),
    "partial": ("partial response", None),
    "response": ("response", "response, not an inadequate response"),
    "remission": ("remission", "remission, not an inadequate response"),
    "not_tolerated": ("not tolerated", "stopped for intolerance"),
}


def _weeks(value: float) -> str:
    return f"{value:g} wk"


def _not_counted(trial: TreatmentTrial, policy: EligibilityPolicy) -> list[str]:
    """Return why the trial does not count as an adequate trial with an inadequate response (empty: it counts)."""
    weeks = trial.duration_weeks
    too_short = weeks is not None and weeks < policy.adequate_trial_weeks
    # (the recorded answer, why it does not count when unrecorded, why it does not count as recorded, or None)
    checks: tuple[tuple[object, str, str | None], ...] = (
        (trial.adequate_dose, "dose adequacy not judged", None if trial.adequate_dose else "dose below adequate"),
        (
            weeks,
            "duration not recorded",
            f"{_weeks(weeks or 0)} < {_weeks(policy.adequate_trial_weeks)}" if too_short else None,
        ),
        (
            trial.current_episode,
            "episode not recorded",
            None if trial.current_episode else "not in the current episode",
        ),
        (trial.response, "response not recorded", _RESPONSES[trial.response or "none"][1]),
    )
    reasons = [] if is_oral_antidepressant(trial) else ["not recognised as an oral antidepressant"]
    for answer, unrecorded, disqualifies in checks:
        if answer is None:
            reasons.append(unrecorded)
        elif disqualifies is not None:
            reasons.append(disqualifies)
    return reasons


def treatment_resistance(
    trials: Sequence[TreatmentTrial] | None, policy: EligibilityPolicy = DEFAULT_POLICY
) -> tuple[bool, str]:
    """Return whether the trials establish treatment-resistant depression, and why.

    FDA label definition (Spravato PI 1): major depression with an inadequate response to at least 2 oral
    antidepressants of adequate dose and duration in the current episode. Adequate here means: an oral
    antidepressant, a dose the prescriber judged adequate (e.g. ATHF criteria, as in ELEKT-D), taken for at least
    `policy.adequate_trial_weeks` (6 by default: TRANSFORM's figure, [unverified]), in the current episode, with
    no response or only a partial one. A trial stopped for intolerance is not counted. Two trials of the same
    drug count once.
    """
    needed = policy.trials_for_resistance
    if not trials:
        return False, f"No prior treatment trials are recorded; {needed} adequate failed trials are needed."
    counted: dict[str, TreatmentTrial] = {}
    excluded: list[str] = []
    for trial in trials:
        reasons = _not_counted(trial, policy)
        key = normalise_text(trial.drug)
        if not reasons and key in counted:
            reasons.append("same drug as a counted trial")
        if reasons:
            excluded.append(f"{trial.drug} ({'; '.join(reasons)})")
        else:
            counted[key] = trial
    met = len(counted) >= needed
    listed = "; ".join(
        f"{t.drug} {_weeks(t.duration_weeks or 0)}, {_RESPONSES[t.response or 'none'][0]}" for t in counted.values()
    )
    text = (
        f"{len(counted)} of {needed} adequate trials with an inadequate response in the current episode "
        f"({listed or 'none'}): {'meets' if met else 'does not meet'} the FDA label definition of treatment-resistant "
        f"depression (Spravato PI 1; adequate duration {_weeks(policy.adequate_trial_weeks)} is a policy default, "
        "[unverified])."
    )
    if excluded:
        text += f" Not counted: {'; '.join(excluded)}."
    return met, text
