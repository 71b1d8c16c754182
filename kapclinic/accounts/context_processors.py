from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from kapclinic.roles import Action, Role, may


def role(request: HttpRequest) -> dict[str, object]:
    """Expose the signed-in user's role and what the navigation may offer them."""
    user = getattr(request, "user", None)  # absent on an answer given before authentication (a refused sign-in)
    role_value = getattr(user, "role", "") if user is not None and user.is_authenticated else ""
    idle_minutes = settings.KAPCLINIC_IDLE_TIMEOUT_MINUTES
    if not role_value:
        return {
            "clinic_role": None,
            "nav": {},
            "clinic_time_zone": settings.TIME_ZONE,
            "idle_timeout_minutes": idle_minutes,
        }
    current = Role(role_value)
    return {
        "clinic_time_zone": settings.TIME_ZONE,
        "idle_timeout_minutes": idle_minutes,
        "clinic_role": current,
        "nav": {
            "patients": may(current, Action.PATIENT_LIST),
            "register": may(current, Action.PATIENT_REGISTER),
            "audit": may(current, Action.AUDIT_BROWSE),
            "users": may(current, Action.USER_LIST),
            "portal": may(current, Action.PORTAL_USE),
            "ledger": may(current, Action.LEDGER_VIEW),
            "inquiries": may(current, Action.INQUIRY_VIEW),
            "referrals": may(current, Action.REFERRAL_UPLOAD),
            "ledger_report": may(current, Action.LEDGER_REPORT),
            "sessions": may(current, Action.SESSION_VIEW) and current is not Role.PATIENT,
            "consent_texts": may(current, Action.CONSENT_PUBLISH),
            "availability": may(current, Action.AVAILABILITY_MANAGE),
            "calendar": may(current, Action.APPOINTMENT_BOOK),
            "inbox": current is not Role.PATIENT,
            "messages": may(current, Action.MESSAGE_VIEW) and current is not Role.PATIENT,
            "billing": may(current, Action.CHARGE_VIEW),
            "outcomes": may(current, Action.OUTCOME_COHORTS),
        },
    }
