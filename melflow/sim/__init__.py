"""melflow.sim stage."""
