"""Moved to `testbed.pg` (shared with the benchmarks); kept for the imports not yet updated."""

from testbed.pg import *  # noqa: F403
from testbed.pg import PostgresServer, PostgresUnavailable, free_port, server_major

__all__ = ["PostgresServer", "PostgresUnavailable", "free_port", "server_major"]
