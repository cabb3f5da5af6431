"""The installed gridsim version (one definition, importable from anywhere without cycles)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gridsim")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
