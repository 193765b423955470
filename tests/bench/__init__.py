"""Benchmarks (``make bench``): the app served as ``make run`` serves it, measured over
HTTP as outside clients measure it. They print figures and assert only correctness."""
