"""melflow.eval stage."""
