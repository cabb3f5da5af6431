"""gridsim.output."""
