"""payflow's emails: ``templates`` renders them (English and Polish), ``outbox`` queues
them inside the caller's transaction, ``sender`` delivers them (SMTP or the built-in
mailbox) and ``mailbox`` is the sandbox page that shows them. Only ``mailbox`` knows
about HTTP; nothing here imports reflex."""
