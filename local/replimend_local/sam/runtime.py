"""``LocalRuntime``: the local stack wired from template.yaml.

It reads the SAM template, creates the resources it declares in the embedded AWS (whatever
``AWS_ENDPOINT_URL`` points at), and runs every ``AWS::Serverless::Function``'s handler in-process,
unmodified, the way its event sources would in AWS. One concern per module:

* ``template``: the template as data, intrinsic functions, parameters;
* ``provisioning``: the registry of resource creators;
* ``functions``: loading and invoking handlers;
* ``event_sources``: SQS, EventBridge rules, schedules; ``clock``: the clock and simulated time;
* ``http``: HttpApi/Api events on a local port.

The whole embedded account lives at the runtime's clock: while the runtime invokes a handler, drains
its event sources or advances the clock (and inside ``simulated_time()``), the process's wall clock —
``datetime.now()``, ``time.time()``, in the handlers, the emulators, boto3's request signing and the
in-process moto server alike — reads the local clock's time, ticking at real speed and never going
back (``SimulatedTime``, built on time-machine).

The template is the single source of the wiring: which queue feeds which function, which rule or
schedule triggers what, which environment variables a function gets.
"""

from __future__ import annotations

import logging

from replimend_local.sam.functions import Invoker
from replimend_local.sam.http import HttpServing
from replimend_local.sam.provisioning import Provisioner

log = logging.getLogger("replimend_local.sam")


class LocalRuntime(Provisioner, Invoker, HttpServing):
    """The local stack: resources created from the template and functions run on their events."""

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
