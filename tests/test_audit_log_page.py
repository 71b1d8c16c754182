"""The audit log page in words (issue 13, defect 10): actions and details in words, one line a row, and a filter
by patient name."""

from __future__ import annotations

from typing import Any

from kapclinic.patients.models import Patient


def test_the_log_reads_in_words(client_for: Any, team_patient: Patient) -> None:
    client_for("prescriber").get(f"/patients/{team_patient.pk}/")
    page = client_for("director").get("/audit/").content.decode()
    assert '<td title="patient.view">Opened the chart</td>' in page
    assert ">patient.view<" not in page  # the code only as a tooltip (and in the CSV)
    assert '<span class="mono">second_factor_pending</span>' not in page


def test_filter_by_patient_name(client_for: Any, team_patient: Patient, other_patient: Patient) -> None:
    client_for("prescriber").get(f"/patients/{team_patient.pk}/")
    client_for("coordinator").get(f"/patients/{other_patient.pk}/")
    director = client_for("director")
    by_name = director.get("/audit/", {"patient": team_patient.family_name.lower()}).content.decode()
    assert team_patient.mrn in by_name and other_patient.mrn not in by_name
    both = director.get("/audit/", {"patient": "a"}).content.decode()  # both names hold an "a"
    assert "Several patients match" in both and f'href="?patient={other_patient.mrn}"' in both
    nobody = director.get("/audit/", {"patient": "Nobodyhere"}).content.decode()
    assert "No patient has that name either." in nobody
