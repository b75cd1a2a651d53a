"""The state every concern of the local runtime shares, and the operations they call on each other."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from replimend_local.sam.clock import LocalClock, Schedule, SimulatedTime
from replimend_local.sam.errors import TemplateError
from replimend_local.sam.template import (
    NO_VALUE,
    TEMPLATE_PATH,
    Resource,
    TemplateResolver,
    env_str,
    load_template,
)

if TYPE_CHECKING:
    from replimend_local.sam.event_sources import RuleSource, SqsSource, StreamSource
    from replimend_local.sam.functions import Invocation, LocalFunction
    from replimend_local.sam.http import HttpRoute

DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_STACK_NAME = "replimend-local"


class RuntimeCore:
    """The local stack's state; the concerns (provisioning, event sources, invocation, HTTP) are
    mixins over it, composed in :class:`replimend_local.sam.runtime.LocalRuntime`."""

    def __init__(
        self,
        template: Mapping[str, Any] | str | Path = TEMPLATE_PATH,
        *,
        stack_name: str = DEFAULT_STACK_NAME,
        parameters: Mapping[str, Any] | None = None,
        region: str | None = None,
        account_id: str = DEFAULT_ACCOUNT_ID,
        clock: LocalClock | None = None,
        session: boto3.session.Session | None = None,
        on_invocation: Callable[[Invocation], None] | None = None,
        capture_output: bool = True,
        simulate_time: bool = True,
    ) -> None:
        if isinstance(template, Mapping):
            self.template: dict[str, Any] = dict(template)
            self.template_dir = TEMPLATE_PATH.parent
        else:
            self.template = load_template(template)
            self.template_dir = Path(template).resolve().parent
        self.stack_name = stack_name
        self.region = region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.account_id = account_id
        self.partition = "aws"
        self.clock = clock or LocalClock()
        #: handlers, pollers and moto read the clock's time while the runtime works (see SimulatedTime)
        self.simulated_time = SimulatedTime(self.clock, enabled=simulate_time)
        self.session = session or boto3.session.Session(region_name=self.region)
        self.on_invocation = on_invocation
        self.capture_output = capture_output
        self.parameters = self._parameter_values(parameters or {})
        self.resources: dict[str, Resource] = {
            logical_id: Resource(logical_id, str(spec.get("Type", "")))
            for logical_id, spec in (self.template.get("Resources") or {}).items()
        }
        self.resolver = TemplateResolver(
            self.template,
            parameters=self.parameters,
            pseudo={
                "AWS::AccountId": account_id,
                "AWS::Region": self.region,
                "AWS::Partition": self.partition,
                "AWS::StackName": stack_name,
                "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{account_id}:stack/{stack_name}/local",
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::NotificationARNs": [],
                "AWS::NoValue": NO_VALUE,
            },
            ref=self._ref,
            get_att=self._get_att,
        )
        self.functions: dict[str, LocalFunction] = {}
        self.sqs_sources: list[SqsSource] = []
        self.rule_sources: list[RuleSource] = []
        self.stream_sources: list[StreamSource] = []
        self.schedules: list[Schedule] = []
        self.http_routes: list[HttpRoute] = []
        self.invocations: list[Invocation] = []
        #: called on every drain round (e.g. the Batch Operations emulator advancing its jobs); each
        #: returns how much it did, so drain() goes on until they are quiet too
        self.pollers: list[Callable[[], int]] = []
        self._clients: dict[tuple[str, str], Any] = {}
        self._queue_urls_by_arn: dict[str, str] = {}
        self._invoke_lock = threading.RLock()
        self._http_server: ThreadingHTTPServer | None = None
        self._deployed = False

    def physical_id(self, logical_id: str) -> str:
        return str(self._ref(logical_id))

    def attribute(self, logical_id: str, name: str) -> Any:
        return self._get_att(logical_id, name)

    @property
    def outputs(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, spec in (self.template.get("Outputs") or {}).items():
            if "Condition" in spec and not self.resolver.condition(spec["Condition"]):
                continue
            values[name] = self.resolver.resolve(spec["Value"])
        return values

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.region)
        if key not in self._clients:
            self._clients[key] = self.session.client(service, region_name=key[1])  # type: ignore[call-overload]
        return self._clients[key]

    def _parameter_values(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        declared = self.template.get("Parameters") or {}
        unknown = set(overrides) - set(declared)
        if unknown:
            raise TemplateError(f"unknown parameters: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            if name in overrides:
                value = overrides[name]
            elif "Default" in spec:
                value = spec["Default"]
            else:
                raise TemplateError(f"parameter {name} has no default: pass it in parameters")
            if spec.get("AllowedValues") and str(value) not in [str(v) for v in spec["AllowedValues"]]:
                raise TemplateError(f"parameter {name}={value!r} is not one of {spec['AllowedValues']}")
            if spec.get("Type") == "CommaDelimitedList" or str(spec.get("Type", "")).startswith("List<"):
                value = value if isinstance(value, list) else [v.strip() for v in str(value).split(",")]
            else:
                value = env_str(value)
            values[name] = value
        return values

    def _ref(self, logical_id: str) -> Any:
        resource = self._ensure(logical_id)
        return resource.physical_id

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        resource = self._ensure(logical_id)
        if attribute not in resource.attributes:
            raise TemplateError(f"{logical_id} ({resource.type}) has no attribute {attribute} locally")
        return resource.attributes[attribute]

    # -- operations one concern calls on another (each defined by its mixin) ---------------------

    def _ensure(self, logical_id: str) -> Resource:
        raise NotImplementedError  # provisioning

    def _name(self, logical_id: str, limit: int, *, lower: bool = False, suffix: str = "") -> str:
        raise NotImplementedError  # provisioning

    @staticmethod
    def _as_list(value: Any) -> list[Any]:
        if value is None:
            return []
        return value if isinstance(value, list) else [value]

    def _invoke(self, logical_id: str, event: Any, *, trigger: str, summary: str) -> Invocation:
        raise NotImplementedError  # functions

    def drain(self, *, max_rounds: int = 200) -> int:
        raise NotImplementedError  # event sources
