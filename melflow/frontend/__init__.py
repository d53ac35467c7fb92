"""melflow.frontend stage."""
