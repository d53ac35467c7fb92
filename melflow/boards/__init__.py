"""melflow.boards stage."""
