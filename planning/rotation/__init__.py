"""rotation models."""
