"""Role-matrix probe for FHIR system clients (SMART Backend Services, issue 17): register one through the page and
through the API; allowed means both registered it."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from kapclinic.accounts.models import SmartClient
from kapclinic.patients.models import Patient
from kapclinic.roles import Action
from tests.probes.world import Probe, World


def probe_jwks() -> dict[str, object]:
    public = json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP384R1()).public_key()))
    return {"keys": [{**public, "kid": "probe-1", "alg": "ES384", "use": "sig"}]}


def _smart_client_manage(w: World, patient: Patient) -> bool:
    jwks = probe_jwks()
    account = w.people["auditor"].pk
    w.page.post(
        "/accounts/smart-clients/",
        {"name": "Probe page client", "user": account, "scopes": "system/Patient.rs", "jwks": json.dumps(jwks)},
    )
    w.api.post(
        "/api/v1/smart-clients",
        {"name": "Probe API client", "user": account, "scopes": "system/*.rs", "jwks": jwks},
        content_type="application/json",
    )
    made = set(SmartClient.objects.filter(name__startswith="Probe ").values_list("name", flat=True))
    assert len(made) != 1, f"page and API disagree: {made}"
    return len(made) == 2


PROBES: dict[Action, tuple[Probe, bool]] = {
    Action.SMART_CLIENT_MANAGE: (_smart_client_manage, False),
}
