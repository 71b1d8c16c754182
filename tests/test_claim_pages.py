"""The biller's claim pages (issue 18 item 5): a claim from ticked lines, the claim page and its confirmed marks,
the list with its filters, the 835 upload; errors next to the field with the ticks kept; query counts that do not
grow with the rows."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kapclinic.accounts.models import User
from kapclinic.billing import claims as service
from kapclinic.billing.models import Claim, ClaimLine, MoneyEntry
from kapclinic.patients.models import Patient
from tests.test_claims import approved_line, billable, ctx_of
from tests.test_remittances import _file, _sent_claims

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(personas: dict[str, User]) -> dict[str, User]:
    return personas


def test_a_claim_from_ticked_lines_then_marked_submitted_with_confirmation(
    people: dict[str, User], team_patient: Patient, client_for: Any
) -> None:
    billable(team_patient, people)
    lines = [approved_line(team_patient, people), approved_line(team_patient, people, code="90834")]
    page = client_for("biller")
    listing = page.get("/billing/claims/new/")
    assert listing.status_code == 200 and f'value="{lines[0].pk}"' in listing.content.decode()
    made = page.post("/billing/claims/new/", {"lines": [line.pk for line in lines]})
    assert made.status_code == 302
    claim = Claim.objects.get()
    assert made["Location"] == f"/billing/claims/{claim.pk}/"
    shown = page.get(made["Location"]).content.decode()
    assert claim.number in shown and "90834" in shown and "Download the 837P file" in shown
    unconfirmed = page.post(made["Location"], {"op": "submitted"})
    assert unconfirmed.status_code == 422 and "Tick the box to confirm" in unconfirmed.content.decode()
    claim.refresh_from_db()
    assert claim.state == "draft"
    confirmed = page.post(made["Location"], {"op": "submitted", "submitted-confirm": "on"})
    assert confirmed.status_code == 302
    claim.refresh_from_db()
    assert claim.state == "submitted"
    denied = page.post(made["Location"], {"op": "denied", "denied-reason": "Not covered", "denied-confirm": "on"})
    assert denied.status_code == 302
    claim.refresh_from_db()
    assert claim.state == "denied"
    download = page.get(f"/billing/claims/{claim.pk}/837/")
    assert download.status_code == 200 and download.content.startswith(b"ISA*00*")


def test_lines_of_two_patients_are_refused_next_to_the_field_with_the_ticks_kept(
    people: dict[str, User], team_patient: Patient, other_patient: Patient, client_for: Any
) -> None:
    billable(team_patient, people)
    billable(other_patient, people)
    ids = [approved_line(team_patient, people).pk, approved_line(other_patient, people).pk]
    answer = client_for("biller").post("/billing/claims/new/", {"lines": ids})
    assert answer.status_code == 422
    body = answer.content.decode()
    assert "more than one patient" in body and 'id="lines-error"' in body
    assert all(f'value="{i}" id="line-{i}" checked' in body for i in ids)
    assert not Claim.objects.exists() and not ClaimLine.objects.exists()


def test_the_835_upload_posts_and_a_bad_file_is_refused_on_the_page(
    people: dict[str, User], team_patient: Patient, client_for: Any
) -> None:
    therapy, infusion = _sent_claims(people, team_patient)
    page = client_for("biller")
    bad = page.post("/billing/remittances/", {"file": SimpleUploadedFile("era.835", b"not an 835")})
    assert bad.status_code == 422 and "Not an X12 file" in bad.content.decode()
    assert not MoneyEntry.objects.exists()
    good = SimpleUploadedFile("era.835", _file(therapy, infusion).encode())
    posted = page.post("/billing/remittances/", {"file": good}, follow=True)
    assert posted.status_code == 200
    body = posted.content.decode()
    assert f"{infusion.number} denied" in body and "CHK1001" in body
    assert MoneyEntry.objects.count() == 2  # the payment and its CO-45; the denial posts no money


def test_the_list_filters_and_costs_the_same_queries_for_2_or_12_claims(
    people: dict[str, User], team_patient: Patient, other_patient: Patient, client_for: Any
) -> None:
    billable(team_patient, people)
    billable(other_patient, people)
    page = client_for("biller")
    ctx = ctx_of(people["biller"])

    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert page.get(url).status_code == 200
        return len(queries)

    made = [
        service.claim_create(ctx=ctx, line_ids=[approved_line(p, people).pk]) for p in (team_patient, other_patient)
    ]
    few, one = count("/billing/claims/"), count(f"/billing/claims/{made[0].pk}/")
    for _ in range(10):
        made.append(service.claim_create(ctx=ctx, line_ids=[approved_line(team_patient, people).pk]))
    assert count("/billing/claims/") == few
    big = service.claim_create(
        ctx=ctx, line_ids=[approved_line(team_patient, people, code=c).pk for c in ("90837", "90834", "90832", "96365")]
    )
    assert count(f"/billing/claims/{big.pk}/") == one
    service.claim_mark(ctx=ctx, claim_id=made[0].pk, state="submitted")
    filtered = page.get("/billing/claims/", {"state": "submitted"}).content.decode()
    assert made[0].number in filtered and made[1].number not in filtered
    by_payer = page.get("/billing/claims/", {"payer": made[0].payer_id + 999}).content.decode()
    assert "No claims match this filter" in by_payer


def test_clinicians_do_not_open_claim_pages(people: dict[str, User], team_patient: Patient, client_for: Any) -> None:
    billable(team_patient, people)
    claim = service.claim_create(ctx=ctx_of(people["biller"]), line_ids=[approved_line(team_patient, people).pk])
    therapist = client_for("therapist")
    assert therapist.get("/billing/claims/").status_code == 403
    assert therapist.get(f"/billing/claims/{claim.pk}/").status_code == 403
    assert therapist.get("/billing/claims/new/").status_code == 403
    auditor = client_for("auditor")
    assert auditor.get(f"/billing/claims/{claim.pk}/").status_code == 200
    assert (
        auditor.post(f"/billing/claims/{claim.pk}/", {"op": "submitted", "submitted-confirm": "on"}).status_code == 403
    )
