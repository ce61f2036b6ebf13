"""balance models."""
