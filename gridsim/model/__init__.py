"""gridsim.model."""
