"""The local SAM runtime: template.yaml deployed into the embedded AWS, its functions run in-process.

One module per concern: ``template`` (template as data, intrinsics, parameters), ``provisioning``
(the registry of resource creators), ``functions`` (loading and invoking handlers),
``event_sources`` (SQS, EventBridge rules, schedules), ``clock`` (the clock and simulated time),
``http`` (HttpApi/Api events), ``runtime`` (``LocalRuntime``, composing them).
"""

from replimend_local.sam.clock import LocalClock, Schedule, SimulatedTime
from replimend_local.sam.core import DEFAULT_ACCOUNT_ID, DEFAULT_STACK_NAME
from replimend_local.sam.errors import DrainTimeout, TemplateError
from replimend_local.sam.functions import (
    FunctionError,
    HandlerError,
    Invocation,
    LambdaContext,
    LocalFunction,
)
from replimend_local.sam.runtime import LocalRuntime
from replimend_local.sam.template import TEMPLATE_PATH, load_template

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_STACK_NAME",
    "TEMPLATE_PATH",
    "DrainTimeout",
    "FunctionError",
    "HandlerError",
    "Invocation",
    "LambdaContext",
    "LocalClock",
    "LocalFunction",
    "LocalRuntime",
    "Schedule",
    "SimulatedTime",
    "TemplateError",
    "load_template",
]
