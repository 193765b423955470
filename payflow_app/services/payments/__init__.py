"""Money coming in: payment attempts on every rail, the one idempotent fulfilment,
what each kind of order delivers, late money, the webhook inbox and its worker,
the reconciler, and what a customer sees of their orders."""
