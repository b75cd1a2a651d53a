"""Function invocation: each AWS::Serverless::Function's handler run in-process, unmodified, with
the environment and context Lambda would give it (imported at its cold start under that
environment, its output and warnings kept on the invocation)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from replimend_local.sam.core import RuntimeCore
from replimend_local.sam.errors import TemplateError

log = logging.getLogger("replimend_local.sam")

# --------------------------------------------------------------------------------------------
# Functions and invocations


@dataclass
class LambdaContext:
    """The fields of Lambda's context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None
    _started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self.log_stream_name = self.log_stream_name or f"local/[$LATEST]{self.aws_request_id[:8]}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


@dataclass
class LocalFunction:
    """One AWS::Serverless::Function: where its code is and how it runs."""

    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    memory_mb: int
    timeout_seconds: int
    module: ModuleType | None = None

    @property
    def handler_file(self) -> Path:
        module_path, _, _ = self.handler.rpartition(".")
        return self.code_dir / (module_path.replace(".", "/") + ".py")

    @property
    def handler_name(self) -> str:
        return self.handler.rpartition(".")[2]


@dataclass
class Invocation:
    """One handler call, as the runtime's invocation log keeps it."""

    function_id: str
    trigger: str  # "sqs:<queue>", "rule:<rule>", "schedule:<name>", "http", "direct"
    request_id: str
    started_at: datetime
    duration_ms: float
    ok: bool
    summary: str
    error: str | None = None
    output: str = ""  # what the handler printed (EMF metrics, prints)
    result: Any = None


@contextlib.contextmanager
def environment(variables: Mapping[str, str]) -> Iterator[None]:
    """``variables`` set in os.environ for the block; every name restored (or removed) after."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _log_level(environment: Mapping[str, str]) -> Iterator[None]:
    """The function's log level on its Powertools logger for the invocation.

    In Lambda every function has its own process, so its logger takes the function's level at cold
    start; here functions share one process and one ``logging`` logger per service name.
    """
    level = environment.get("AWS_LAMBDA_LOG_LEVEL") or environment.get("POWERTOOLS_LOG_LEVEL")
    service = environment.get("POWERTOOLS_SERVICE_NAME")
    if not level or not service or not isinstance(logging.getLevelName(level.upper()), int):
        yield
        return
    logger = logging.getLogger(service)
    saved = logger.level
    logger.setLevel(level.upper())
    try:
        yield
    finally:
        logger.setLevel(saved)


@contextlib.contextmanager
def _log_stream(environment: Mapping[str, str], stream: Any) -> Iterator[None]:
    """The function's Powertools logger writes to ``stream`` for the invocation, as its prints do.

    Powertools binds its handler to the ``sys.stdout`` of cold start, so redirecting stdout alone
    would send the function's log lines to the console of whoever runs the stack, not to the
    invocation's log (Lambda: the function's CloudWatch log stream)."""
    service = environment.get("POWERTOOLS_SERVICE_NAME")
    handlers = [
        handler
        for handler in (logging.getLogger(service).handlers if service else [])
        if type(handler) is logging.StreamHandler  # a console's, not a file's
    ]
    saved = [handler.stream for handler in handlers]
    for handler in handlers:
        handler.setStream(stream)
    try:
        yield
    finally:
        for handler, previous in zip(handlers, saved, strict=True):
            handler.setStream(previous)


class HandlerError(RuntimeError):
    """The function's code cannot be loaded or has no such handler."""


class FunctionError(RuntimeError):
    """A synchronously invoked function raised."""

    def __init__(self, invocation: Invocation) -> None:
        super().__init__(f"{invocation.function_id} failed: {invocation.error}")
        self.invocation = invocation


