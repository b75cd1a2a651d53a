"""Serve a local stack until SIGINT/SIGTERM: ``replimend local up`` and ``replimend demo --keep``.

While serving, a ticker thread keeps the stack running on real time: every ``interval`` seconds it
delivers what the event sources hold (SQS, EventBridge rules, Batch Operations jobs) and fires the
schedules that fell due, as ``LocalStack.catch_up`` does. ``replimend local clock advance 15m`` (the
gateway's control API) jumps the clock, so backoffs and schedules elapse at once.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import TextIO

from replimend_local.sam import Invocation
from replimend_local.stack import LocalStack

log = logging.getLogger("replimend_local.serve")


class Ticker:
    """Calls ``stack.catch_up()`` every ``interval`` seconds from a daemon thread until stopped."""

    def __init__(self, stack: LocalStack, interval: float = 1.0) -> None:
        self.stack = stack
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="local-stack-ticker", daemon=True)

    def start(self) -> Ticker:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.stack.catch_up()
            except Exception:  # one bad delivery must not stop the stack
                log.exception("the local stack's event sources failed; continuing")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def export_lines(stack: LocalStack) -> list[str]:
    """The shell lines that reach the stack, then the stack's outputs (as comments)."""
    lines = [f"export {name}={value}" for name, value in stack.environment().items()]
    lines += [f"# output {name}={value}" for name, value in stack.runtime.outputs.items()]
    # s3control's model puts the account id in front of the host (hostPrefix "{AccountId}."): a name
    # no resolver answers for an IP endpoint, so s3control callers go through the server as a proxy
    lines.append(f"# s3control (Batch Operations): HTTP_PROXY={stack.endpoint_url} aws s3control ...")
    return lines


def invocation_line(invocation: Invocation) -> str:
    """One line per handler invocation, for the server's log; a failed one's log lines follow it
    (what the function printed and logged, as its CloudWatch log stream would hold)."""
    outcome = "ok" if invocation.ok else f"ERROR {invocation.error}"
    summary = f" ({invocation.summary})" if invocation.summary else ""
    moment = invocation.started_at.strftime("%Y-%m-%d %H:%M:%S")
    line = f"{moment} {invocation.function_id} <- {invocation.trigger}{summary}: {outcome}"
    if not invocation.ok and invocation.output.strip():
        line += "\n" + invocation.output.rstrip()
    return line


def serve_until_signalled(
    stack: LocalStack,
    *,
    out: TextIO = sys.stdout,
    interval: float = 1.0,
    stopped: threading.Event | None = None,
) -> int:
    """Print the environment lines, run the stack on real time until SIGINT/SIGTERM (or ``stopped``
    is set); 0 once stopped cleanly. Signal handlers are installed only from the main thread."""
    stop = stopped or threading.Event()
    previous: dict[signal.Signals, Callable[[int, FrameType | None], object] | int | None] = {}
    if threading.current_thread() is threading.main_thread():
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            previous[signal_number] = signal.signal(signal_number, lambda *_: stop.set())
    ticker = Ticker(stack, interval).start()
    try:
        print("\n".join(export_lines(stack)), file=out)
        if (
            stack.runtime.http_routes
        ):  # the audit API, IAM-authorized: sign requests (replimend audit --endpoint)
            print(f"export AUDIT_API_URL={stack.runtime.serve_http()}", file=out)
        print(
            f"# replimend local stack {stack.runtime.stack_name} serving on {stack.endpoint_url}; "
            "Ctrl-C (SIGINT) or SIGTERM stops it",
            file=out,
            flush=True,
        )
        while not stop.wait(0.2):
            pass
    finally:
        ticker.stop()
        for signal_number, handler in previous.items():
            signal.signal(signal_number, handler)
    return 0
