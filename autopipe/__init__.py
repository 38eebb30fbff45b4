"""autopipe: the deployer — render, verify, diff, lock, migrate, roll out, smoke, roll back."""

__version__ = "0.1.0"
