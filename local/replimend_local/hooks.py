"""Attach emulators to botocore sessions through botocore's own event hooks.

Production code calls boto3 exactly as it would in AWS; an emulator answers or observes a call by
registering handlers on the botocore session that creates the client. The events used (see
``botocore.client.BaseClient._make_api_call``), with ``<service>`` the hyphenated service id
(``s3``, ``s3-control``, ``iam``, ``kms``):

* ``before-parameter-build.<service>.<Operation>`` gets ``params`` (the caller's keyword arguments)
  and ``context`` (a dict private to the request): :func:`capture_params` keeps the arguments there.
* ``before-call.<service>.<Operation>``: the first handler returning ``(http_response, parsed)``
  replaces the HTTP call; an HTTP status >= 300 with ``parsed["Error"]`` makes botocore raise the
  same ``ClientError`` (or modelled exception) AWS would cause.
* ``after-call.<service>.<Operation>`` gets ``http_response``, ``parsed`` and ``context`` and may
  mutate ``parsed`` (e.g. add ``ReplicationStatus`` to HeadObject).

A client copies its session's handlers when it is created, so hooks must be installed before the
clients that should see them are made. Three scopes:

* :func:`install` / :func:`uninstall` on one ``boto3.Session`` or botocore session;
* :func:`install_default` on boto3's default session (``boto3.client(...)``/``boto3.resource(...)``);
* :func:`install_global` on every botocore session created afterwards *and* the default session.

Emulators read the emulated account through :func:`plain_session`, which carries none of the global
hooks, so their own calls never re-enter an emulator.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.handlers
import botocore.loaders
import botocore.session
from botocore.awsrequest import AWSResponse, HTTPHeaders

PARAMS_CONTEXT_KEY = "replimend_api_params"
_RAN_CONTEXT_KEY = "replimend_hooks_ran"

SessionLike = botocore.session.Session | boto3.Session
Responder = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
"""Answers an emulated operation: (api params, request context) -> parsed response body."""


@dataclass(frozen=True)
class Hook:
    """One botocore event handler. ``name`` identifies it (several emulators may share a hook)."""

    event_name: str
    handler: Callable[..., Any]
    name: str

    def registered_handler(self) -> Callable[..., Any]:
        return _once_per_request(self)


_WRAPPED: dict[Hook, Callable[..., Any]] = {}
_WRAPPED_LOCK = threading.Lock()


def _once_per_request(hook: Hook) -> Callable[..., Any]:
    """The handler botocore calls: runs ``hook`` at most once per request even if it was installed
    both globally and on the session (botocore would otherwise call both registrations)."""
    with _WRAPPED_LOCK:
        wrapped = _WRAPPED.get(hook)
        if wrapped is None:

            def wrapped(**kwargs: Any) -> Any:
                context = kwargs.get("context")
                if isinstance(context, dict):
                    ran: set[tuple[str, str]] = context.setdefault(_RAN_CONTEXT_KEY, set())
                    marker = (hook.name, kwargs.get("event_name", hook.event_name))
                    if marker in ran:
                        return None
                    ran.add(marker)
                return hook.handler(**kwargs)

            _WRAPPED[hook] = wrapped
        return wrapped


class EmulatedError(Exception):
    """Raised by a responder to answer with an AWS error (botocore then raises ClientError)."""

    def __init__(self, code: str, message: str, status_code: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status_code = status_code


class _EmptyBody:
    def stream(self, **_: Any) -> Iterable[bytes]:
        return iter([b""])


def emulated_response(
    parsed: Mapping[str, Any], status_code: int = 200
) -> tuple[AWSResponse, dict[str, Any]]:
    """``(http_response, parsed)`` as a ``before-call`` handler returns it to replace the HTTP call."""
    request_id = str(uuid.uuid4())
    headers = HTTPHeaders()
    headers["x-amzn-requestid"] = request_id
    headers["content-type"] = "text/xml"
    http_response = AWSResponse("https://emulated.invalid/", status_code, headers, _EmptyBody())
    body = dict(parsed)
    body["ResponseMetadata"] = {
        "RequestId": request_id,
        "HTTPStatusCode": status_code,
        "HTTPHeaders": dict(headers.items()),
        "RetryAttempts": 0,
    }
    return http_response, body


def error_response(code: str, message: str, status_code: int = 400) -> tuple[AWSResponse, dict[str, Any]]:
    """An AWS error reply: botocore raises the modelled exception for ``code`` or ClientError."""
    sender = "Sender" if status_code < 500 else "Receiver"
    return emulated_response({"Error": {"Code": code, "Message": message, "Type": sender}}, status_code)


def _capture_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context[PARAMS_CONTEXT_KEY] = params


def capture_params(service_id: str) -> Hook:
    """Keep every ``service_id`` call's keyword arguments in the request context (see :func:`api_params`)."""
    return Hook(f"before-parameter-build.{service_id}", _capture_params, f"capture-params.{service_id}")


def api_params(context: Mapping[str, Any]) -> dict[str, Any]:
    """The caller's keyword arguments of the current request, captured by :func:`capture_params`."""
    params = context.get(PARAMS_CONTEXT_KEY)
    if params is None:
        raise RuntimeError("api params were not captured: install hooks.capture_params for this service")
    return dict(params)


