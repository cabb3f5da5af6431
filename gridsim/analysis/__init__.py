"""gridsim.analysis."""
