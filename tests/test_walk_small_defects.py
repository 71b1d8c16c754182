"""Smaller defects found walking the pathway (issue 13, defect 10): a converted chart shows its inquiry, the
"different person" box only beside duplicates shown, session tables link to the session screen, amounts and
names written one way."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.template import engines
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.dosing.models import DosingSession, SessionState
from kapclinic.intake.models import Inquiry
from kapclinic.patients.models import Patient
from kapclinic.patients.templatetags.clinic_words import (
    amount,
    day,
    day_time,
    instrument_name,
    mg,
    patient_name,
    person,
    weekday_time,
)
from tests.probes.records import MODERATE, plan_make

INQUIRY = {
    "given_name": "Sorrel",
    "family_name": "Walktest",
    "phone": "(212) 555-0142",
    "reason": "Depression that has not lifted with two medications.",
    "consent_to_contact": "on",
    "source": "phone",
}


def test_a_converted_chart_shows_its_inquiry_and_no_needless_confirmation(client_for: Any) -> None:
    coordinator = client_for("coordinator")
    coordinator.post("/intake/inquiries/new/", INQUIRY)
    inquiry = Inquiry.objects.get()
    page = coordinator.get(f"/intake/inquiries/{inquiry.pk}/").content.decode()
    assert "This may be someone already registered" not in page
    assert "different person" not in page  # no duplicates shown: nothing to confirm
    converted = coordinator.post(f"/intake/inquiries/{inquiry.pk}/", {"birth_date": "1980-02-03"})
    chart = coordinator.get(converted["Location"]).content.decode()
    assert "No inquiry" not in chart
    assert "Inquiry received" in chart and f'href="/intake/inquiries/{inquiry.pk}/"' in chart


def test_the_plan_and_chart_session_tables_link_to_the_session(
    client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    plan = plan_make(
        team_patient, personas, session_count=1, signed_at=timezone.now(), signed_by=personas["prescriber"], **MODERATE
    )
    session = DosingSession.objects.create(
        patient=team_patient, plan=plan, number=1, scheduled_for=timezone.now(), state=SessionState.SCHEDULED
    )
    link = f'<a href="/dosing/sessions/{session.pk}/">Session 1</a>'
    nurse = client_for("nurse")
    assert link in nurse.get(f"/patients/{team_patient.pk}/").content.decode()
    assert link in nurse.get(f"/plans/{plan.pk}/").content.decode()


def test_one_way_to_write_each_thing(team_patient: Patient, personas: dict[str, User]) -> None:
    assert amount(Decimal("198.000")) == "198" and amount(Decimal("12.500")) == "12.5"
    assert amount(Decimal("-39.000")) == "-39" and amount(Decimal("0.125")) == "0.125"
    assert mg(Decimal("56.000")) == "56 mg" and mg(None) == "—"
    assert person(team_patient) == "Alder Teampatient"
    assert person(personas["nurse"]) == (personas["nurse"].get_full_name() or personas["nurse"].username)
    assert instrument_name("phq9") == "PHQ-9" and instrument_name("gad7") == "GAD-7"
    assert day(date(2026, 12, 4)) == "Dec 4, 2026"
    assert patient_name(team_patient) == "TEAMPATIENT, Alder"
    moment = datetime(2026, 12, 4, 19, 5, tzinfo=UTC)  # 14:05 in New York
    assert day_time(moment) == "Dec 4, 2026, 14:05" and weekday_time(moment) == "Fri, Dec 4, 2026, 14:05"
    # A date a template prints without a filter reads the same (kapclinic/formats/en/formats.py).
    template = engines["django"].from_string("{{ d }} | {{ m }} | {{ d|date }}")
    assert template.render({"d": date(2026, 12, 4), "m": moment}) == "Dec 4, 2026 | Dec 4, 2026, 14:05 | Dec 4, 2026"


TEMPLATES = Path(__file__).resolve().parent.parent / "kapclinic" / "templates"
# Formats a page may still spell out: times of day, and the calendar's own headings ("Friday, December 4").
KEPT_FORMATS = {"H:i", "H:i T", "D H:i", "D", "l, F j", "l, M j"}


def test_no_template_writes_a_date_or_a_patient_name_its_own_way() -> None:
    """Every date goes through the clinic_words filters and every patient name through patient_name or person."""
    strays = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        if path.name == "rems_print.html":  # the REMS monitoring form keeps the form's own MM/DD/YYYY
            continue
        text = path.read_text(encoding="utf-8")
        strays += [f"{path.name}: {f}" for f in re.findall(r'\|date:"([^"]*)"', text) if f not in KEPT_FORMATS]
        strays += [f"{path.name}: {m}" for m in re.findall(r"\{\{ [\w.]*family_name[^}]*\}\}, \{\{", text)]
        strays += [f"{path.name}: {m}" for m in re.findall(r"\{\{ [\w.]*instrument\|upper", text)]
        strays += [f"{path.name}: {m}" for m in re.findall(r"\{\{ [\w.]*(?:full_name|person_name) \}\}", text)]
    assert strays == []
