"""Signals dosing sends to the apps above it (they may not be imported here: docs/house.md)."""

from __future__ import annotations

from django.dispatch import Signal

# Before a proposed session is scheduled, asked of the apps above (billing: the patient's prior authorisations).
# Sent with patient_id, route and day; each receiver returns a list of warnings (str() is the sentence shown). A
# warning does not refuse: the coordinator or prescriber may go on, with a reason.
scheduling_warnings_asked = Signal()

# Inside the scheduling transaction when someone went on despite warnings: sent with ctx, session, warnings (as
# the receivers returned them) and reason, so that the app that warned records who went on, when and why.
scheduled_despite_warnings = Signal()
