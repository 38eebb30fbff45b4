"""Benchmarks. Never part of the default test run: they need wrk, taskset, PostgreSQL and two
idle cores, and their numbers only mean something as ratios measured side by side."""
