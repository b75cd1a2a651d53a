"""The embedded AWS: moto in server mode on 127.0.0.1 plus the emulators of what moto lacks.

``EmbeddedAws`` starts moto's server in a thread of this process (so the emulators, which hook
botocore in-process, see the same calls the production code makes), points ``AWS_ENDPOINT_URL``
at it with fake credentials, and installs the emulators' botocore hooks on every session created
from then on, boto3's default session included. Production code keeps calling plain boto3. Calls of
this process skip the socket (:mod:`replimend_local.in_process`); other processes use the server.

    with EmbeddedAws() as aws:
        boto3.client("s3").create_bucket(Bucket="b")   # reaches moto; replication is emulated
"""

from __future__ import annotations

import logging
import os
import urllib.request
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import boto3

from replimend_local import hooks, in_process, moto_patches
from replimend_local.config_reads import ConfigurationVersions
from replimend_local.gateway import Gateway, mark_in_process_requests
from replimend_local.wire import EmulatedOperations

log = logging.getLogger("replimend_local.embedded")

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_REGION = "us-east-1"

_ENVIRONMENT_KEYS = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)


class EmbeddedAws:
    """Context manager owning the moto server, the emulators and the process environment."""

    def __init__(
        self,
        *,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        emulators: bool = True,
        port: int = 0,
        over_http: bool = False,
    ) -> None:
        self.region = region
        self.account_id = account_id
        self.with_emulators = emulators
        self.port = port
        self.over_http = over_http  # this process's calls too (slower; what other processes get)
        self.gateway: Gateway | None = None
        self.endpoint_url = ""
        self.replication: Any = None  # s3_replication.ReplicationEngine
        self.batch_operations: Any = None  # batch_operations emulator
        self.iam_simulation: Any = None  # iam.IamSimulator
        self.notifications: Any = None  # s3_notifications.NotificationDestinations
        self._server: Any = None
        self._saved_environment: dict[str, str | None] = {}
        self._saved_default_session: boto3.Session | None = None
        self._hooks: list[hooks.Hook] = []
        self._clients: dict[tuple[str, str], Any] = {}
        self._restore_bucket_policies: Callable[[], None] | None = None
        self._unmark_requests: Callable[[], None] | None = None
        self._unroute: Callable[[], None] | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> EmbeddedAws:
        moto_patches.check_version()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        moto_patches.accept_regional_s3_job_arns()
        moto_patches.list_inventory_optional_fields()
        moto_patches.list_moto_modules_once()
        moto_patches.query_one_partition()
        self._restore_bucket_policies = moto_patches.evaluate_bucket_policy_conditions()

        def wrap(app: moto_patches.WsgiApp) -> moto_patches.WsgiApp:
            self.gateway = Gateway(app)
            return self.gateway

        try:
            self._server = moto_patches.MotoServer("127.0.0.1", self.port, wrap=wrap)
        except BaseException:
            self._restore_bucket_policies()
            self._restore_bucket_policies = None
            raise
        self.endpoint_url = self._server.endpoint_url
        self._unmark_requests = mark_in_process_requests()
        if not self.over_http:
            self._unroute = in_process.route(self.endpoint_url, self._server.app)
        # moto's backends are process-wide: start from an empty account even if another embedded
        # AWS (or mock_aws) ran in this process before.
        self.reset()
        self._apply_environment()
        # a fresh default session, created under the embedded environment and carrying the hooks
        self._saved_default_session = boto3.DEFAULT_SESSION
        boto3.DEFAULT_SESSION = None
        if self.with_emulators:
            self._install_emulators()
            if self.gateway is not None:
                self.gateway.replication = self.replication
                self.gateway.notifications = self.notifications
        log.info("embedded AWS on %s (account %s)", self.endpoint_url, self.account_id)
        return self

    def stop(self) -> None:
        self._clients.clear()
        if self._hooks:
            hooks.uninstall_global(self._hooks)
            self._hooks = []
        if self._server is not None:
            try:
                self.reset()
            finally:
                self._server.stop()
                self._server = None
        self._restore_environment()
        if self._unmark_requests is not None:
            self._unmark_requests()
            self._unmark_requests = None
        if self._unroute is not None:
            self._unroute()
            self._unroute = None
        self.gateway = None
        if self._restore_bucket_policies is not None:
            self._restore_bucket_policies()
            self._restore_bucket_policies = None
        boto3.DEFAULT_SESSION = self._saved_default_session
        self._saved_default_session = None

    def __enter__(self) -> EmbeddedAws:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Empty every moto backend (moto's own /moto-api/reset)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our local server
            response.read()

    # ------------------------------------------------------------------ wiring

    def _apply_environment(self) -> None:
        self._saved_environment = {key: os.environ.get(key) for key in _ENVIRONMENT_KEYS}
        for key in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            os.environ.pop(key, None)
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "AWS_SECURITY_TOKEN": "testing",
                "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region,
                # botocore would route some calls to <account>.<service> hosts moto does not serve
                "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
                "AWS_EC2_METADATA_DISABLED": "true",
            }
        )

    def _restore_environment(self) -> None:
        for key, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_environment = {}

    def _install_emulators(self) -> None:
        from replimend_local.batch_operations import BatchOperationsEmulator
        from replimend_local.iam import IamSimulator
        from replimend_local.s3_notifications import NotificationDestinations
        from replimend_local.s3_replication import ReplicationEngine

        versions = ConfigurationVersions()
        if self.gateway is not None:  # it sees every request, so it counts configuration changes
            self.gateway.versions = versions
        self.replication = ReplicationEngine(
            self.endpoint_url,
            self.region,
            self.account_id,
            configuration_versions=versions if self.gateway is not None else None,
        )
        self.replication.reset()
        self.iam_simulation = IamSimulator(self.endpoint_url, self.region, self.account_id)
        self.notifications = NotificationDestinations(self.endpoint_url, self.region, self.account_id)
        self.batch_operations = BatchOperationsEmulator(
            self.endpoint_url,
            self.region,
            self.account_id,
            replication=self.replication,
        )
        if self.gateway is not None:
            self.gateway.emulated = _served_on_the_wire(self.batch_operations, self.iam_simulation)
        self._hooks = _unique_hooks(
            [
                *self.replication.handlers(),
                *self.iam_simulation.handlers(),
                *self.notifications.handlers(),
                *self.batch_operations.handlers(),
            ]
        )
        hooks.install_global(self._hooks)

    def session(self, region: str | None = None) -> boto3.Session:
        """A boto3 session for the embedded account (emulators attached)."""
        return boto3.Session(region_name=region or self.region)

    def deliver_inventory(self, bucket: str, now: datetime | None = None) -> list[str]:
        """Deliver ``bucket``'s S3 Inventory lists now (S3 does it on the configuration's schedule), with
        the replication statuses the replication emulator keeps; see :mod:`replimend_local.s3_inventory`."""
        from replimend_local.s3_inventory import deliver_inventory

        def status(source: str, key: str, version_id: str) -> str | None:
            return (
                None
                if self.replication is None
                else self.replication.replication_status(source, key, version_id)
            )

        return deliver_inventory(self.client("s3"), bucket, replication_status=status, now=now)

    def client(self, service: str, region: str | None = None) -> Any:
        """A cached client of the embedded account (emulators attached), like production code's."""
        key = (service, region or self.region)
        if key not in self._clients:
            self._clients[key] = self.session(key[1]).client(service)  # type: ignore[call-overload]
        return self._clients[key]


def _served_on_the_wire(batch_operations: Any, iam_simulation: Any) -> EmulatedOperations:
    """The emulated operations callers in other processes reach over HTTP (``local up``)."""
    served = EmulatedOperations()
    for service, emulator in (("s3control", batch_operations), ("iam", iam_simulation)):
        for operation, responder in emulator.responders().items():
            served.add(service, operation, responder)
    return served


def _unique_hooks(items: Iterable[hooks.Hook]) -> list[hooks.Hook]:
    seen: dict[tuple[str, str], hooks.Hook] = {}
    for hook in items:
        seen.setdefault((hook.name, hook.event_name), hook)
    return list(seen.values())
