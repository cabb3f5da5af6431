"""gridsim.validation."""
