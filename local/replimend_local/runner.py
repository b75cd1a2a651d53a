"""A local Lambda runtime wired from template.yaml.

``LocalRuntime`` reads the SAM template, creates the resources it declares in the embedded AWS
(whatever ``AWS_ENDPOINT_URL`` points at), and runs every ``AWS::Serverless::Function``'s handler
in-process, unmodified, the way its event sources would in AWS:

* SQS events: poll the queue and deliver batches like Lambda's event source mapping (BatchSize,
  FilterCriteria, ReportBatchItemFailures). Failed messages become visible again at once (instead
  of after the visibility timeout), so moto's own redrive moves them to the DLQ after
  maxReceiveCount.
* EventBridge rules: the rule is created in moto with its real pattern and a shadow SQS queue as
  its target (moto cannot target Lambda), so moto does the pattern matching; the runtime polls the
  shadow queue and invokes the function with each event.
* Schedule / ScheduleV2 events and AWS::Scheduler::Schedule resources: fired by a clock the caller
  advances (``advance(minutes=15)``), since moto stores schedules but never fires them.
* HttpApi / Api events: served on a local port as API Gateway proxy events (``serve_http()``).

The whole embedded account lives at the runtime's clock: while the runtime invokes a handler, drains
its event sources or advances the clock (and inside ``simulated_time()``), the process's wall clock —
``datetime.now()``, ``time.time()``, in the handlers, the emulators, boto3's request signing and the
in-process moto server alike — reads the local clock's time, ticking at real speed and never going
back (``SimulatedTime``, built on time-machine). So a retry backoff the handlers record elapses when
the clock is advanced past it, with production code unchanged.

The template is the single source of the wiring: which queue feeds which function, which rule or
schedule triggers what, which environment variables a function gets.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import re
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import boto3
import time_machine
from botocore.exceptions import ClientError

from replimend_local.moto_patches import event_pattern_matches
from replimend_local.sam_template import TEMPLATE_PATH, load_template, table_create_kwargs

log = logging.getLogger("replimend_local.runner")

DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_STACK_NAME = "replimend-local"
_NO_VALUE = object()  # AWS::NoValue: the key or item disappears


class TemplateError(Exception):
    """The template asks for something the local runtime cannot resolve or create."""


class DrainTimeout(RuntimeError):
    """Event sources kept delivering after the round limit (a poison message without a DLQ?)."""


# --------------------------------------------------------------------------------------------
# Clock and schedules


class LocalClock:
    """The runtime's notion of now: starts at the wall clock and moves only when advanced."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (start or datetime.now(UTC)).replace(microsecond=0)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        if moment < self._now:
            raise ValueError("the local clock never goes back")
        self._now = moment


class SimulatedTime:
    """The process's wall clock following a ``LocalClock`` while active.

    Handlers read real time (``datetime.now(UTC)``); production code has no clock parameter to
    inject. While active, time-machine makes ``datetime.now()``/``time.time()`` & co. return the
    simulated time in every thread of the process (the in-process moto server too, so S3
    LastModified, SQS visibility and DynamoDB items agree with the handlers). ``time.monotonic()``
    and ``perf_counter()`` are not touched, so Lambda deadlines and durations stay real.

    The simulated time starts at ``max(clock, last simulated time, real time)`` and ticks at real
    speed; when the clock is set forward it jumps there. It never goes back: what the account
    wrote at a simulated instant stays in its past. Re-entrant and thread-safe (a depth count).
    """

    def __init__(self, clock: LocalClock, *, enabled: bool = True) -> None:
        self.clock = clock
        self.enabled = enabled
        self._lock = threading.RLock()
        self._depth = 0
        self._travel: time_machine.travel | None = None
        self._traveller: time_machine.Traveller | None = None
        self._high_water: datetime | None = None

    @property
    def active(self) -> bool:
        return self._traveller is not None

    def enter(self) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self._depth == 0:
                start = max(self.clock.now(), self._high_water or self.clock.now(), datetime.now(UTC))
                self._travel = time_machine.travel(start, tick=True)
                self._traveller = self._travel.start()
            self._depth += 1

    def exit(self) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self._depth == 0:
                return  # already ended by stop()
            self._depth -= 1
            if self._depth == 0 and self._travel is not None:
                self._high_water = datetime.now(UTC)  # still simulated: where time resumes next
                self._travel.stop()
                self._travel = self._traveller = None

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        self.enter()
        try:
            yield
        finally:
            self.exit()

    def stop(self) -> None:
        """End the simulation whatever the depth (the runtime closes): real time again."""
        with self._lock:
            if self._depth:
                self._depth = 1
                self.exit()

    def follow_clock(self) -> None:
        """The clock was set forward: jump there if it is ahead of the simulated time."""
        with self._lock:
            if self._traveller is not None and self.clock.now() > datetime.now(UTC):
                self._traveller.move_to(self.clock.now())

    def now(self) -> datetime:
        """The simulated time now (also when inactive: where it would resume)."""
        if self.active:
            return datetime.now(UTC)
        return max(self.clock.now(), self._high_water or self.clock.now(), datetime.now(UTC))


_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_AT = re.compile(r"^at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)$")
_MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, start=1)}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}


