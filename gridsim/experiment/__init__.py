"""gridsim.experiment."""
