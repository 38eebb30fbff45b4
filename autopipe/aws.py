"""The only place boto3 clients are made.

Credentials come from the standard chain (environment, web identity / GitHub OIDC, SSO, profile,
container and instance metadata); `AWS_ENDPOINT_URL` (or `--endpoint-url`) points every client
at an emulator. Under `--dry-run` the factory is read-only: any call that is not a
Describe/List/Get is refused before it leaves the process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError, ReadTimeoutError

from autopipe import __version__
from autopipe.errors import DryRunViolation

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sts import STSClient

READ_PREFIXES = ("Describe", "List", "Get", "BatchGet", "Query", "Scan")

# Seam for tests and benchmarks: called with (service, operation) before every AWS call made
# through this module, e.g. to prove --dry-run writes nothing. Not for application logic.
CallHook = Callable[[str, str], None]
call_hooks: list[CallHook] = []

# Clients are made once per process and shared (they are thread-safe and refresh their own
# credentials); building one costs ~30 ms of endpoint-ruleset parsing, EC2's ~300 ms.
_clients: dict[tuple[str, str, str | None, bool], BaseClient] = {}
_clients_lock = threading.Lock()
_session: boto3.Session | None = None


def is_read_only(operation: str) -> bool:
    return operation.startswith(READ_PREFIXES)


class Aws:
    def __init__(
        self,
        *,
        region: str,
        endpoint_url: str | None = None,
        read_only: bool = False,
        session: boto3.Session | None = None,
    ) -> None:
        self.region = region
        self.endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
        self.read_only = read_only
        self._session = session
        self._account_id: str | None = None
        self._config = Config(
            # AWS_MAX_ATTEMPTS is the SDKs' own setting
            # (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html).
            retries={"mode": "standard", "max_attempts": _max_attempts()},
            connect_timeout=5,
            read_timeout=30,
            user_agent_extra=f"autopipe/{__version__}",
        )

    def _client(self, service: str) -> Any:
        key = (service, self.region, self.endpoint_url, self.read_only)
        with _clients_lock:
            if self._session is not None or key not in _clients:
                session = self._session or _shared_session()
                client = session.client(
                    service,  # type: ignore[call-overload]
                    region_name=self.region,
                    endpoint_url=self.endpoint_url,
                    config=self._config,
                )
                client.meta.events.register("before-call", partial(_before_call, service))
                if self.read_only:
                    client.meta.events.register("before-call", _refuse_writes)
                if self._session is not None:
                    return client
                _clients[key] = client
            return _clients[key]

    def client(self, service: str) -> Any:
        """Any other client (untyped), e.g. EC2 for the rehearsal's network."""
        return self._client(service)

    def ecs(self) -> ECSClient:
        return self._client("ecs")  # type: ignore[no-any-return]

    def ecr(self) -> ECRClient:
        return self._client("ecr")  # type: ignore[no-any-return]

    def elbv2(self) -> ElasticLoadBalancingv2Client:
        """ELBv2: read the listener rules' weights (`autopipe status`'s traffic split)."""
        return self._client("elbv2")  # type: ignore[no-any-return]

    def iam(self) -> IAMClient:
        return self._client("iam")  # type: ignore[no-any-return]

    def logs(self) -> CloudWatchLogsClient:
        return self._client("logs")  # type: ignore[no-any-return]

    def secrets(self) -> SecretsManagerClient:
        return self._client("secretsmanager")  # type: ignore[no-any-return]

    def cloudwatch(self) -> CloudWatchClient:
        return self._client("cloudwatch")  # type: ignore[no-any-return]

    def dynamodb(self) -> DynamoDBClient:
        return self._client("dynamodb")  # type: ignore[no-any-return]

    def ssm(self) -> Any:
        """SSM (untyped: no stubs installed); used for the release parameters only."""
        return self._client("ssm")

    def sts(self) -> STSClient:
        return self._client("sts")  # type: ignore[no-any-return]

    def account_id(self) -> str:
        if self._account_id is None:
            self._account_id = self.sts().get_caller_identity()["Account"]
        return self._account_id


def _max_attempts() -> int:
    value = os.environ.get("AWS_MAX_ATTEMPTS", "")
    return int(value) if value.isdigit() and int(value) > 0 else 5


def _shared_session() -> boto3.Session:
    """One session per process: it loads the endpoint and service models once (~60 ms each
    time otherwise) and resolves credentials once. Call with `_clients_lock` held."""
    global _session  # noqa: PLW0603
    if _session is None:
        _session = boto3.Session()
    return _session


def _before_call(service: str, model: Any, **_: Any) -> None:
    for hook in call_hooks:
        hook(service, model.name)


def _refuse_writes(model: Any, **_: Any) -> None:
    if not is_read_only(model.name):
        raise DryRunViolation(f"--dry-run: refused the write call {model.name}")


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


# Error codes AWS documents as retryable (botocore's standard retry mode retries these a few
# times; a longer burst surfaces and the caller's own loop decides):
# https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
THROTTLING_CODES = frozenset(
    {
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException",
        "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
        "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
        "EC2ThrottledException", "ServerException", "ServiceUnavailable", "InternalError",
        "InternalFailure", "ServiceUnavailableException",
    }
)  # fmt: skip
EXPIRED_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "InvalidClientTokenId"}
)


def is_expired(exc: BaseException) -> bool:
    """The credentials ended (e.g. the OIDC role session's duration ran out)."""
    return error_code(exc) in EXPIRED_CODES


def is_transient(exc: BaseException) -> bool:
    """Worth trying again: throttling, a 5xx, a dropped connection or a timeout."""
    if isinstance(exc, BotoConnectionError | HTTPClientError | ReadTimeoutError):
        return True
    return error_code(exc) in THROTTLING_CODES


def forget_credentials() -> None:
    """Drop the cached session and clients, so the next client resolves the credential chain
    again (a web-identity token file or a profile may hold fresh credentials by now)."""
    global _session  # noqa: PLW0603
    with _clients_lock:
        _clients.clear()
        _session = None
