"""An organizer's events: editing them, their figures, attendees and pictures."""
