"""Video links are https addresses with a real host, checked in the service and again on output (issue 12, fault 4).

The attack: the API accepted `javascript:alert(document.cookie)` as a video link and the appointment page
rendered it as a link that runs script when clicked.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from kapclinic.accounts.models import User
from kapclinic.appointments.models import Appointment
from kapclinic.intake.models import Inquiry

SCRIPT = "javascript:alert(document.cookie)"

REFUSED = [
    SCRIPT,
    "JavaScript:alert(1)//https://meet.example.com",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "http://meet.example.com/room-1",  # not encrypted
    "https://",  # no host
    "https:///room-1",
    "https://meet example.com/room",
    "https://user:secret@meet.example.com/room",
    "//meet.example.com/room",
    "https://meet.example.com/" + "a" * 200,  # longer than the column
]


def _inquiry() -> Inquiry:
    return Inquiry.objects.create(
        given_name="Yarrow", family_name="Linktest", phone="212-555-0170", reason="Depression", source="phone"
    )


def _starts_at(hours: int = 24) -> str:
    return (timezone.localtime() + timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0).isoformat()


def _api_book(api: Any, personas: dict[str, User], inquiry: Inquiry, link: str) -> Any:
    body = {
        "kind": "consultation",
        "with_user": personas["coordinator"].pk,
        "starts_at": _starts_at(),
        "minutes": 30,
        "mode": "video",
        "video_link": link,
        "inquiry": inquiry.pk,
    }
    return api.post("/api/v1/appointments", body, content_type="application/json")


@pytest.mark.parametrize("link", REFUSED)
def test_the_api_refuses_a_video_link_that_is_not_https_and_books_nothing(
    api_for: Any, personas: dict[str, User], link: str
) -> None:
    answer = _api_book(api_for("coordinator"), personas, _inquiry(), link)
    assert answer.status_code == 422, answer.content
    assert [e["loc"] for e in answer.json()["detail"]] == [["body", "video_link"]]
    assert not Appointment.objects.exists()


def test_the_api_keeps_an_https_link(api_for: Any, personas: dict[str, User]) -> None:
    answer = _api_book(api_for("coordinator"), personas, _inquiry(), "  https://meet.example.com/room-1?pwd=x  ")
    assert answer.status_code == 201, answer.content
    assert answer.json()["video_link"] == "https://meet.example.com/room-1?pwd=x"


def test_the_booking_page_refuses_a_script_link_next_to_the_field(client_for: Any, personas: dict[str, User]) -> None:
    inquiry = _inquiry()
    answer = client_for("coordinator").post(
        f"/appointments/book/?inquiry={inquiry.pk}",
        {
            "kind": "consultation",
            "with_user": personas["coordinator"].pk,
            "starts_at": _starts_at()[:16],
            "minutes": 30,
            "mode": "video",
            "video_link": "http://meet.example.com/room-1",
        },
    )
    assert answer.status_code == 422
    assert "https://" in answer.context["form"].errors["video_link"][0]
    assert not Appointment.objects.exists()


def _stored(personas: dict[str, User], link: str) -> Appointment:
    """An appointment as a link stored before the check would have left it (written past the service)."""
    return Appointment.objects.create(
        kind="consultation",
        inquiry=_inquiry(),
        with_user=personas["coordinator"],
        starts_at=timezone.now() + timedelta(days=1),
        ends_at=timezone.now() + timedelta(days=1, minutes=30),
        mode="video",
        video_link=link,
        created_by=personas["coordinator"],
    )


def test_the_page_shows_a_stored_script_link_as_text_never_as_a_link(
    client_for: Any, personas: dict[str, User]
) -> None:
    appointment = _stored(personas, SCRIPT)
    page = client_for("coordinator").get(f"/appointments/{appointment.pk}/").content.decode()
    assert "javascript:alert(document.cookie)" in page  # shown, so staff can see and fix it
    assert 'href="javascript:' not in page.lower()
    calendar = client_for("coordinator").get(f"/appointments/{appointment.pk}.ics").content.decode()
    assert "javascript:" not in calendar


def test_the_page_links_an_https_address(client_for: Any, personas: dict[str, User]) -> None:
    appointment = _stored(personas, "https://meet.example.com/room-1")
    page = client_for("coordinator").get(f"/appointments/{appointment.pk}/").content.decode()
    assert 'href="https://meet.example.com/room-1"' in page
