"""zones models."""
