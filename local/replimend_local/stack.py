"""One local stack: the embedded AWS with template.yaml deployed into it, the handlers wired.

``local_stack()`` is what the demo, ``replimend local up``, the end-to-end tests and the benchmarks
start::

    with local_stack(parameters={"LogLevel": "WARNING"}) as stack:
        stack.client("s3").create_bucket(Bucket="b")
        stack.runtime.drain()           # event sources deliver
        stack.advance_clock(15 * 60)    # schedules due on the way fire

Inside the block the embedded account lives at the runtime's simulated clock (see
``sam.SimulatedTime``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

from replimend_local.embedded import EmbeddedAws
from replimend_local.sam import DEFAULT_STACK_NAME, TEMPLATE_PATH, Invocation, LocalClock, LocalRuntime


@dataclass
class LocalStack:
    """The running stack: ``aws`` (moto server and emulators) and ``runtime`` (template and handlers)."""

    aws: EmbeddedAws
    runtime: LocalRuntime
    #: held while the clock moves or event sources deliver (serving threads and callers share it)
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def endpoint_url(self) -> str:
        return self.aws.endpoint_url

    def client(self, service: str, region: str | None = None) -> Any:
        return self.aws.client(service, region)

    @property
    def ledger(self) -> Any:
        """The ledger, as the functions' settings name it."""
        from replimend.ledger import Ledger
        from replimend.settings import LedgerSettings, load_settings

        environment = next(iter(self.runtime.functions.values())).environment
        return Ledger.from_settings(load_settings(LedgerSettings, environment))

    def environment(self) -> dict[str, str]:
        """What a shell needs to reach this stack: endpoint, fake credentials, region, the stack's names."""
        variables = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": self.aws.region,
            "AWS_REGION": self.aws.region,
        }
        # the replimend command reads the same settings as the functions (LEDGER_TABLE, ...)
        for function in self.runtime.functions.values():
            for name, value in function.environment.items():
                if name.isupper() and not name.startswith(("AWS_", "POWERTOOLS_", "LOG_")):
                    variables.setdefault(name, value)
        return variables

    # -- the clock (also the control API of the gateway) --------------------------------------------

    def now_iso(self) -> str:
        return self.runtime.simulated_time.now().astimezone(UTC).isoformat(timespec="seconds")

    def advance_clock(self, seconds: float) -> int:
        """Move the clock forward (schedules due on the way fire, event sources drain); invocations run."""
        with self.lock:
            return self.runtime.advance(seconds=seconds)

    def catch_up(self) -> int:
        """Bring the clock to the simulated now (real time ticking): deliver events, fire due schedules."""
        with self.lock:
            behind = (self.runtime.simulated_time.now() - self.runtime.clock.now()).total_seconds()
            return self.runtime.advance(seconds=max(0.0, behind))


@contextmanager
def local_stack(
    template: Mapping[str, Any] | str | Path = TEMPLATE_PATH,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
    parameters: Mapping[str, Any] | None = None,
    port: int = 0,
    clock: LocalClock | None = None,
    on_invocation: Callable[[Invocation], None] | None = None,
    load_functions: bool = False,
    before_deploy: Callable[[EmbeddedAws], None] | None = None,
) -> Iterator[LocalStack]:
    """Start the embedded AWS (on ``port``, 0: a free one), deploy ``template`` and run the block at
    the stack's simulated time; everything stops when the block ends."""
    with EmbeddedAws(port=port) as aws:
        if before_deploy is not None:
            before_deploy(aws)
        runtime = LocalRuntime(
            template,
            stack_name=stack_name,
            parameters=parameters,
            account_id=aws.account_id,
            clock=clock,
            on_invocation=on_invocation,
        )
        try:
            runtime.deploy()
            if load_functions:
                runtime.load_functions()  # cold starts under the template's environment (log level)
            if aws.batch_operations is not None:
                runtime.add_poller(aws.batch_operations.process_jobs)
            stack = LocalStack(aws, runtime)
            if aws.gateway is not None:
                aws.gateway.control = stack
            with runtime.simulated_time():
                yield stack
        finally:
            if aws.gateway is not None:
                aws.gateway.control = None
            runtime.close()
