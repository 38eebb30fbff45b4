"""Moved to `testbed.docker` (shared with the benchmarks); kept for the imports not yet updated."""

from testbed.docker import *  # noqa: F403
