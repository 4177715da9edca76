"""The installed version of clerk-auth."""

__version__ = "0.1.0"
