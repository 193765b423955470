"""What operators see and repair: the console's lists, metrics and an order's timeline."""
