"""The PostgreSQL version the stack deploys on RDS: the one place it is named.

`infra/constructs/database.py` deploys it; the test suite's throwaway clusters
(`tests/support/pg.py`), `make postgres` (which CI and `make test` run) and the benchmarks use a
server of the same major, so what passes here is what runs in AWS. Plain Python with no imports:
the Makefile reads the line below without importing the CDK.
"""

POSTGRES_VERSION = "15.17"
POSTGRES_MAJOR = int(POSTGRES_VERSION.split(".", 1)[0])
