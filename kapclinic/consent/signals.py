"""What the consent app tells the stages above it, inside its own transaction.

The dosing app sits above consent (it reads the consent status before every dose), so consent cannot call it;
it announces a withdrawal instead and the dosing app answers by cancelling the sessions not yet started.
"""

from django.dispatch import Signal

# Sent inside the withdrawal's transaction with ctx (AuditContext), patient_id and reason; each receiver
# returns the ids of the sessions it cancelled. A receiver's error rolls the withdrawal back (send, not send_robust).
consent_withdrawn = Signal()
