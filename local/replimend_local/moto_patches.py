"""Every use of moto's internals, in one place (moto is pinned to 5.2.5 in local/pyproject.toml).

The rest of replimend_local talks to moto's server like any AWS SDK (its WSGI app, reached over HTTP or
handed the request in process), or through botocore hooks; what
moto 5.2.5 gets wrong or cannot be told through its API is patched or reached here, each with the
gap it closes:

* :func:`accept_regional_s3_job_arns`: IAM policy validation rejects S3 Batch Operations job ARNs;
* :func:`evaluate_bucket_policy_conditions`: bucket policies are enforced without their conditions;
* :func:`list_inventory_optional_fields`: ListBucketInventoryConfigurations renders OptionalFields wrongly;
* :func:`list_moto_modules_once`: the server lists moto's package directory twice per request;
* :func:`query_one_partition`: a DynamoDB Query on the table's key sorts the whole table first;
* :func:`set_replica_version_id`: a replica cannot be given the source version's id through the API;
* :func:`event_pattern_matches`: moto's EventBridge pattern matcher, reused for SQS filter criteria;
* :class:`MotoServer`: moto's threaded server with a WSGI layer in front (the gateway) and a fixed port.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any

MOTO_VERSION = "5.2.5"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


def check_version() -> None:
    """Fail loudly when another moto is installed than the one these patches were written for."""
    from importlib.metadata import version

    installed = version("moto")
    if installed != MOTO_VERSION:
        raise RuntimeError(
            f"replimend_local patches moto {MOTO_VERSION} internals but moto {installed} is installed: "
            "pip install -e ./local"
        )


def accept_regional_s3_job_arns() -> None:
    """moto's IAM policy validator rejects every S3 resource ARN with a Region except access points,
    but S3 Batch Operations job ARNs carry one (``arn:aws:s3:<region>:<account>:job/<id>``) and IAM
    accepts them: teach the in-process server's validator the same."""
    from moto.iam import policy_validation

    s3_rules = policy_validation.SERVICE_TYPE_REGION_INFORMATION_ERROR_ASSOCIATIONS.get("s3")
    if s3_rules is not None and "job/" not in s3_rules.setdefault("valid_starting_values", []):
        s3_rules["valid_starting_values"].append("job/")


def list_moto_modules_once() -> None:
    """moto's server finds a request's backend by listing its own package directory (one ``stat`` per
    entry, ~170 of them) twice per request: a tenth of the storm benchmark's time. The directory does
    not change while the process runs, so list it once."""
    from moto import backends

    if getattr(backends.list_of_moto_modules, "_replimend_once", False):
        return
    modules = tuple(backends.list_of_moto_modules())

    def list_of_moto_modules() -> tuple[str, ...]:
        return modules

    list_of_moto_modules._replimend_once = True  # type: ignore[attr-defined]
    backends.list_of_moto_modules = list_of_moto_modules


def query_one_partition() -> None:
    """moto's ``Table.query`` on the table's own key collects and sorts every item of the table, then
    keeps the queried partition's: a query cost grows with the table (30 ms with 1,000 failures
    recorded, seconds with 100,000). While such a query runs, hand it only that partition's items (the
    same items it keeps; its conditions, filters, order and paging are its own)."""
    from moto.dynamodb.models.table import Table

    if getattr(Table.query, "_replimend_one_partition", False):
        return
    original_query = Table.query
    original_all_items = Table.all_items
    querying = threading.local()

    def all_items(self: Any) -> Any:
        partition = getattr(querying, "partition", None)
        if partition is None or partition[0] is not self:
            return original_all_items(self)
        hash_set = self.items.get(partition[1])
        if hash_set is None:
            return []
        items = list(hash_set.values()) if self.range_key_attr else [hash_set]
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)  # its 8th parameter
        if index_name or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        querying.partition = (self, hash_key)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            querying.partition = None

    query._replimend_one_partition = True  # type: ignore[attr-defined]
    query.original = original_query  # type: ignore[attr-defined]
    all_items.original = original_all_items  # type: ignore[attr-defined]
    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]


