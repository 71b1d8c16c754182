"""The patient record export: what it holds, who may take it, and process notes only by their author's choice."""

from __future__ import annotations

from typing import Any

from kapclinic.accounts.models import User
from kapclinic.audit.context import AuditContext
from kapclinic.audit.models import AccessEvent
from kapclinic.patients.models import Patient
from kapclinic.therapy.services import note_draft_create, note_sign


def _signed(personas: dict[str, User], patient: Patient, kind: str, body: str) -> None:
    ctx = AuditContext(user=personas["therapist"], channel="test")
    note = note_draft_create(ctx=ctx, patient_id=patient.pk, kind=kind, values={"body": body})
    note_sign(ctx=ctx, note_id=note.pk)


def test_process_notes_stay_out_of_the_export_unless_their_author_includes_them(
    api_for: Any, client_for: Any, personas: dict[str, User], team_patient: Patient
) -> None:
    _signed(personas, team_patient, "integration", "Integration: walking every morning.")
    _signed(personas, team_patient, "process", "Process: my own counter-transference.")
    url = f"/api/v1/patients/{team_patient.pk}/record"
    for reader in ("therapist", "prescriber"):
        record = api_for(reader).get(url).json()
        bodies = [n["body"] for n in record["therapy_notes"]]
        assert "Integration: walking every morning." in bodies
        assert not any("counter-transference" in b for b in bodies), reader
    own = api_for("therapist").get(url, {"include_process_notes": "true"}).json()
    assert any("counter-transference" in n["body"] for n in own["therapy_notes"])
    # A colleague asking for "their own" process notes gets none of the author's.
    other = api_for("prescriber").get(url, {"include_process_notes": "true"}).json()
    assert not any("counter-transference" in n["body"] for n in other["therapy_notes"])
    assert own["patient"]["mrn"] == team_patient.mrn and own["format"] == "kapclinic-record-1"
    assert AccessEvent.objects.filter(action="patient.export", patient_id=team_patient.pk).count() == 4
    download = client_for("therapist").get(f"/patients/{team_patient.pk}/record.json")
    assert download.status_code == 200 and "attachment" in download["Content-Disposition"]
    assert "counter-transference" not in download.content.decode()


def test_who_may_export(api_for: Any, team_patient: Patient, other_patient: Patient) -> None:
    assert api_for("coordinator").get(f"/api/v1/patients/{team_patient.pk}/record").status_code == 403
    assert api_for("outsider_nurse").get(f"/api/v1/patients/{team_patient.pk}/record").status_code == 403
    own = api_for("patient_user").get(f"/api/v1/patients/{team_patient.pk}/record")
    assert own.status_code == 200 and "therapy_notes" not in own.json()  # a patient's copy: no clinicians' notes
    assert api_for("patient_user").get(f"/api/v1/patients/{other_patient.pk}/record").status_code in (403, 404)
