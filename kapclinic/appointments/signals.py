"""What the appointments app tells the stages above it, inside its own transaction.

A dosing session is held as a booking of kind "dosing" (DosingSession.booking). The dosing app sits above this
one, so a cancellation, move or no-show of such a booking from the calendar is announced here and the dosing app
answers by cancelling or moving the session with it, or refuses by raising (the change then rolls back).
"""

from django.dispatch import Signal

# Sent inside the change's transaction, after the booking is saved, with ctx (AuditContext), appointment
# (Appointment), change (AppointmentChangeKind value) and reason. send, not send_robust: a receiver's error
# (Conflict: the session has begun) rolls the change back.
booking_changed = Signal()
