"""Read models for pages: what a page shows, read from the services and formatted for
a language (blocking reads: call them in a thread)."""
