"""Tickets: signed QR tokens, seats held for orders, issuing, check-in at the
gate, scanning devices, an organizer's actions on one ticket, the catalogue."""
