"""Score trajectories for the chart: one chart per instrument the patient has scores for."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from kapclinic.clinical.instruments import INSTRUMENTS, Instrument
from kapclinic.clinical.outcomes import Trajectory, trajectory
from kapclinic.measures.charts import TrajectoryRow, dose_moment, trajectory_summary, trajectory_svg, trajectory_table
from kapclinic.measures.models import QuestionnaireResponse
from kapclinic.prepared import prepared_rows
from kapclinic.replica import replica_reads


@dataclass(frozen=True)
class ChartTrajectory:
    """What the chart's partial shows for one instrument: the SVG, its caption, and the table behind it."""

    instrument: Instrument
    trajectory: Trajectory
    svg: SafeString
    summary: str
    rows: list[TrajectoryRow]


def _scored(patient_id: int) -> QuerySet[QuestionnaireResponse, tuple[str, datetime, int | None]]:
    return (
        QuestionnaireResponse.objects.filter(patient_id=patient_id, total__isnull=False, corrections__isnull=True)
        .order_by("submitted_at", "id")
        .values_list("instrument", "submitted_at", "total")
    )


@replica_reads()  # the outcome charts: from the replica when there is one (kapclinic/replica.py)
def trajectories_for_patient(*, patient_id: int, dosing_dates: Sequence[date] = ()) -> list[ChartTrajectory]:
    """Return one trajectory per instrument with a total, in the registry's order (the chart read is audited).

    One query. A response that a later one corrects is left out (the correction stands in its place), and so
    is one without a total (not scorable) or for an instrument that gives no total (the C-SSRS triage).
    """
    # Prepared (kapclinic/prepared.py): built and compiled once per process, as the chart's other reads.
    rows = prepared_rows("measures.trajectories_for_patient", _scored, patient_id)
    series: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for code, submitted_at, total in rows:
        if total is not None:
            series[code].append((submitted_at, total))
    # The clinic's zone, not a per-user one: a date on the chart means the same day to everyone at the clinic.
    tz = timezone.get_default_timezone()
    # The first dosing session also ends the baseline (outcomes.md: "last score before first dose"); with no
    # sessions given the first score is the baseline.
    first_dose = min((dose_moment(day, tz) for day in dosing_dates), default=None)
    charts: list[ChartTrajectory] = []
    for code, instrument in INSTRUMENTS.items():
        points = series.get(code)
        if not points or instrument.scoring != "sum":
            continue
        result = trajectory(instrument, points, first_dose=first_dose)
        charts.append(
            ChartTrajectory(
                instrument=instrument,
                trajectory=result,
                # Safe: kapclinic.measures.charts writes every text and attribute through html.escape.
                svg=mark_safe(trajectory_svg(instrument, result, dosing_dates, tz=tz)),  # noqa: S308
                summary=trajectory_summary(instrument, result, tz=tz),
                rows=trajectory_table(instrument, result, tz=tz),
            )
        )
    return charts
