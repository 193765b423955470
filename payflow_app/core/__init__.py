"""Plumbing and value types below the domain: the database, money, phone numbers,
change notifications, QR images, errors, identifiers, secrets, input readers and
the paths pages and services share. Nothing here imports services/, ui/ or api/."""
