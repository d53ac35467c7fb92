"""melflow.train stage."""
