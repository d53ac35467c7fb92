"""melflow.rtl stage."""
