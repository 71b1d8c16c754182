"""What the measures app tells the apps above it, inside its own transaction.

The outcomes app sits above measures and judges a course from its scores; measures cannot call it, so it announces
each new scored response and outcomes evaluates its rules (issue 19: prompts when a patient is not improving).
"""

from django.dispatch import Signal

# Sent inside the response's transaction with patient_id, instrument and response_id. A receiver's error rolls
# the response back (send, not send_robust): a prompt is never silently lost.
response_scored = Signal()
