"""melflow.nn stage."""
