"""A patient's course as the outcome rules see it: the signed plan in force, its doses, and each instrument's scores.

Read through the plans, dosing and measures selectors; shared by the prompts (services) and the outcome pages
(selectors). Callers have checked access: nothing here is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kapclinic.clinical.instruments import INSTRUMENTS, Instrument
from kapclinic.clinical.outcomes import Score
from kapclinic.dosing.selectors import course_doses
from kapclinic.measures.selectors import scores_by_patient
from kapclinic.plans.models import TreatmentPlan
from kapclinic.plans.selectors import current_plan

# The instruments the rules judge: those with a response definition (outcomes.md section 2). PHQ-9 always: the
# clinic's primary outcome; the others when the plan measures them.
JUDGED = ("phq9", "gad7", "pcl5")
PRIMARY = "phq9"


@dataclass(frozen=True)
class Course:
    plan: TreatmentPlan
    dose_times: tuple[datetime, ...]
    sessions_to_come: int
    scores: dict[str, list[Score]]

    @property
    def first_dose(self) -> datetime | None:
        return self.dose_times[0] if self.dose_times else None

    @property
    def last_dose(self) -> datetime | None:
        return self.dose_times[-1] if self.dose_times else None

    @property
    def finished(self) -> bool:
        """Every session of the plan given or called off, at least one dose given."""
        return bool(self.dose_times) and self.sessions_to_come == 0

    def instruments(self) -> list[Instrument]:
        codes = [PRIMARY, *(code for code in self.plan.measures if code in JUDGED and code != PRIMARY)]
        return [INSTRUMENTS[code] for code in codes]


def course_of(patient_id: int) -> Course | None:
    """The patient's current course (the newest signed plan), or None without one. Four queries."""
    plan = current_plan(patient_id)
    if plan is None:
        return None
    doses = course_doses([plan.pk])[plan.pk]
    scores = scores_by_patient([patient_id], JUDGED)
    return Course(
        plan=plan,
        dose_times=doses.dose_times,
        sessions_to_come=doses.sessions_to_come,
        scores={code: scores.get((patient_id, code), []) for code in JUDGED},
    )
