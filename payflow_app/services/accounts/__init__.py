"""Customers and what they hold: accounts and passwords, sessions, throttling,
the wallet ledger, memberships and plans."""
