"""The database connection is verified TLS in AWS: the task definitions set libpq's
PGSSLMODE=verify-full and PGSSLROOTCERT (the RDS bundle in the image), which asyncpg honours
for every connection the service opens: the store's pool and Alembic's engine alike
(https://magicstack.github.io/asyncpg/current/api/index.html#connection). Proven here on a real
PostgreSQL serving TLS with a certificate from a test CA: the right CA connects (and the session
is encrypted), another CA and a name the certificate does not carry are both refused. Local
development sets neither variable and keeps asyncpg's default."""

from __future__ import annotations

import os
import pwd
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import Settings
from app.db import open_store
from app.errors import DatabaseUnavailable
from tests.conftest import unavailable
from tests.integration.test_db_keepalive import expected, pooled_socket_options
from tests.support.pg import PostgresServer, PostgresUnavailable

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres]


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        f"/CN={name}",
        "-keyout",
        str(key),
        "-out",
        str(cert),
    )
    return key, cert


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if shutil.which("openssl") is None:
        unavailable("the database TLS tests", "openssl is not installed")
    d = tmp_path_factory.mktemp("tls")
    ca_key, ca = _ca(d, "test-rds-ca")
    _, other_ca = _ca(d, "another-ca")
    key, csr, cert, ext = d / "server.key", d / "server.csr", d / "server.pem", d / "san.ext"
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        str(key),
        "-out",
        str(csr),
    )
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        str(ext),
        "-out",
        str(cert),
    )
    key.chmod(0o600)
    return {"ca": ca, "other_ca": other_ca, "cert": cert, "key": key}


@pytest.fixture(scope="module")
def tls_pg(certificates: dict[str, Path]) -> Iterator[PostgresServer]:
    try:
        server = PostgresServer().init()
    except PostgresUnavailable as exc:
        unavailable("the database TLS tests", exc)
    # Inside the cluster's own directory: the server (postgres when run as root) owns its key.
    owner = pwd.getpwuid(server.root.stat().st_uid)
    for name in ("cert", "key"):
        target = server.root / f"server-{name}.pem"
        shutil.copy(certificates[name], target)
        os.chown(target, owner.pw_uid, owner.pw_gid)
        target.chmod(0o600)
        server.settings[f"ssl_{name}_file"] = str(target)
    server.settings["ssl"] = "on"
    server.start()
    yield server
    server.destroy()


def _tls_error(error: BaseException) -> str:
    """The certificate check that failed, under the service's 503 (DatabaseUnavailable)."""
    cause = error.__cause__ or error.__context__
    assert isinstance(cause, ssl.SSLCertVerificationError), repr(cause)
    return str(cause)


async def _session_is_encrypted(url: str) -> bool:
    store = await open_store(Settings(database_url=url))
    try:
        await store.ping()
        async with store.pool.operation() as connection:  # type: ignore[attr-defined]
            query = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
            return bool(await connection.fetchval(query))
    finally:
        await store.close()


async def test_verify_full_against_the_right_ca_connects_encrypted(
    tls_pg: PostgresServer, certificates: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGSSLMODE", "verify-full")
    monkeypatch.setenv("PGSSLROOTCERT", str(certificates["ca"]))
    assert await _session_is_encrypted(tls_pg.url()) is True


async def test_another_ca_is_refused(
    tls_pg: PostgresServer, certificates: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGSSLMODE", "verify-full")
    monkeypatch.setenv("PGSSLROOTCERT", str(certificates["other_ca"]))
    with pytest.raises(DatabaseUnavailable) as refused:
        await _session_is_encrypted(tls_pg.url())
    assert "unable to get local issuer" in _tls_error(refused.value)


async def test_a_name_the_certificate_does_not_carry_is_refused(
    tls_pg: PostgresServer, certificates: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGSSLMODE", "verify-full")
    monkeypatch.setenv("PGSSLROOTCERT", str(certificates["ca"]))
    url = tls_pg.url().replace("127.0.0.1", "localhost")
    with pytest.raises(DatabaseUnavailable) as refused:
        await _session_is_encrypted(url)
    assert "Hostname mismatch" in _tls_error(refused.value)


async def test_tls_connections_carry_keepalive_too(
    tls_pg: PostgresServer, certificates: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under TLS the transport is asyncio's TLS layer; the options go on the socket below it."""
    monkeypatch.setenv("PGSSLMODE", "verify-full")
    monkeypatch.setenv("PGSSLROOTCERT", str(certificates["ca"]))
    settings = Settings(database_url=tls_pg.url(), db_statement_timeout=4)
    assert await _session_is_encrypted(settings.sqlalchemy_url) is True
    options, local_port, client_port = await pooled_socket_options(settings)
    assert local_port == client_port
    assert options == expected(settings)
