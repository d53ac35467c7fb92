"""melflow.compiler stage."""
