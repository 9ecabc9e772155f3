"""The HTTP service: validates, calls the engine, serialises."""
