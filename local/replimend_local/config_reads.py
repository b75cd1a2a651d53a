"""Configuration reads answered from memory until the embedded account's configuration changes.

The replication engine decides every replication from real emulated state: the role and its
policies, the destination's versioning, Object Lock and ownership settings, bucket and key
policies, the notification configuration. Read again for every object, those reads were half the
time of a storm of failures. They change only when a request changes them, and every request
reaches moto through the gateway, so the gateway counts the requests that may change each
service's configuration (:class:`ConfigurationVersions`) and a read is answered from memory only
while that count is unchanged since it was made (:class:`ConfigurationReads`). When unsure whether
a request changes configuration, it is counted as a change.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

# Reads answered from memory, by service: they depend only on the service's configuration (no
# object data, no messages), so a configuration change is the only thing that can change them.
CACHED_READS: dict[str, frozenset[str]] = {
    "s3": frozenset(
        {
            "HeadBucket",
            "GetBucketVersioning",
            "GetObjectLockConfiguration",
            "GetBucketOwnershipControls",
            "GetBucketPolicy",
            "GetBucketLocation",
            "GetBucketNotificationConfiguration",
        }
    ),
    "iam": frozenset(
        {
            "GetRole",
            "ListRolePolicies",
            "GetRolePolicy",
            "ListAttachedRolePolicies",
            "GetPolicy",
            "GetPolicyVersion",
        }
    ),
    "kms": frozenset({"DescribeKey", "GetKeyPolicy"}),
    "sqs": frozenset({"GetQueueUrl"}),
}
_READ_PREFIXES = {
    "iam": ("Get", "List", "Simulate"),
    "kms": (
        "Describe",
        "Get",
        "List",
        "Decrypt",
        "Encrypt",
        "ReEncrypt",
        "GenerateDataKey",
        "GenerateRandom",
    ),
}
# what can change a queue's URL: the queue's existence
_SQS_CHANGES = frozenset({"CreateQueue", "DeleteQueue"})
_WRITE_METHODS = frozenset({"PUT", "POST", "DELETE", "PATCH"})
EVERY_SERVICE = ("*",)


class ConfigurationVersions:
    """Per service, how many requests so far may have changed its configuration."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._everything = 0
        self._lock = threading.Lock()

    def __getitem__(self, service: str) -> int:
        return self._everything + self._counts.get(service, 0)

    def changed(self, services: tuple[str, ...]) -> None:
        """Count a change of each of ``services`` (:data:`EVERY_SERVICE`: all of them)."""
        with self._lock:
            for service in services:
                if service == EVERY_SERVICE[0]:
                    self._everything += 1
                else:
                    self._counts[service] = self._counts.get(service, 0) + 1

    def changes(
        self, environ: dict[str, Any], service: str | None, read_body: Callable[[], bytes]
    ) -> tuple[str, ...]:
        """The services whose configuration the request in ``environ`` (signed for ``service``) may
        change: () for reads and for services nothing is cached of."""
        method = str(environ.get("REQUEST_METHOD") or "GET").upper()
        if method not in _WRITE_METHODS:
            return ()
        if str(environ.get("PATH_INFO") or "").startswith("/moto-api/"):
            return EVERY_SERVICE  # moto's reset and state changes
        if service not in CACHED_READS:
            return ()
        if service == "s3":
            # Object requests (/bucket/key...) never change a bucket's configuration; a request
            # that is not path-style (a virtual-hosted bucket) is counted.
            _, _, key = str(environ.get("PATH_INFO") or "").lstrip("/").partition("/")
            return ("s3",) if not key or not _path_style(environ) else ()
        action = _action(environ, read_body)
        if service == "sqs":
            return ("sqs",) if action is None or action in _SQS_CHANGES else ()
        return (service,) if action is None or not action.startswith(_READ_PREFIXES[service]) else ()


def _path_style(environ: dict[str, Any]) -> bool:
    host = str(environ.get("HTTP_HOST") or "").rpartition(":")[0] or str(environ.get("HTTP_HOST") or "")
    return host in ("127.0.0.1", "localhost", str(environ.get("SERVER_NAME") or ""))


def _action(environ: dict[str, Any], read_body: Callable[[], bytes]) -> str | None:
    """The operation of a JSON (``X-Amz-Target``) or query (``Action=``) protocol request."""
    target = str(environ.get("HTTP_X_AMZ_TARGET") or "")
    if target:
        return target.rpartition(".")[2] or None
    query = parse_qs(str(environ.get("QUERY_STRING") or ""))
    if "Action" in query:
        return query["Action"][0]
    try:
        form = parse_qs(read_body().decode("utf-8"))
    except UnicodeDecodeError:
        return None
    return form["Action"][0] if "Action" in form else None


_SERVED = "replimend_config_read_served"
_VERSION = "replimend_config_read_version"


class ConfigurationReads:
    """Answers the :data:`CACHED_READS` of a botocore session's clients from memory while
    ``versions`` says the service's configuration has not changed since the read was made."""

    def __init__(self, versions: ConfigurationVersions) -> None:
        self._versions = versions
        self._answers: dict[tuple[str, ...], tuple[int, Any, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def install(self, botocore_session: Any) -> None:
        for service, operations in CACHED_READS.items():
            for operation in operations:
                botocore_session.register(f"before-call.{service}.{operation}", self._before)
                botocore_session.register(f"after-call.{service}.{operation}", self._after)

    @staticmethod
    def _key(model: Any, params: dict[str, Any], context: dict[str, Any]) -> tuple[str, ...]:
        body = params.get("body", b"")
        if isinstance(body, dict):
            body = repr(sorted(body.items()))
        return (
            model.service_model.service_name,
            model.name,
            str(context.get("client_region") or ""),
            str(params.get("method") or ""),
            str(params.get("url") or params.get("url_path") or ""),
            str(params.get("query_string") or ""),
            body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body),
        )

    def _before(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> Any:
        service = model.service_model.service_name
        version = self._versions[service]
        key = self._key(model, params, context)
        context[_VERSION] = (key, version)
        with self._lock:
            answer = self._answers.get(key)
        if answer is None or answer[0] != version:
            self.misses += 1
            return None
        self.hits += 1
        context[_SERVED] = True
        return answer[1], copy.deepcopy(answer[2])

    def _after(self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if context.get(_SERVED) or _VERSION not in context:
            return
        key, version = context[_VERSION]
        with self._lock:
            self._answers[key] = (version, http_response, copy.deepcopy(parsed))