def _cron_field(text: str, low: int, high: int, names: Mapping[str, int] | None = None) -> set[int] | None:
    """The values an AWS cron field allows (None for * and ?). Supports lists, ranges and steps."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for item in text.split(","):
        part, step = item, 1
        if "/" in item:
            part, step_text = item.split("/", 1)
            step = int(step_text)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _cron_value(first, names), _cron_value(last, names)
        else:
            start = _cron_value(part, names)
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high):
            raise TemplateError(f"cron field {text!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return values


def _cron_value(text: str, names: Mapping[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise TemplateError(f"unsupported cron value {text!r} (L, W and # are not emulated)")
    return int(text)


@dataclass
class Schedule:
    """A schedule expression that fires one function (rate(), cron() or at(), UTC)."""

    name: str
    expression: str
    function_id: str
    payload: Callable[[datetime], Any]
    enabled: bool = True
    last_checked: datetime = field(default_factory=lambda: datetime.now(UTC))
    fired: int = 0

    def __post_init__(self) -> None:
        self._period: timedelta | None = None
        self._cron: list[set[int] | None] | None = None
        self._at: datetime | None = None
        expression = self.expression.strip()
        if rate := _RATE.match(expression):
            amount, unit = int(rate.group(1)), rate.group(2).rstrip("s")
            self._period = timedelta(**{f"{unit}s": amount})
            self._anchor = self.last_checked
        elif cron := _CRON.match(expression):
            fields = cron.group(1).split()
            if len(fields) != 6:
                raise TemplateError(f"{expression}: AWS cron needs 6 fields")
            minute, hour, dom, month, dow, _year = fields
            self._cron = [
                _cron_field(minute, 0, 59),
                _cron_field(hour, 0, 23),
                _cron_field(dom, 1, 31),
                _cron_field(month, 1, 12, _MONTHS),
                _cron_field(dow, 1, 7, _DAYS),
            ]
        elif at := _AT.match(expression):
            self._at = datetime.fromisoformat(at.group(1)).replace(tzinfo=UTC)
        else:
            raise TemplateError(f"unsupported schedule expression {expression!r}")

    def due_between(self, after: datetime, until: datetime) -> Iterator[datetime]:
        """Fire times in (after, until]."""
        if self._period is not None:
            elapsed = (after - self._anchor) // self._period
            moment = self._anchor + self._period * (elapsed + 1)
            while moment <= until:
                yield moment
                moment += self._period
        elif self._at is not None:
            if after < self._at <= until:
                yield self._at
        elif self._cron is not None:
            minute, hour, dom, month, dow = self._cron
            moment = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
            while moment <= until:
                weekday = moment.isoweekday() % 7 + 1  # AWS: SUN=1 .. SAT=7
                if (
                    (minute is None or moment.minute in minute)
                    and (hour is None or moment.hour in hour)
                    and (dom is None or moment.day in dom)
                    and (month is None or moment.month in month)
                    and (dow is None or weekday in dow)
                ):
                    yield moment
                moment += timedelta(minutes=1)


# --------------------------------------------------------------------------------------------
# Template resolution


@dataclass
class Resource:
    logical_id: str
    type: str
    physical_id: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    status: str = "PENDING"  # PENDING, CREATING, CREATED, SKIPPED
    note: str = ""


_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class TemplateResolver:
    """Evaluates CloudFormation intrinsic functions for the local stack."""

    def __init__(
        self,
        template: Mapping[str, Any],
        *,
        parameters: Mapping[str, Any],
        pseudo: Mapping[str, Any],
        ref: Callable[[str], Any],
        get_att: Callable[[str, str], Any],
    ) -> None:
        self.template = template
        self.parameters = parameters
        self.pseudo = pseudo
        self._ref = ref
        self._get_att = get_att
        self._conditions: dict[str, bool] = {}

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (name, argument), *_ = value.items()
            if name == "Ref" or name.startswith("Fn::") or name == "Condition":
                return self._intrinsic(name, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self.template.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"unknown condition {name!r}")
            self._conditions[name] = bool(self.resolve(conditions[name]))
        return self._conditions[name]

    def _intrinsic(self, name: str, argument: Any) -> Any:
        if name == "Ref":
            return self.ref(str(argument))
        if name == "Condition":
            return self.condition(str(argument))
        if name == "Fn::GetAtt":
            logical_id, attribute = (
                argument.split(".", 1) if isinstance(argument, str) else self.resolve(argument)
            )
            return self._get_att(logical_id, attribute)
        if name == "Fn::Sub":
            if isinstance(argument, str):
                return self._sub(argument, {})
            text, variables = argument
            return self._sub(text, {key: self.resolve(item) for key, item in variables.items()})
        if name == "Fn::Join":
            separator, items = argument
            return str(separator).join(str(item) for item in self._as_list(self.resolve(items)))
        if name == "Fn::Split":
            separator, text = argument
            return str(self.resolve(text)).split(separator)
        if name == "Fn::Select":
            index, items = argument
            return self._as_list(self.resolve(items))[int(self.resolve(index))]
        if name == "Fn::If":
            condition_name, when_true, when_false = argument
            return self.resolve(when_true if self.condition(condition_name) else when_false)
        if name == "Fn::Equals":
            left, right = (self.resolve(item) for item in argument)
            return str(left) == str(right)
        if name == "Fn::Not":
            return not self._truth(argument[0])
        if name == "Fn::And":
            return all(self._truth(item) for item in argument)
        if name == "Fn::Or":
            return any(self._truth(item) for item in argument)
        if name == "Fn::FindInMap":
            mapping, top, second = (self.resolve(item) for item in argument)
            return self.template["Mappings"][mapping][top][second]
        if name == "Fn::GetAZs":
            region = self.resolve(argument) or self.pseudo["AWS::Region"]
            return [f"{region}{zone}" for zone in "abc"]
        if name == "Fn::Base64":
            import base64

            return base64.b64encode(str(self.resolve(argument)).encode()).decode()
        if name == "Fn::ToJsonString":
            return json.dumps(self.resolve(argument), separators=(",", ":"))
        raise TemplateError(f"intrinsic function {name} is not supported locally")

    def _truth(self, item: Any) -> bool:
        if isinstance(item, dict) and set(item) == {"Condition"}:
            return self.condition(item["Condition"])
        return bool(self.resolve(item))

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            value = self.pseudo[name]
            return _NO_VALUE if name == "AWS::NoValue" else value
        if name in self.parameters:
            return self.parameters[name]
        return self._ref(name)

    def _sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return str(self._get_att(logical_id, attribute))
            value = self.ref(name)
            return ",".join(value) if isinstance(value, list) else str(value)

        return _SUB_VARIABLE.sub(replace, text)

    @staticmethod
    def _as_list(value: Any) -> list[Any]:
        return value if isinstance(value, list) else str(value).split(",")


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


@dataclass
class SqsSource:
    function_id: str
    name: str
    queue_url: str
    queue_arn: str
    batch_size: int
    report_item_failures: bool
    filters: list[Any]
    enabled: bool = True


@dataclass
class RuleSource:
    function_id: str
    rule_name: str
    rule_arn: str
    queue_url: str
    input: Any = None
    input_path: str | None = None


@dataclass
class HttpRoute:
    function_id: str
    method: str
    path: str
    payload_version: str  # "2.0" for HttpApi, "1.0" for Api
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        regex = re.escape(self.path)
        regex = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", regex)
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", regex)
        self.pattern = re.compile(f"^{regex}$")


def _env_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


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


# --------------------------------------------------------------------------------------------
# The runtime


class LocalRuntime:
    """The local stack: resources created from the template and functions run on their events."""

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
                "AWS::NoValue": _NO_VALUE,
            },
            ref=self._ref,
            get_att=self._get_att,
        )
        self.functions: dict[str, LocalFunction] = {}
        self.sqs_sources: list[SqsSource] = []
        self.rule_sources: list[RuleSource] = []
        self.schedules: list[Schedule] = []
        self.http_routes: list[HttpRoute] = []
        self.invocations: list[Invocation] = []
        self.skipped: dict[str, str] = {}  # logical id -> why it was not created
        #: called on every drain round (e.g. the Batch Operations emulator advancing its jobs); each
        #: returns how much it did, so drain() goes on until they are quiet too
        self.pollers: list[Callable[[], int]] = []
        self._clients: dict[tuple[str, str], Any] = {}
        self._queue_urls_by_arn: dict[str, str] = {}
        self._invoke_lock = threading.RLock()
        self._http_server: ThreadingHTTPServer | None = None
        self._deployed = False

    # ---------------------------------------------------------------- deployment

    def deploy(self) -> LocalRuntime:
        """Create every resource of the template, then wire the functions' event sources."""
        if self._deployed:
            return self
        for logical_id in list(self.resources):
            self._ensure(logical_id)
        for function in list(self.functions.values()):
            self._wire_events(function)
        for logical_id, resource in list(self.resources.items()):
            if resource.type == "AWS::Lambda::EventSourceMapping":
                self._wire_event_source_mapping(logical_id)
        self._deployed = True
        log.info("local stack %s deployed: %d resources", self.stack_name, len(self.resources))
        return self

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
                value = _env_str(value)
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

    def _ensure(self, logical_id: str) -> Resource:
        resource = self.resources.get(logical_id)
        if resource is None:
            implicit = self._implicit_resource(logical_id)
            if implicit is None:
                raise TemplateError(f"unknown resource or parameter {logical_id!r}")
            return implicit
        if resource.status in ("CREATED", "SKIPPED"):
            return resource
        if resource.status == "CREATING":
            raise TemplateError(f"circular reference through {logical_id}")
        resource.status = "CREATING"
        spec = self.template["Resources"][logical_id]
        if "Condition" in spec and not self.resolver.condition(spec["Condition"]):
            resource.status, resource.note = "SKIPPED", "condition is false"
            return resource
        for dependency in self._as_list(spec.get("DependsOn")):
            self._ensure(dependency)
        creator = self._CREATORS.get(resource.type)
        if creator is None:
            resource.physical_id = f"{self.stack_name}-{logical_id}"
            resource.attributes = {"Arn": f"arn:aws:local:{self.region}:{self.account_id}:{logical_id}"}
            resource.status, resource.note = "SKIPPED", f"{resource.type} is not emulated locally"
            self.skipped[logical_id] = resource.note
            return resource
        properties = self.resolver.resolve(spec.get("Properties") or {})
        creator(self, resource, properties)
        resource.status = "CREATED"
        return resource

    def _implicit_resource(self, logical_id: str) -> Resource | None:
        """SAM's generated resources that templates may reference: <Function>Role, ServerlessHttpApi."""
        if logical_id.endswith("Role") and logical_id[: -len("Role")] in self.resources:
            function_id = logical_id[: -len("Role")]
            if self.resources[function_id].type == "AWS::Serverless::Function":
                self._ensure(function_id)
                return self.resources[logical_id]
        if logical_id in ("ServerlessHttpApi", "ServerlessRestApi"):
            resource = Resource(logical_id, "AWS::Serverless::HttpApi", status="CREATED")
            resource.physical_id = f"{self.stack_name.lower()}-local-api"
            resource.attributes = {"ApiEndpoint": "http://127.0.0.1"}
            self.resources[logical_id] = resource
            return resource
        return None

    @staticmethod
    def _as_list(value: Any) -> list[Any]:
        if value is None:
            return []
        return value if isinstance(value, list) else [value]

    def _name(self, logical_id: str, limit: int, *, lower: bool = False, suffix: str = "") -> str:
        name = f"{self.stack_name}-{logical_id}"
        if lower:
            name = re.sub(r"[^a-z0-9.-]", "-", name.lower())
        return name[: limit - len(suffix)] + suffix

    # ---------------------------------------------------------------- resource creators

    def _create_queue(self, resource: Resource, props: dict[str, Any]) -> None:
        fifo = str(props.get("FifoQueue", "")).lower() == "true"
        name = props.get("QueueName") or self._name(resource.logical_id, 80, suffix=".fifo" if fifo else "")
        attributes: dict[str, str] = {}
        for key in (
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "MaximumMessageSize",
            "ReceiveMessageWaitTimeSeconds",
            "KmsMasterKeyId",
            "KmsDataKeyReusePeriodSeconds",
            "SqsManagedSseEnabled",
            "FifoQueue",
            "ContentBasedDeduplication",
        ):
            if key in props:
                attributes[key] = _env_str(props[key])
        for key in ("RedrivePolicy", "RedriveAllowPolicy"):
            if key in props:
                value = props[key]
                attributes[key] = value if isinstance(value, str) else json.dumps(value)
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = f"arn:aws:sqs:{self.region}:{self.account_id}:{name}"
        self._queue_urls_by_arn[arn] = url
        resource.physical_id = url
        resource.attributes = {"Arn": arn, "QueueName": name, "QueueUrl": url}

    def _create_queue_policy(self, resource: Resource, props: dict[str, Any]) -> None:
        policy = json.dumps(props["PolicyDocument"])
        for url in props.get("Queues", []):
            self.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
        resource.physical_id = f"{self.stack_name}-{resource.logical_id}"

    def _create_topic(self, resource: Resource, props: dict[str, Any]) -> None:
        fifo = str(props.get("FifoTopic", "")).lower() == "true"
        name = props.get("TopicName") or self._name(resource.logical_id, 256, suffix=".fifo" if fifo else "")
        sns = self.client("sns")
        attributes: dict[str, str] = {
            key: _env_str(props[key]) for key in ("DisplayName", "KmsMasterKeyId") if key in props
        }
        if fifo:
            attributes["FifoTopic"] = "true"
        arn = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
        for subscription in props.get("Subscription", []):
            sns.subscribe(TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"])
        resource.physical_id = arn
        resource.attributes = {"TopicArn": arn, "TopicName": name}

    def _create_subscription(self, resource: Resource, props: dict[str, Any]) -> None:
        attributes = {}
        if "RawMessageDelivery" in props:
            attributes["RawMessageDelivery"] = _env_str(props["RawMessageDelivery"])
        if "FilterPolicy" in props:
            attributes["FilterPolicy"] = json.dumps(props["FilterPolicy"])
        response = self.client("sns").subscribe(
            TopicArn=props["TopicArn"],
            Protocol=props["Protocol"],
            Endpoint=props["Endpoint"],
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )
        resource.physical_id = response["SubscriptionArn"]

    def _create_table(self, resource: Resource, props: dict[str, Any]) -> None:
        name = props.get("TableName") or self._name(resource.logical_id, 255)
        dynamodb = self.client("dynamodb")
        dynamodb.create_table(**table_create_kwargs(self.template, resource.logical_id, name))
        ttl = props.get("TimeToLiveSpecification")
        if ttl and str(ttl.get("Enabled")).lower() == "true":
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        described = dynamodb.describe_table(TableName=name)["Table"]
        resource.physical_id = name
        resource.attributes = {"Arn": described["TableArn"]}
        if described.get("LatestStreamArn"):
            resource.attributes["StreamArn"] = described["LatestStreamArn"]

    def _create_bucket(self, resource: Resource, props: dict[str, Any]) -> None:
        name = props.get("BucketName") or self._name(resource.logical_id, 63, lower=True)
        s3 = self.client("s3")
        create: dict[str, Any] = {"Bucket": name}
        if self.region != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        if str(props.get("ObjectLockEnabled", "")).lower() == "true":
            create["ObjectLockEnabledForBucket"] = True
        s3.create_bucket(**create)
        applied: list[str] = []
        notes: list[str] = []

        def apply(what: str, call: Callable[[], Any]) -> None:
            try:
                call()
                applied.append(what)
            except (ClientError, NotImplementedError) as exc:  # moto lacks some bucket settings
                notes.append(f"{what}: {exc}")

        if versioning := props.get("VersioningConfiguration"):
            apply(
                "versioning",
                lambda: s3.put_bucket_versioning(
                    Bucket=name, VersioningConfiguration={"Status": versioning["Status"]}
                ),
            )
        if encryption := props.get("BucketEncryption"):
            apply(
                "encryption",
                lambda: s3.put_bucket_encryption(
                    Bucket=name,
                    ServerSideEncryptionConfiguration={
                        "Rules": [
                            _encryption_rule(rule) for rule in encryption["ServerSideEncryptionConfiguration"]
                        ]
                    },
                ),
            )
        if block := props.get("PublicAccessBlockConfiguration"):
            apply(
                "public access block",
                lambda: s3.put_public_access_block(
                    Bucket=name,
                    PublicAccessBlockConfiguration={k: _bool(v) for k, v in block.items()},
                ),
            )
        if ownership := props.get("OwnershipControls"):
            apply(
                "ownership controls",
                lambda: s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=ownership),
            )
        if lifecycle := props.get("LifecycleConfiguration"):
            rules = [_lifecycle_rule(rule) for rule in lifecycle.get("Rules", [])]
            apply(
                "lifecycle",
                lambda: s3.put_bucket_lifecycle_configuration(
                    Bucket=name, LifecycleConfiguration={"Rules": rules}
                ),
            )
        if lock := props.get("ObjectLockConfiguration"):
            apply(
                "object lock",
                lambda: s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration=lock),
            )
        if tags := props.get("Tags"):
            apply("tags", lambda: s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags}))
        if notifications := props.get("NotificationConfiguration"):
            apply(
                "notifications",
                lambda: s3.put_bucket_notification_configuration(
                    Bucket=name, NotificationConfiguration=_notification_configuration(notifications)
                ),
            )
        resource.physical_id = name
        resource.note = "; ".join(notes)
        resource.attributes = {
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{self.region}.amazonaws.com",
            "WebsiteURL": f"http://{name}.s3-website-{self.region}.amazonaws.com",
        }
        if notes:
            log.warning("bucket %s: not applied locally: %s", name, resource.note)

    def _create_bucket_policy(self, resource: Resource, props: dict[str, Any]) -> None:
        self.client("s3").put_bucket_policy(
            Bucket=props["Bucket"], Policy=json.dumps(props["PolicyDocument"])
        )
        resource.physical_id = f"{self.stack_name}-{resource.logical_id}"

    def _create_role(self, resource: Resource, props: dict[str, Any]) -> None:
        name = props.get("RoleName") or self._name(resource.logical_id, 64)
        iam = self.client("iam")
        role = iam.create_role(
            RoleName=name,
            Path=props.get("Path", "/"),
            AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]),
            Description=props.get("Description", ""),
        )["Role"]
        for policy in props.get("Policies", []):
            iam.put_role_policy(
                RoleName=name,
                PolicyName=policy["PolicyName"],
                PolicyDocument=json.dumps(policy["PolicyDocument"]),
            )
        for arn in props.get("ManagedPolicyArns", []):
            self._attach_managed_policy(name, arn)
        resource.physical_id = name
        resource.attributes = {"Arn": role["Arn"], "RoleId": role["RoleId"]}

    def _attach_managed_policy(self, role_name: str, arn: str) -> None:
        try:
            self.client("iam").attach_role_policy(RoleName=role_name, PolicyArn=arn)
        except ClientError as exc:  # an AWS managed policy moto does not ship
            log.warning("role %s: managed policy %s not attached locally: %s", role_name, arn, exc)

    def _create_iam_policy(self, resource: Resource, props: dict[str, Any]) -> None:
        iam = self.client("iam")
        document = json.dumps(props["PolicyDocument"])
        if resource.type == "AWS::IAM::ManagedPolicy":
            name = props.get("ManagedPolicyName") or self._name(resource.logical_id, 128)
            arn = iam.create_policy(PolicyName=name, PolicyDocument=document)["Policy"]["Arn"]
            for role in props.get("Roles", []):
                iam.attach_role_policy(RoleName=role, PolicyArn=arn)
            resource.physical_id = arn
            resource.attributes = {"PolicyArn": arn, "PolicyName": name}
            return
        name = props["PolicyName"]
        for role in props.get("Roles", []):
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=document)
        resource.physical_id = name

    def _create_key(self, resource: Resource, props: dict[str, Any]) -> None:
        kms = self.client("kms")
        kwargs: dict[str, Any] = {"Description": props.get("Description", "")}
        if "KeyPolicy" in props:
            kwargs["Policy"] = json.dumps(props["KeyPolicy"])
        for key in ("KeyUsage", "KeySpec"):
            if key in props:
                kwargs[key] = props[key]
        metadata = kms.create_key(**kwargs)["KeyMetadata"]
        if str(props.get("Enabled", "true")).lower() == "false":
            kms.disable_key(KeyId=metadata["KeyId"])
        if str(props.get("EnableKeyRotation", "")).lower() == "true":
            kms.enable_key_rotation(KeyId=metadata["KeyId"])
        resource.physical_id = metadata["KeyId"]
        resource.attributes = {"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]}

    def _create_alias(self, resource: Resource, props: dict[str, Any]) -> None:
        self.client("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
        resource.physical_id = props["AliasName"]

    def _create_log_group(self, resource: Resource, props: dict[str, Any]) -> None:
        name = props.get("LogGroupName") or self._name(resource.logical_id, 512)
        self.client("logs").create_log_group(logGroupName=name)
        resource.physical_id = name
        resource.attributes = {"Arn": f"arn:aws:logs:{self.region}:{self.account_id}:log-group:{name}:*"}

    def _create_alarm(self, resource: Resource, props: dict[str, Any]) -> None:
        name = props.get("AlarmName") or self._name(resource.logical_id, 255)
        allowed = {
            "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions", "InsufficientDataActions",
            "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit",
            "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator",
            "TreatMissingData", "Metrics",
        }  # fmt: skip
        kwargs = {key: value for key, value in props.items() if key in allowed}
        for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
            if key in kwargs:
                kwargs[key] = int(kwargs[key])
        if "Threshold" in kwargs:
            kwargs["Threshold"] = float(kwargs["Threshold"])
        if "ActionsEnabled" in kwargs:
            kwargs["ActionsEnabled"] = _bool(kwargs["ActionsEnabled"])
        self.client("cloudwatch").put_metric_alarm(AlarmName=name, **kwargs)
        resource.physical_id = name
        resource.attributes = {"Arn": f"arn:aws:cloudwatch:{self.region}:{self.account_id}:alarm:{name}"}

    def _create_event_bus(self, resource: Resource, props: dict[str, Any]) -> None:
        arn = self.client("events").create_event_bus(Name=props["Name"])["EventBusArn"]
        resource.physical_id = props["Name"]
        resource.attributes = {"Arn": arn, "Name": props["Name"]}

    def _create_rule(self, resource: Resource, props: dict[str, Any]) -> None:
        """AWS::Events::Rule: pattern rules reach functions through shadow queues, schedules the clock."""
        name = props.get("Name") or self._name(resource.logical_id, 64)
        bus = props.get("EventBusName", "default")
        enabled = props.get("State", "ENABLED") == "ENABLED"
        rule: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": props.get("State", "ENABLED")}
        if "EventPattern" in props:
            pattern = props["EventPattern"]
            rule["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        if "ScheduleExpression" in props:
            rule["ScheduleExpression"] = props["ScheduleExpression"]
        arn = self.client("events").put_rule(**rule)["RuleArn"]
        resource.physical_id = name
        resource.attributes = {"Arn": arn}
        passthrough_targets = []
        for target in props.get("Targets", []):
            function_id = self._function_for_arn(target["Arn"])
            if function_id is None:
                passthrough_targets.append(
                    {k: v for k, v in target.items() if k in ("Id", "Arn", "Input", "InputPath")}
                )
                continue
            if "ScheduleExpression" in props:
                self._add_schedule(
                    name,
                    props["ScheduleExpression"],
                    function_id=function_id,
                    rule_arn=arn,
                    input_value=target.get("Input"),
                    enabled=enabled,
                )
            else:
                self._add_rule_source(
                    function_id,
                    name,
                    bus=bus,
                    rule_arn=arn,
                    input_value=target.get("Input"),
                    input_path=target.get("InputPath"),
                )
        if passthrough_targets:
            self.client("events").put_targets(Rule=name, EventBusName=bus, Targets=passthrough_targets)

    def _create_scheduler_schedule(self, resource: Resource, props: dict[str, Any]) -> None:
        name = props.get("Name") or self._name(resource.logical_id, 64)
        target = props["Target"]
        self.client("scheduler").create_schedule(
            Name=name,
            ScheduleExpression=props["ScheduleExpression"],
            FlexibleTimeWindow=props.get("FlexibleTimeWindow", {"Mode": "OFF"}),
            Target={key: target[key] for key in ("Arn", "RoleArn", "Input") if key in target},
            State=props.get("State", "ENABLED"),
        )
        resource.physical_id = name
        resource.attributes = {
            "Arn": f"arn:aws:scheduler:{self.region}:{self.account_id}:schedule/default/{name}"
        }
        function_id = self._function_for_arn(target["Arn"])
        if function_id is None:
            resource.note = "target is not a function of this stack: stored, never fired locally"
            return
        self._add_schedule(
            name,
            props["ScheduleExpression"],
            function_id=function_id,
            rule_arn=None,
            input_value=target.get("Input"),
            enabled=props.get("State", "ENABLED") == "ENABLED",
        )

    def _create_function(self, resource: Resource, props: dict[str, Any]) -> None:
        logical_id = resource.logical_id
        merged = self._with_globals(logical_id)
        name = merged.get("FunctionName") or self._name(logical_id, 64)
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"
        resource.physical_id = name
        resource.attributes = {"Arn": arn}
        self._create_function_role(logical_id, merged)
        environment = {
            key: _env_str(value)
            for key, value in (merged.get("Environment", {}).get("Variables") or {}).items()
        }
        code_uri = merged.get("CodeUri")
        if not isinstance(code_uri, str):
            raise TemplateError(f"{logical_id}: CodeUri must be a local path to run locally")
        self.functions[logical_id] = LocalFunction(
            logical_id=logical_id,
            name=name,
            arn=arn,
            code_dir=(self.template_dir / code_uri).resolve(),
            handler=merged["Handler"],
            environment=environment,
            memory_mb=int(merged.get("MemorySize", 128)),
            timeout_seconds=int(merged.get("Timeout", 3)),
        )

    def _with_globals(self, logical_id: str) -> dict[str, Any]:
        """The function's properties with Globals.Function merged in (SAM's rules), resolved."""
        spec = self.template["Resources"][logical_id].get("Properties") or {}
        global_spec = (self.template.get("Globals") or {}).get("Function") or {}
        merged: dict[str, Any] = {**global_spec, **spec}
        global_variables = (global_spec.get("Environment") or {}).get("Variables") or {}
        own_variables = (spec.get("Environment") or {}).get("Variables") or {}
        merged["Environment"] = {"Variables": {**global_variables, **own_variables}}
        resolved: dict[str, Any] = self.resolver.resolve({k: v for k, v in merged.items() if k != "Events"})
        resolved["Events"] = spec.get("Events") or {}
        return resolved

    def _create_function_role(self, logical_id: str, props: dict[str, Any]) -> None:
        """SAM's implicit <Function>Role with the function's inline policy statements."""
        role_id = f"{logical_id}Role"
        if role_id in self.resources:  # declared explicitly: the template's own resource
            return
        role = Resource(role_id, "AWS::IAM::Role", status="CREATED", note="SAM implicit function role")
        self.resources[role_id] = role
        if props.get("Role"):
            role.physical_id = str(props["Role"]).rsplit("/", 1)[-1]
            role.attributes = {"Arn": props["Role"]}
            return
        name = self._name(role_id, 64)
        iam = self.client("iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        created = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
        skipped_templates: list[str] = []
        for index, policy in enumerate(self._as_list(props.get("Policies"))):
            if isinstance(policy, str):
                arn = policy if policy.startswith("arn:") else f"arn:aws:iam::aws:policy/{policy}"
                self._attach_managed_policy(name, arn)
            elif isinstance(policy, dict) and "Statement" in policy:
                document = {"Version": policy.get("Version", "2012-10-17"), "Statement": policy["Statement"]}
                iam.put_role_policy(
                    RoleName=name,
                    PolicyName=f"{logical_id}Policy{index}",
                    PolicyDocument=json.dumps(document),
                )
            elif isinstance(policy, dict):
                skipped_templates.extend(policy)  # SAM policy templates are not expanded locally
        role.physical_id = name
        role.attributes = {"Arn": created["Arn"], "RoleId": created["RoleId"]}
        if skipped_templates:
            role.note = f"SAM policy templates not expanded: {', '.join(skipped_templates)}"

    def _create_http_api(self, resource: Resource, props: dict[str, Any]) -> None:
        resource.physical_id = self._name(resource.logical_id, 64, lower=True)
        resource.attributes = {"ApiEndpoint": "http://127.0.0.1", "ApiId": resource.physical_id}

    def _create_noop(self, resource: Resource, props: dict[str, Any]) -> None:
        resource.physical_id = f"{self.stack_name}-{resource.logical_id}"

    def _create_layer(self, resource: Resource, props: dict[str, Any]) -> None:
        # The layer's package is importable from the development install; only its ARN matters here.
        name = props.get("LayerName") or self._name(resource.logical_id, 140)
        resource.physical_id = f"arn:aws:lambda:{self.region}:{self.account_id}:layer:{name}:1"
        resource.note = "code served from the development install"

    def _create_event_source_mapping(self, resource: Resource, props: dict[str, Any]) -> None:
        resource.physical_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.stack_name}/{resource.logical_id}"))

    _CREATORS: dict[str, Callable[[LocalRuntime, Resource, dict[str, Any]], None]] = {
        "AWS::SQS::Queue": _create_queue,
        "AWS::SQS::QueuePolicy": _create_queue_policy,
        "AWS::SNS::Topic": _create_topic,
        "AWS::SNS::Subscription": _create_subscription,
        "AWS::DynamoDB::Table": _create_table,
        "AWS::S3::Bucket": _create_bucket,
        "AWS::S3::BucketPolicy": _create_bucket_policy,
        "AWS::IAM::Role": _create_role,
        "AWS::IAM::Policy": _create_iam_policy,
        "AWS::IAM::ManagedPolicy": _create_iam_policy,
        "AWS::KMS::Key": _create_key,
        "AWS::KMS::Alias": _create_alias,
        "AWS::Logs::LogGroup": _create_log_group,
        "AWS::CloudWatch::Alarm": _create_alarm,
        "AWS::Events::EventBus": _create_event_bus,
        "AWS::Events::Rule": _create_rule,
        "AWS::Scheduler::Schedule": _create_scheduler_schedule,
        "AWS::Serverless::Function": _create_function,
        "AWS::Serverless::LayerVersion": _create_layer,
        "AWS::Serverless::HttpApi": _create_http_api,
        "AWS::Serverless::Api": _create_http_api,
        "AWS::Lambda::Permission": _create_noop,
        "AWS::Lambda::EventSourceMapping": _create_event_source_mapping,
        "AWS::SNS::TopicPolicy": _create_noop,
    }

    # ---------------------------------------------------------------- event source wiring

    def _function_for_arn(self, arn: Any) -> str | None:
        for function in self.functions.values():
            if arn in (function.arn, function.name) or str(arn).startswith(function.arn + ":"):
                return function.logical_id
        # a function declared later in the template than the rule that targets it
        for logical_id, resource in self.resources.items():
            if resource.type == "AWS::Serverless::Function" and resource.status == "PENDING":
                self._ensure(logical_id)
                if arn == resource.attributes["Arn"] or arn == resource.physical_id:
                    return logical_id
        return None

    def _wire_events(self, function: LocalFunction) -> None:
        events = self.template["Resources"][function.logical_id].get("Properties", {}).get("Events") or {}
        for event_name, spec in events.items():
            kind = spec.get("Type")
            props = self.resolver.resolve(spec.get("Properties") or {})
            label = f"{function.logical_id}{event_name}"
            if kind == "SQS":
                self._add_sqs_source(function.logical_id, event_name, props)
            elif kind in ("EventBridgeRule", "CloudWatchEvent"):
                bus = props.get("EventBusName", "default")
                rule_name = props.get("RuleName") or self._name(label, 64)
                rule_arn = self._put_pattern_rule(
                    rule_name, bus, props["Pattern"], props.get("State", "ENABLED")
                )
                self._add_rule_source(
                    function.logical_id,
                    rule_name,
                    bus=bus,
                    rule_arn=rule_arn,
                    input_value=props.get("Input"),
                    input_path=props.get("InputPath"),
                )
            elif kind == "Schedule":
                enabled = _bool(props.get("Enabled", True)) and props.get("State", "ENABLED") == "ENABLED"
                rule_name = props.get("Name") or self._name(label, 64)
                rule_arn = self.client("events").put_rule(
                    Name=rule_name,
                    ScheduleExpression=props["Schedule"],
                    State="ENABLED" if enabled else "DISABLED",
                )["RuleArn"]
                self._add_schedule(
                    rule_name,
                    props["Schedule"],
                    function_id=function.logical_id,
                    rule_arn=rule_arn,
                    input_value=props.get("Input"),
                    enabled=enabled,
                )
            elif kind == "ScheduleV2":
                name = props.get("Name") or self._name(label, 64)
                self._add_schedule(
                    name,
                    props["ScheduleExpression"],
                    function_id=function.logical_id,
                    rule_arn=None,
                    input_value=props.get("Input"),
                    enabled=props.get("State", "ENABLED") == "ENABLED",
                )
            elif kind in ("HttpApi", "Api"):
                self.http_routes.append(
                    HttpRoute(
                        function.logical_id,
                        str(props.get("Method", "ANY")).upper(),
                        props.get("Path", "/{proxy+}"),
                        "2.0"
                        if kind == "HttpApi" and props.get("PayloadFormatVersion", "2.0") == "2.0"
                        else "1.0",
                    )
                )
            else:
                self.skipped[label] = f"event source type {kind} is not emulated locally"
                log.warning(
                    "%s: event source %s (%s) is not emulated locally", function.logical_id, event_name, kind
                )

    def _wire_event_source_mapping(self, logical_id: str) -> None:
        props = self.resolver.resolve(self.template["Resources"][logical_id].get("Properties") or {})
        function_id = self._function_for_arn(props["FunctionName"])
        if function_id is None or ":sqs:" not in str(props.get("EventSourceArn")):
            self.skipped[logical_id] = "only SQS mappings to functions of this stack are emulated"
            return
        self._add_sqs_source(function_id, logical_id, {**props, "Queue": props["EventSourceArn"]})

    def _add_sqs_source(self, function_id: str, name: str, props: Mapping[str, Any]) -> None:
        arn = props["Queue"]
        url = (
            self._queue_urls_by_arn.get(arn)
            or self.client("sqs").get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"]
        )
        filters = []
        for item in (props.get("FilterCriteria") or {}).get("Filters", []):
            pattern = item["Pattern"]
            filters.append(json.loads(pattern) if isinstance(pattern, str) else pattern)
        self.sqs_sources.append(
            SqsSource(
                function_id=function_id,
                name=name,
                queue_url=url,
                queue_arn=arn,
                batch_size=int(props.get("BatchSize", 10)),
                report_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                filters=filters,
                enabled=_bool(props.get("Enabled", True)),
            )
        )

    def _put_pattern_rule(self, name: str, bus: str, pattern: Any, state: str) -> str:
        response = self.client("events").put_rule(
            Name=name,
            EventBusName=bus,
            EventPattern=pattern if isinstance(pattern, str) else json.dumps(pattern),
            State=state,
        )
        return str(response["RuleArn"])

    def _add_rule_source(
        self,
        function_id: str,
        rule_name: str,
        *,
        bus: str,
        rule_arn: str,
        input_value: Any,
        input_path: str | None,
    ) -> None:
        """A shadow queue as the rule's target: moto matches the pattern, the runtime invokes the function."""
        sqs = self.client("sqs")
        queue_name = f"{rule_name[:70]}-target"
        url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.client("events").put_targets(
            Rule=rule_name, EventBusName=bus, Targets=[{"Id": f"local-{function_id}"[:64], "Arn": queue_arn}]
        )
        self.rule_sources.append(RuleSource(function_id, rule_name, rule_arn, url, input_value, input_path))

    def _add_schedule(
        self,
        name: str,
        expression: str,
        *,
        function_id: str,
        rule_arn: str | None,
        input_value: Any,
        enabled: bool,
    ) -> None:
        def payload(moment: datetime) -> Any:
            if input_value is not None:
                return json.loads(input_value) if isinstance(input_value, str) else input_value
            if rule_arn is None:  # EventBridge Scheduler sends an empty object when no Input is set
                return {}
            return {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": self.account_id,
                "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": self.region,
                "resources": [rule_arn],
                "detail": {},
            }

        self.schedules.append(
            Schedule(name, expression, function_id, payload, enabled=enabled, last_checked=self.clock.now())
        )

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
            redirect = contextlib.redirect_stdout(output) if self.capture_output else contextlib.nullcontext()
            # what the handler prints and warns goes to its log stream, as in Lambda: kept on the invocation
            variables = self.function_environment(function)
            with (
                environment(variables),
                _log_level(variables),
                redirect,
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

    # ---------------------------------------------------------------- event sources

    def add_poller(self, poller: Callable[[], int]) -> None:
        """Run ``poller`` on every drain round; it returns how much it did (0 when quiet)."""
        self.pollers.append(poller)

    def drain(self, *, max_rounds: int = 200) -> int:
        """Run SQS and EventBridge deliveries (and pollers) until all are quiet; returns the work done."""
        with self.simulated_time():
            return self._drain(max_rounds)

    def _drain(self, max_rounds: int) -> int:
        total = 0
        for _ in range(max_rounds):
            delivered = 0
            for source in self.sqs_sources:
                if source.enabled:
                    delivered += self._poll_sqs(source)
            for rule in self.rule_sources:
                delivered += self._poll_rule(rule)
            for poller in self.pollers:
                delivered += poller()
            total += delivered
            if delivered == 0:
                return total
        raise DrainTimeout(f"event sources still delivering after {max_rounds} rounds")

    def _poll_sqs(self, source: SqsSource) -> int:
        sqs = self.client("sqs")
        invocations = 0
        while True:
            response = sqs.receive_message(
                QueueUrl=source.queue_url,
                MaxNumberOfMessages=min(source.batch_size, 10),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
            messages = response.get("Messages", [])
            if not messages:
                return invocations
            records = [self._sqs_record(message, source) for message in messages]
            kept = [record for record in records if self._passes_filters(record, source)]
            dropped = [record for record in records if record not in kept]
            # Lambda deletes messages that match no filter without invoking the function
            self._delete(source, dropped)
            if not kept:
                continue
            invocation = self._invoke(
                source.function_id,
                {"Records": kept},
                trigger=f"sqs:{source.queue_arn.rsplit(':', 1)[1]}",
                summary=f"{len(kept)} message{'s' if len(kept) != 1 else ''}",
            )
            invocations += 1
            failed_ids = self._failed_message_ids(invocation, kept, source)
            self._delete(source, [record for record in kept if record["messageId"] not in failed_ids])
            # Visible again at once (not after the visibility timeout): the next poll redelivers it,
            # and moto's redrive moves it to the DLQ once maxReceiveCount is reached.
            for record in kept:
                if record["messageId"] in failed_ids:
                    sqs.change_message_visibility(
                        QueueUrl=source.queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
                    )
            if failed_ids:
                invocation.summary += f", {len(failed_ids)} failed"
                # a failed message becomes visible again at once: stop this poll, let drain() come back
                return invocations

    @staticmethod
    def _failed_message_ids(
        invocation: Invocation, records: list[dict[str, Any]], source: SqsSource
    ) -> set[str]:
        every = {record["messageId"] for record in records}
        if not invocation.ok:
            return every
        if not source.report_item_failures:
            return set()
        result = invocation.result
        if not isinstance(result, dict) or "batchItemFailures" not in result:
            return set()
        failed: set[str] = set()
        for item in result["batchItemFailures"] or []:
            identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
            if not identifier or identifier not in every:
                return every  # Lambda treats an invalid response as a failure of the whole batch
            failed.add(identifier)
        return failed

    def _delete(self, source: SqsSource, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), 10):
            chunk = records[start : start + 10]
            if chunk:
                self.client("sqs").delete_message_batch(
                    QueueUrl=source.queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(chunk)
                    ],
                )

    def _sqs_record(self, message: Mapping[str, Any], source: SqsSource) -> dict[str, Any]:
        attributes = message.get("Attributes", {})
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {
                key: attributes[key]
                for key in (
                    "ApproximateReceiveCount",
                    "SentTimestamp",
                    "SenderId",
                    "ApproximateFirstReceiveTimestamp",
                    "MessageGroupId",
                    "MessageDeduplicationId",
                    "SequenceNumber",
                )
                if key in attributes
            },
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": value["DataType"],
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": source.queue_arn,
            "awsRegion": self.region,
        }

    @staticmethod
    def _passes_filters(record: Mapping[str, Any], source: SqsSource) -> bool:
        if not source.filters:
            return True
        candidate = dict(record)
        with contextlib.suppress(ValueError, TypeError):
            candidate["body"] = json.loads(record["body"])
        return any(event_pattern_matches(pattern, candidate) for pattern in source.filters)

    def _poll_rule(self, rule: RuleSource) -> int:
        sqs = self.client("sqs")
        invocations = 0
        while True:
            messages = sqs.receive_message(
                QueueUrl=rule.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return invocations
            for message in messages:
                event = json.loads(message["Body"])
                payload = self._rule_input(rule, event)
                detail = event.get("detail") if isinstance(event, dict) else None
                name = detail.get("eventName") if isinstance(detail, dict) else None
                # EventBridge invokes asynchronously: an error is logged, not retried here
                self._invoke(
                    rule.function_id,
                    payload,
                    trigger=f"rule:{rule.rule_name}",
                    summary=str(name or (event.get("detail-type") if isinstance(event, dict) else "")),
                )
                invocations += 1
                sqs.delete_message(QueueUrl=rule.queue_url, ReceiptHandle=message["ReceiptHandle"])

    @staticmethod
    def _rule_input(rule: RuleSource, event: Any) -> Any:
        if rule.input is not None:
            return json.loads(rule.input) if isinstance(rule.input, str) else rule.input
        if rule.input_path:
            value = event
            for part in rule.input_path.removeprefix("$").strip(".").split("."):
                if part:
                    value = value[part]
            return value
        return event

    def put_events(self, entries: list[dict[str, Any]], *, bus: str = "default") -> None:
        """Put events on a bus (moto routes them to the rules' shadow queues); drain() delivers them."""
        for entry in entries:
            entry.setdefault("EventBusName", bus)
            if not isinstance(entry.get("Detail"), str):
                entry["Detail"] = json.dumps(entry.get("Detail", {}))
        response = self.client("events").put_events(Entries=entries)
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"put_events failed: {response['Entries']}")

    # ---------------------------------------------------------------- clock

    def advance(self, *, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> int:
        """Move the clock forward, firing every schedule due on the way (each followed by a drain).

        The simulated wall clock moves with it, so handlers see each schedule's moment.
        """
        with self.simulated_time():
            return self._advance(timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds))

    def _advance(self, delta: timedelta) -> int:
        until = self.clock.now() + delta
        start = self.clock.now()
        due = sorted(
            ((moment, index) for index, schedule in enumerate(self.schedules) if schedule.enabled
             for moment in schedule.due_between(start, until)),
            key=lambda item: item,
        )  # fmt: skip
        invocations = self.drain()
        for moment, index in due:
            schedule = self.schedules[index]
            self.clock.set(moment)
            self.simulated_time.follow_clock()
            schedule.fired += 1
            self._invoke(
                schedule.function_id,
                schedule.payload(moment),
                trigger=f"schedule:{schedule.name}",
                summary=schedule.expression,
            )
            invocations += 1 + self.drain()
        self.clock.set(until)
        self.simulated_time.follow_clock()
        return invocations

    # ---------------------------------------------------------------- HTTP

    def serve_http(self, port: int = 0) -> str:
        """Serve the template's HttpApi/Api routes on 127.0.0.1; returns the base URL."""
        if not self.http_routes:
            raise TemplateError("the template declares no HttpApi or Api events")
        if self._http_server is None:
            runtime = self

            class Handler(BaseHTTPRequestHandler):
                def do_request(self) -> None:
                    runtime._handle_http(self)

                do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_request

                def log_message(self, format: str, *args: Any) -> None:
                    log.debug(format, *args)

            self._http_server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
            threading.Thread(target=self._http_server.serve_forever, daemon=True).start()
        host, bound_port = self._http_server.server_address[:2]
        return f"http://{host!s}:{bound_port}"

    def _handle_http(self, request: BaseHTTPRequestHandler) -> None:
        url = urlsplit(request.path)
        method = request.command
        for route in self.http_routes:
            match = route.pattern.match(url.path)
            if match and route.method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD", method):
                break
        else:
            self._http_reply(
                request, 404, {"content-type": "application/json"}, json.dumps({"message": "Not Found"})
            )
            return
        length = int(request.headers.get("content-length") or 0)
        body = request.rfile.read(length).decode("utf-8", "replace") if length else None
        event = self._http_event(
            route,
            method=method,
            path=url.path,
            query=url.query,
            headers=dict(request.headers),
            body=body,
            path_parameters=match.groupdict(),
        )
        invocation = self._invoke(route.function_id, event, trigger="http", summary=f"{method} {url.path}")
        if not invocation.ok:
            self._http_reply(
                request, 502, {"content-type": "application/json"}, '{"message":"Internal Server Error"}'
            )
            return
        result = invocation.result
        if not isinstance(result, dict) or "statusCode" not in result:
            self._http_reply(request, 200, {"content-type": "application/json"}, json.dumps(result))
            return
        headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        payload = result.get("body") or ""
        if result.get("isBase64Encoded"):
            import base64

            self._http_reply(request, int(result["statusCode"]), headers, base64.b64decode(payload))
        else:
            self._http_reply(request, int(result["statusCode"]), headers, str(payload))

    @staticmethod
    def _http_reply(
        request: BaseHTTPRequestHandler, status: int, headers: Mapping[str, str], body: str | bytes
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        request.send_response(status)
        for name, value in headers.items():
            if name != "content-length":
                request.send_header(name, value)
        request.send_header("content-length", str(len(data)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(data)

    def _http_event(
        self,
        route: HttpRoute,
        *,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: str | None,
        path_parameters: dict[str, str],
    ) -> dict[str, Any]:
        now = self.clock.now()
        pairs = parse_qsl(query, keep_blank_values=True)
        lowered = {name.lower(): value for name, value in headers.items()}
        request_id = str(uuid.uuid4())
        if route.payload_version == "2.0":
            query_parameters: dict[str, str] = {}
            for name, value in pairs:
                query_parameters[name] = (
                    f"{query_parameters[name]},{value}" if name in query_parameters else value
                )
            return {
                "version": "2.0",
                "routeKey": f"{route.method if route.method != 'ANY' else 'ANY'} {route.path}",
                "rawPath": path,
                "rawQueryString": query,
                "headers": lowered,
                "queryStringParameters": query_parameters or None,
                "pathParameters": path_parameters or None,
                "requestContext": {
                    "accountId": self.account_id,
                    "apiId": "local",
                    "domainName": lowered.get("host", "127.0.0.1"),
                    "domainPrefix": "local",
                    "http": {
                        "method": method,
                        "path": path,
                        "protocol": "HTTP/1.1",
                        "sourceIp": "127.0.0.1",
                        "userAgent": lowered.get("user-agent", ""),
                    },
                    "requestId": request_id,
                    "routeKey": f"{route.method} {route.path}",
                    "stage": "$default",
                    "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                    "timeEpoch": int(now.timestamp() * 1000),
                },
                "body": body,
                "isBase64Encoded": False,
            }
        multi: dict[str, list[str]] = {}
        for name, value in pairs:
            multi.setdefault(name, []).append(value)
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {name: [value] for name, value in headers.items()},
            "queryStringParameters": {name: values[-1] for name, values in multi.items()} or None,
            "multiValueQueryStringParameters": multi or None,
            "pathParameters": path_parameters or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": self.account_id,
                "apiId": "local",
                "httpMethod": method,
                "path": path,
                "requestId": request_id,
                "resourcePath": route.path,
                "stage": "local",
                "identity": {"sourceIp": "127.0.0.1"},
                "requestTimeEpoch": int(now.timestamp() * 1000),
            },
            "body": body,
            "isBase64Encoded": False,
        }

    def close(self) -> None:
        self.simulated_time.stop()
        if self._http_server is not None:
            self._http_server.shutdown()
            self._http_server.server_close()
            self._http_server = None

    def __enter__(self) -> LocalRuntime:
        """Deploy; the block then runs at simulated time (see SimulatedTime), as the account does."""
        self.deploy()
        self.simulated_time.enter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class HandlerError(RuntimeError):
    """The function's code cannot be loaded or has no such handler."""


class FunctionError(RuntimeError):
    """A synchronously invoked function raised."""

    def __init__(self, invocation: Invocation) -> None:
        super().__init__(f"{invocation.function_id} failed: {invocation.error}")
        self.invocation = invocation


def _bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"


def _encryption_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation bucket encryption rule in the S3 API's shape."""
    api: dict[str, Any] = {}
    if "ServerSideEncryptionByDefault" in rule:
        api["ApplyServerSideEncryptionByDefault"] = dict(rule["ServerSideEncryptionByDefault"])
    if "BucketKeyEnabled" in rule:
        api["BucketKeyEnabled"] = _bool(rule["BucketKeyEnabled"])
    return api


def _lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the S3 API's shape."""
    api: dict[str, Any] = {"ID": rule.get("Id", "rule"), "Status": rule.get("Status", "Enabled")}
    api["Filter"] = {"Prefix": rule.get("Prefix", "")}
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpirationInDays" in rule:
        api["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpirationInDays"])
        }
    if "NoncurrentVersionExpiration" in rule:
        api["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
        }
    if "AbortIncompleteMultipartUpload" in rule:
        api["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        }
    if "ExpiredObjectDeleteMarker" in rule:
        api.setdefault("Expiration", {})["ExpiredObjectDeleteMarker"] = _bool(
            rule["ExpiredObjectDeleteMarker"]
        )
    return api


def _notification_configuration(config: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation NotificationConfiguration in the S3 API's shape (queues and topics)."""

    def filters(item: Mapping[str, Any]) -> dict[str, Any]:
        rules = ((item.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
        return {"Filter": {"Key": {"FilterRules": rules}}} if rules else {}

    api: dict[str, Any] = {}
    queues = config.get("QueueConfigurations") or []
    topics = config.get("TopicConfigurations") or []
    if queues:
        api["QueueConfigurations"] = [
            {"QueueArn": q["Queue"], "Events": [q["Event"]], **filters(q)} for q in queues
        ]
    if topics:
        api["TopicConfigurations"] = [
            {"TopicArn": t["Topic"], "Events": [t["Event"]], **filters(t)} for t in topics
        ]
    if config.get("EventBridgeConfiguration") is not None:
        api["EventBridgeConfiguration"] = {}
    return api
