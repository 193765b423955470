"""Security tests (issue 12): attacks, races, bad input, cross-site requests."""