def emulated_operation(service_id: str, operation: str, responder: Responder) -> list[Hook]:
    """Hooks that answer ``service_id.operation`` with ``responder`` instead of calling the endpoint.

    The request is still validated against the service model by botocore before the responder runs.
    """

    def answer(context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        try:
            return emulated_response(responder(api_params(context), context))
        except EmulatedError as error:
            return error_response(error.code, error.message, error.status_code)

    return [
        capture_params(service_id),
        Hook(f"before-call.{service_id}.{operation}", answer, f"emulate.{service_id}.{operation}"),
    ]


def _botocore_session(session: SessionLike) -> botocore.session.Session:
    if isinstance(session, boto3.Session):
        return session._session  # boto3 exposes no public accessor for its botocore session
    return session


def _unique(hooks: Iterable[Hook]) -> list[Hook]:
    seen: dict[tuple[str, str], Hook] = {}
    for hook in hooks:
        seen.setdefault((hook.name, hook.event_name), hook)
    return list(seen.values())


def install(session: SessionLike, hooks: Iterable[Hook]) -> None:
    """Register ``hooks`` on ``session``; clients created from it afterwards see them."""
    core = _botocore_session(session)
    for hook in _unique(hooks):
        core.register(
            hook.event_name,
            hook.registered_handler(),
            unique_id=f"replimend:{hook.name}:{hook.event_name}",
            unique_id_uses_count=True,
        )


def uninstall(session: SessionLike, hooks: Iterable[Hook]) -> None:
    core = _botocore_session(session)
    for hook in _unique(hooks):
        core.unregister(
            hook.event_name,
            unique_id=f"replimend:{hook.name}:{hook.event_name}",
            unique_id_uses_count=True,
        )


def default_session() -> boto3.Session:
    """boto3's default session (the one ``boto3.client()`` uses), created if needed."""
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    return boto3.DEFAULT_SESSION


def install_default(hooks: Iterable[Hook]) -> boto3.Session:
    session = default_session()
    install(session, hooks)
    return session


def uninstall_default(hooks: Iterable[Hook]) -> None:
    if boto3.DEFAULT_SESSION is not None:
        uninstall(boto3.DEFAULT_SESSION, hooks)


_GLOBAL_LOCK = threading.Lock()
_GLOBAL_HOOKS: list[Hook] = []


def install_global(hooks: Iterable[Hook]) -> None:
    """Register ``hooks`` on every botocore session created from now on (through botocore's list of
    built-in handlers) and on boto3's default session. Undo with :func:`uninstall_global`."""
    new_hooks = _unique(hooks)
    with _GLOBAL_LOCK:
        for hook in new_hooks:
            if hook in _GLOBAL_HOOKS:
                continue
            _GLOBAL_HOOKS.append(hook)
            botocore.handlers.BUILTIN_HANDLERS.append((hook.event_name, hook.registered_handler()))
    install_default(new_hooks)


def uninstall_global(hooks: Iterable[Hook] | None = None) -> None:
    """Remove ``hooks`` (all global hooks when None) from future sessions and the default session."""
    with _GLOBAL_LOCK:
        targets = list(_GLOBAL_HOOKS) if hooks is None else [h for h in _unique(hooks) if h in _GLOBAL_HOOKS]
        for hook in targets:
            _GLOBAL_HOOKS.remove(hook)
            spec = (hook.event_name, hook.registered_handler())
            while spec in botocore.handlers.BUILTIN_HANDLERS:
                botocore.handlers.BUILTIN_HANDLERS.remove(spec)
    uninstall_default(targets)
    if boto3.DEFAULT_SESSION is not None:
        core = _botocore_session(boto3.DEFAULT_SESSION)
        for hook in targets:
            core.unregister(hook.event_name, hook.registered_handler())


def global_hooks() -> list[Hook]:
    with _GLOBAL_LOCK:
        return list(_GLOBAL_HOOKS)


_LOADER: botocore.loaders.Loader | None = None


def _shared_loader() -> botocore.loaders.Loader:
    """One model loader for every plain session: botocore caches models per loader, and emulators
    create sessions often enough that re-reading the service JSON files shows."""
    global _LOADER  # noqa: PLW0603 - a lazily created, read-only cache
    with _GLOBAL_LOCK:
        if _LOADER is None:
            _LOADER = botocore.loaders.create_loader()
        return _LOADER


def plain_session(region_name: str | None = None) -> boto3.Session:
    """A boto3 session without any emulator hook, for emulators' own calls to the moto server.

    Uses the environment's credentials when set, else fake ones: the embedded AWS never checks them
    (and probing the full credential chain could wait on an instance-metadata endpoint).
    """
    core = botocore.session.Session()
    core.register_component("data_loader", _shared_loader())
    for hook in global_hooks():
        core.unregister(hook.event_name, hook.registered_handler())
    if os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE"):
        return boto3.Session(botocore_session=core, region_name=region_name)
    return boto3.Session(
        botocore_session=core,
        region_name=region_name,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


class PlainClients:
    """Hook-free clients of the moto server at ``endpoint_url`` (``plain_session``), made once per
    (service, Region) and shared by the emulator's threads; ``region`` is the default Region."""

    def __init__(self, endpoint_url: str, region: str, *, reads: Any = None) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self._session = plain_session(region)
        if reads is not None:  # a config_reads.ConfigurationReads answering repeated reads
            reads.install(self._session._session)
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def __call__(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.region)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._session.client(
                    service,  # type: ignore[call-overload]
                    endpoint_url=self.endpoint_url,
                    region_name=key[1],
                )
            return self._clients[key]
