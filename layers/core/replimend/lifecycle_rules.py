"""Which actions a job can help, and where an object goes when none can (pure; to be merged into
``lifecycle.py``, the module that will own the object lifecycle)."""

from __future__ import annotations

from replimend.models import Action, FailureRecord, ObjectState
from replimend.reasons import UNKNOWN_REASON, reason_entry

#: Actions under which an object is put into a Batch Replication job.
RETRYABLE_ACTIONS = frozenset({Action.RETRY, Action.RETRY_AFTER_FIX})
#: Where an object goes when its (current) reason's action says no job can help.
CLOSING_STATES = {
    Action.CLOSE_OBSOLETE: ObjectState.OBSOLETE,
    Action.CLOSE_DONE: ObjectState.DONE,
    Action.ESCALATE: ObjectState.ESCALATED,
}


def effective_action(record: FailureRecord) -> Action:
    """The action of the record's current reason: the registry's when it knows the code.

    A reason taken from a completion report may differ from the one ingest classified; codes the
    registry does not know (generic task errors) keep the action the record already has.
    """
    entry = reason_entry(record.failure_reason)
    return record.action if entry is UNKNOWN_REASON else entry.action