class Invoker(RuntimeCore):
    """Loads and invokes the stack's functions."""

    # ---------------------------------------------------------------- invocation

    def function(self, logical_id: str) -> LocalFunction:
        if logical_id not in self.functions:
            raise KeyError(f"no function {logical_id!r} in the template (have: {', '.join(self.functions)})")
        return self.functions[logical_id]

    def function_environment(self, function: LocalFunction) -> dict[str, str]:
        """The environment Lambda would give the function: the template's variables plus Lambda's own."""
        return {
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
            # no X-Ray daemon locally
            "POWERTOOLS_TRACE_DISABLED": "true",
            **function.environment,
        }

    def _load(self, function: LocalFunction) -> ModuleType:
        if function.module is not None:
            return function.module
        path = function.handler_file
        if not path.is_file():
            raise TemplateError(f"{function.logical_id}: handler file {path} does not exist")
        module_name = f"_replimend_local_fn_{function.logical_id}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise TemplateError(f"{function.logical_id}: cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        sys.path.insert(0, str(function.code_dir))
        try:
            # settings are read at import (cold start): import under the function's environment
            with environment(self.function_environment(function)):
                spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(module_name, None)
            raise
        finally:
            with contextlib.suppress(ValueError):
                sys.path.remove(str(function.code_dir))
        function.module = module
        return module

    def load_functions(self) -> None:
        """Import every handler now (their cold starts), each under its own environment.

        Modules the handlers share (a logger configured from POWERTOOLS_LOG_LEVEL, say) are then set
        up under a function's environment rather than whatever the caller imported first.
        """
        with self._invoke_lock:
            for function in self.functions.values():
                self._load(function)

    def _handler(self, function: LocalFunction) -> Callable[[Any, LambdaContext], Any]:
        """The handler callable; a failed import or a missing handler fails the invocation, as in Lambda."""
        try:
            module = self._load(function)
        except Exception as exc:
            raise HandlerError(f"Runtime.ImportModuleError: {function.handler_file}: {exc}") from exc
        handler = getattr(module, function.handler_name, None)
        if not callable(handler):
            raise HandlerError(
                f"Runtime.HandlerNotFound: {function.handler_file} has no function {function.handler_name}"
            )
        return handler

    def invoke(self, logical_id: str, event: Any, *, trigger: str = "direct", summary: str = "") -> Any:
        """Invoke a function synchronously; its exception propagates, like RequestResponse invocation."""
        invocation = self._invoke(logical_id, event, trigger=trigger, summary=summary)
        if not invocation.ok:
            raise FunctionError(invocation)
        return invocation.result

    def _invoke(self, logical_id: str, event: Any, *, trigger: str, summary: str) -> Invocation:
        function = self.function(logical_id)
        with self._invoke_lock, self.simulated_time():
            context = LambdaContext(
                function_name=function.name,
                invoked_function_arn=function.arn,
                memory_limit_in_mb=function.memory_mb,
                timeout_seconds=function.timeout_seconds,
            )
            output = io.StringIO()
            started_at, started = self.clock.now(), time.perf_counter()
            result: Any = None
            error: str | None = None
            captured = self.capture_output
            redirect = contextlib.redirect_stdout(output) if captured else contextlib.nullcontext()
            # what the handler prints and warns goes to its log stream, as in Lambda: kept on the invocation
            variables = self.function_environment(function)
            with (
                environment(variables),
                _log_level(variables),
                redirect,
                _log_stream(variables, output) if captured else contextlib.nullcontext(),
                warnings.catch_warnings(record=True) as caught,
            ):
                warnings.simplefilter("always")
                try:
                    handler = self._handler(function)
                    result = handler(event, context)
                except Exception as exc:
                    error = f"{type(exc).__name__}: {exc}"
                    log.debug("%s raised", logical_id, exc_info=True)
            for warning in caught:
                output.write(f"{warning.category.__name__}: {warning.message}\n")
            duration_ms = (time.perf_counter() - started) * 1000
            if duration_ms > function.timeout_seconds * 1000:
                log.warning(
                    "%s ran %.0f ms, over its %d s timeout", logical_id, duration_ms, function.timeout_seconds
                )
            invocation = Invocation(
                function_id=logical_id,
                trigger=trigger,
                request_id=context.aws_request_id,
                started_at=started_at,
                duration_ms=duration_ms,
                ok=error is None,
                summary=summary,
                error=error,
                output=output.getvalue(),
                result=result,
            )
            self.invocations.append(invocation)
        log.info(
            "%s <- %s%s: %s in %.0f ms%s",
            logical_id,
            trigger,
            f" ({summary})" if summary else "",
            "ok" if invocation.ok else "ERROR",
            duration_ms,
            f": {error}" if error else "",
        )
        if self.on_invocation is not None:
            self.on_invocation(invocation)
        return invocation
