"""Placing an order and finding it again by its public reference."""
