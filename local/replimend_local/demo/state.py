"""What the demo knows as it runs: its stack, account, objects, passes and fixes."""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from replimend_local.demo.checks import DemoObject
from replimend_local.demo.scenarios import (
    DESTINATION_REGION,
    SOURCE_REGION,
    Account,
)
from replimend_local.embedded import EmbeddedAws
from replimend_local.sam import TEMPLATE_PATH, LocalRuntime
from replimend_local.stack import LocalStack

STACK_NAME = "replimend-demo"
OPERATOR = "operator:demo"
#: Marks an incident fixed without fixing anything, before every pass (the fix_claimed_only scenario).
RUNBOOK = "runbook:auto-mark-fixed"
MAX_REMEDIATION_PASSES = 8
#: Parameters the demo gives the stack when the template declares them: fewer attempts and a shorter
#: backoff than the defaults (5, 900 s) so the give-up story fits in a few 15-minute passes.
DEMO_PARAMETERS: dict[str, Any] = {"LogLevel": "WARNING", "MaxAttempts": 3, "BackoffBaseSeconds": 600}
REMEDIATION_PARAMETERS = ("RemediationSchedule", "MaxAttempts", "BackoffBaseSeconds", "BackoffMaxSeconds")


class DemoState:
    """The demo's state and its reads of the emulated account; the story, rendering and report build
    on it."""

    def __init__(
        self,
        console: Console | None = None,
        *,
        remediation: bool | None = None,
        template_path: Path = TEMPLATE_PATH,
        keep: bool = False,
        port: int = 0,
        html_path: Path | None = None,
    ) -> None:
        self.template_path = template_path
        self.html_path = html_path
        self.keep = keep
        self.port = port
        # a terminal's width, or COLUMNS; else wide enough for the tables in a file or a pipe
        sized = sys.stdout.isatty() or os.environ.get("COLUMNS", "").isdigit()
        self.console = console or Console(width=None if sized else 150)
        self.want_remediation = remediation
        self.objects: list[DemoObject] = []
        self.passes: list[dict[str, Any]] = []
        self.settings: Any = None  # RemediationSettings of the remediate function, when remediation runs
        self.fixes: dict[str, str] = {}
        #: what scenarios put on the FailureQueue themselves, by scenario slug
        self.injected: dict[str, list[str]] = {}
        #: the bodies the FailureQueue's dead-letter queue holds after detection
        self.dead_letters: list[str] = []
        #: by outage scenario slug: what the inventory showed, the incident, and the resume
        self.stuck_pending: dict[str, dict[str, Any]] = {}
        self._event_tally: dict[tuple[str, str], Counter[str]] = {}
        self._tally_ms: dict[tuple[str, str], float] = {}
        self.started = time.monotonic()
        self.started_at = datetime.now(UTC)  # real time: the run itself happens at simulated time
        self.simulated_start: datetime | None = None  # the runtime clock when the stack was deployed
        self.stack: LocalStack | None = None
        self.aws: EmbeddedAws | None = None
        self.runtime: LocalRuntime | None = None
        self._exit_stack = ExitStack()
        self.ledger: Any = None
        self.account: Account | None = None

    # ------------------------------------------------------------------ helpers

    def _replication_status(self, obj: DemoObject) -> str | None:
        assert self.account is not None
        try:
            head = self.account.s3(SOURCE_REGION).head_object(
                Bucket=obj.names.source_bucket, Key=obj.key, VersionId=obj.version_id
            )
        except Exception:
            return None  # the version is gone
        return head.get("ReplicationStatus")

    def _queue_url(self, logical_id: str) -> str:
        assert self.aws is not None and self.runtime is not None
        name = str(self.runtime.attribute(logical_id, "Arn")).rsplit(":", 1)[1]
        return str(self.aws.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])

    def _peek_queue(self, logical_id: str) -> list[str]:
        """Every message body a queue holds; each is made visible again (``--keep`` users see them)."""
        assert self.aws is not None
        sqs, url = self.aws.client("sqs"), self._queue_url(logical_id)
        bodies: list[str] = []
        handles: list[str] = []
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)
            if not messages.get("Messages"):
                break
            for message in messages["Messages"]:
                bodies.append(message["Body"])
                handles.append(message["ReceiptHandle"])
        for handle in handles:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
        return bodies

    def _max_receive_count(self, logical_id: str) -> int | None:
        assert self.aws is not None
        attributes = self.aws.client("sqs").get_queue_attributes(
            QueueUrl=self._queue_url(logical_id), AttributeNames=["RedrivePolicy"]
        )["Attributes"]
        policy = json.loads(attributes.get("RedrivePolicy") or "{}")
        return int(policy["maxReceiveCount"]) if "maxReceiveCount" in policy else None

    def _replica_present(self, obj: DemoObject) -> bool:
        assert self.account is not None
        try:
            self.account.s3(DESTINATION_REGION).head_object(Bucket=obj.destination_bucket, Key=obj.key)
        except Exception:
            return False
        return True
