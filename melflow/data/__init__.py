"""melflow.data stage."""
