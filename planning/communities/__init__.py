"""communities models."""