def list_inventory_optional_fields() -> None:
    """moto stores a put inventory configuration's OptionalFields as xmltodict parsed them
    (``{"Field": [...]}``, or ``{"Field": "Size"}`` for one field); GetBucketInventoryConfiguration
    unwraps that but ListBucketInventoryConfigurations renders it as is, so botocore reads the list
    as ``["Field"]``. Store the plain list (the botocore s3 model's ``OptionalFields``: a list of
    field names), which both operations render right."""
    from moto.s3.models import S3Backend

    original = S3Backend.put_bucket_inventory_configuration
    if getattr(original, "_replimend_fields", False):
        return

    def put_bucket_inventory_configuration(
        self: S3Backend, bucket_name: str, inventory_configuration: dict[str, Any]
    ) -> None:
        configuration = dict(inventory_configuration)
        fields = configuration.get("OptionalFields")
        if isinstance(fields, dict):
            listed = fields.get("Field") or []
            configuration["OptionalFields"] = [listed] if isinstance(listed, str) else list(listed)
        original(self, bucket_name, configuration)

    put_bucket_inventory_configuration._replimend_fields = True  # type: ignore[attr-defined]
    S3Backend.put_bucket_inventory_configuration = put_bucket_inventory_configuration  # type: ignore[method-assign]


def evaluate_bucket_policy_conditions() -> Callable[[], None]:
    """Make the in-process moto server honour the conditions of bucket policies.

    moto evaluates a bucket policy on object requests but ignores its conditions, so a Deny with
    ``aws:SecureTransport: false`` (the usual TLS-only statement) denies every request. Evaluate with
    :mod:`replimend_local.iam` instead, for a caller on HTTPS as every SDK is in AWS (the embedded
    endpoint itself is plain HTTP on 127.0.0.1). Returns the undo.
    """
    from moto.iam.access_control import PermissionResult
    from moto.s3.models import FakeBucket

    from replimend_local.iam import SourcedPolicy, evaluate, parse_policy_document

    original = FakeBucket.get_permission
    if getattr(original, "_replimend_conditions", False):
        return lambda: None
    https_request = {"aws:SecureTransport": ["true"]}

    def get_permission(self: FakeBucket, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = SourcedPolicy(f"{self.name}-policy", "resource", parse_policy_document(self.policy.decode()))
        decision = evaluate([policy], action, resource, context=https_request).decision
        if decision == "explicitDeny":
            return PermissionResult.DENIED
        return PermissionResult.PERMITTED if decision == "allowed" else PermissionResult.NEUTRAL

    get_permission._replimend_conditions = True  # type: ignore[attr-defined]
    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]

    def restore() -> None:
        FakeBucket.get_permission = original  # type: ignore[method-assign]

    return restore


def set_replica_version_id(
    account_id: str, bucket: str, key: str, moto_version: str, version_id: str
) -> bool:
    """Give a stored object version another id (S3 gives a replica the source version's id), when the
    moto server runs in this process; False when it cannot (the caller then maps the ids)."""
    try:
        from moto.s3.models import s3_backends

        backend = s3_backends[account_id]["aws"]
        stored = backend.buckets[bucket].keys.getlist(key)
    except Exception:  # moto not importable or the server runs elsewhere: keep moto's id
        return False
    for fake_key in stored:
        if str(fake_key.version_id) == moto_version:
            old_arn = fake_key.arn
            fake_key._version_id = version_id
            # moto keys object tags by an ARN that includes the version id
            backend.tagger.copy_tags(old_arn, fake_key.arn)
            backend.tagger.delete_all_tags_for_resource(old_arn)
            return True
    return False


def event_pattern_matches(pattern: Mapping[str, Any] | str, event: Mapping[str, Any]) -> bool:
    """Whether ``event`` matches an EventBridge ``pattern``, with the matcher moto's EventBridge uses
    (Lambda's SQS filter criteria share EventBridge's pattern syntax)."""
    from moto.events.models import EventPattern

    text = pattern if isinstance(pattern, str) else json.dumps(pattern)
    return bool(EventPattern.load(text).matches_event(dict(event)))  # type: ignore[arg-type]


class MotoServer:
    """moto's server (its WSGI app, ``moto.moto_server``) in a daemon thread on ``host:port``, with
    ``wrap(app)`` in front of it. ``port=0`` picks a free port. Stopping closes the socket."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, wrap: Callable[[WsgiApp], WsgiApp] | None = None
    ):
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app: WsgiApp = DomainDispatcherApplication(create_backend_app)
        if wrap is not None:
            app = wrap(app)
        self.app = app
        # Our own listening socket: a taken port raises OSError (EADDRINUSE) here, in the caller's
        # thread (werkzeug's own bind prints and calls sys.exit instead).
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, port))
            listener.listen(128)
            self._server = make_server(
                host, port, app, threaded=True, request_handler=MotoRequestHandler, fd=listener.fileno()
            )
        finally:
            listener.close()  # werkzeug serves a duplicate of the descriptor
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-server", daemon=True)
        self._thread.start()

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
