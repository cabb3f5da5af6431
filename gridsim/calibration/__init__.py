"""gridsim.calibration."""
