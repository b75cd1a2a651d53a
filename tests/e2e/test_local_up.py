"""`replimend local up` the way a user runs it: a server in another process, driven over HTTP with
plain boto3 (no hooks, no emulator in this process) and the replimend command, stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.e2e.e2e_stack import S3_TRUST, replication_rule
from tests.moto_server import replication_role_statements

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
REPLIMEND = str(Path(sys.executable).with_name("replimend"))
SOURCE, DESTINATION, ROLE = "local-up-src", "local-up-dst", "local-up-replication"
KEY = "reports/2026 Q4 + annexe.csv"


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    environment: dict[str, str]
    outputs: dict[str, str]

    def client(self, service: str, region: str = "us-east-1") -> Any:
        # a session of its own, configured only by what local up printed
        session = boto3.Session(
            aws_access_key_id=self.environment["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.environment["AWS_SECRET_ACCESS_KEY"],
            region_name=region,
        )
        endpoint = self.environment["AWS_ENDPOINT_URL"]
        # s3control's endpoint rules put the account id in front of the host (123456789012.127.0.0.1),
        # which no resolver answers: the server is reached as the HTTP proxy instead (README)
        config = Config(proxies={"http": endpoint}) if service == "s3control" else None
        return session.client(service, endpoint_url=endpoint, config=config)  # type: ignore[call-overload]

    def replimend(self, *args: str) -> subprocess.CompletedProcess[str]:
        return replimend(*args, environment={**os.environ, **self.environment})


def replimend(*args: str, environment: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``replimend <args>`` run to its end, as a user's shell runs it."""
    return subprocess.run(
        [REPLIMEND, *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Nobody listens on it and a server may bind it again (as servers do, with SO_REUSEADDR: the
    closed connections' TIME_WAIT entries stay a while)."""
    with socket.socket() as client:
        if client.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def start(*command: str, port: int) -> Server:
    """Run ``replimend <command>`` and read its stdout up to the ready line (the export lines first)."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    process = subprocess.Popen(
        [REPLIMEND, *command],
        cwd=REPO,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    exports: dict[str, str] = {}
    outputs: dict[str, str] = {}
    assert process.stdout is not None
    for line in process.stdout:  # until the ready line
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").strip().partition("=")
            exports[name] = value
        elif line.startswith("# output "):
            name, _, value = line.removeprefix("# output ").strip().partition("=")
            outputs[name] = value
        elif line.startswith("# replimend local stack"):
            return Server(process, port, exports, outputs)
    process.kill()
    pytest.fail(f"replimend {' '.join(command)} exited with status {process.wait()} before it was ready")


@pytest.fixture
def server() -> Iterator[Server]:
    port = free_port()
    running = start("local", "up", "--port", str(port), "--parameter", "LogLevel=WARNING", port=port)
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


def ledger_items(server: Server, bucket: str) -> list[dict[str, Any]]:
    """The ledger's items that mention the bucket, as plain values (boto3's DynamoDB resource)."""
    table = boto3.resource(
        "dynamodb",
        endpoint_url=server.environment["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).Table(server.environment["LEDGER_TABLE"])
    items = table.scan()["Items"]
    return [item for item in items if bucket in json.dumps(item, default=str)]


def mentions(items: list[dict[str, Any]], *values: str) -> bool:
    return any(all(value in item.values() for value in values) for item in items)


def test_a_user_drives_a_failure_to_its_repair_through_local_up(server: Server) -> None:
    s3, s3_west, iam = server.client("s3"), server.client("s3", "us-west-2"), server.client("iam")
    sqs = server.client("sqs")
    # Given buckets with versioning and a replication rule with metrics whose role may not write replicas
    s3_west.create_bucket(Bucket=DESTINATION, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    s3_west.put_bucket_versioning(Bucket=DESTINATION, VersioningConfiguration={"Status": "Enabled"})
    s3.create_bucket(Bucket=SOURCE)
    s3.put_bucket_versioning(Bucket=SOURCE, VersioningConfiguration={"Status": "Enabled"})
    role_arn = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(S3_TRUST))["Role"]["Arn"]

    def allow(actions: list[str]) -> None:
        statements = replication_role_statements(SOURCE, f"arn:aws:s3:::{DESTINATION}/*", actions)
        document = {"Version": "2012-10-17", "Statement": statements}
        iam.put_role_policy(RoleName=ROLE, PolicyName="replication", PolicyDocument=json.dumps(document))

    allow(["s3:ReplicateDelete"])
    s3.put_bucket_replication(
        Bucket=SOURCE,
        ReplicationConfiguration={
            "Role": role_arn,
            "Rules": [replication_rule("reports", DESTINATION, {"Prefix": "reports/"})],
        },
    )
    # And the queue policy letting the bucket send events, then the notification
    queue_url = server.outputs["FailureQueueUrl"]
    queue_arn = server.outputs["FailureQueueArn"]
    sqs.set_queue_attributes(
        QueueUrl=queue_url,
        Attributes={
            "Policy": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "s3.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": queue_arn,
                            "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{SOURCE}"}},
                        }
                    ],
                }
            )
        },
    )
    s3.put_bucket_notification_configuration(
        Bucket=SOURCE,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:Replication:*"]}]
        },
    )
    # The rule reads back as it was put (moto alone would answer Filter: {Prefix: ""})
    rule = s3.get_bucket_replication(Bucket=SOURCE)["ReplicationConfiguration"]["Rules"][0]
    assert rule["Filter"] == {"Prefix": "reports/"}

    # When an object is uploaded and S3 cannot replicate it
    version = s3.put_object(Bucket=SOURCE, Key=KEY, Body=b"q4")["VersionId"]
    # Then S3 says FAILED, and the failure event reaches the ledger through the real handlers
    assert s3.head_object(Bucket=SOURCE, Key=KEY, VersionId=version)["ReplicationStatus"] == "FAILED"
    wait_for(
        lambda: mentions(ledger_items(server, SOURCE), "DstPutObjectNotPermitted"),
        "the failure in the ledger",
    )
    history = server.replimend("history", f"s3://{SOURCE}/{KEY}", "--json")
    assert history.returncode == 0, history.stderr
    assert "DstPutObjectNotPermitted" in history.stdout

    # And IAM's policy simulator, over the wire, says why: the role may not write replicas
    def decision() -> str:
        simulated = iam.simulate_principal_policy(
            PolicySourceArn=role_arn,
            ActionNames=["s3:ReplicateObject"],
            ResourceArns=[f"arn:aws:s3:::{DESTINATION}/{KEY}"],
        )
        return str(simulated["EvaluationResults"][0]["EvalDecision"])

    assert decision() == "implicitDeny"

    # When the user fixes the role (nobody says so: the next pass diagnoses the incident) and moves the
    # clock past the next remediation pass
    allow(["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"])
    assert decision() == "allowed"
    advanced = server.replimend("local", "clock", "advance", "15m")
    assert advanced.returncode == 0, advanced.stderr
    assert advanced.stdout.startswith("clock advanced 15m")

    # Then a Batch Replication job re-drove it: replica written, source COMPLETED, ledger REPLICATED
    wait_for(
        lambda: mentions(ledger_items(server, SOURCE), "REPLICATED"),
        "the repair in the ledger",
    )
    assert s3.head_object(Bucket=SOURCE, Key=KEY, VersionId=version)["ReplicationStatus"] == "COMPLETED"
    replica = s3_west.get_object(Bucket=DESTINATION, Key=KEY)
    assert replica["Body"].read() == b"q4" and replica["ReplicationStatus"] == "REPLICA"
    # And the audit API the server serves answers the same, to a SigV4-signed request only
    api = server.environment["AUDIT_API_URL"]
    audited = server.replimend("audit", "--state", "REPLICATED", "--endpoint", api, "--json")
    assert audited.returncode == 0, audited.stderr
    assert [json.loads(line)["key"] for line in audited.stdout.splitlines()] == [KEY]
    with pytest.raises(urllib.error.HTTPError) as unsigned:
        urllib.request.urlopen(f"{api}/failures")
    assert unsigned.value.code == 403
    # And the job is S3 Batch Operations' own, seen through s3control over the wire
    s3control = server.client("s3control")
    account = role_arn.split(":")[4]
    jobs = s3control.list_jobs(AccountId=account)["Jobs"]
    (job,) = [j for j in jobs if j["Operation"] == "S3ReplicateObject"]
    assert job["Status"] == "Complete" and job["ProgressSummary"]["NumberOfTasksSucceeded"] == 1
    described = s3control.describe_job(AccountId=account, JobId=job["JobId"])["Job"]
    assert described["Operation"] == {"S3ReplicateObject": {}}
    assert described["RoleArn"].startswith(f"arn:aws:iam::{account}:role/")
    with pytest.raises(s3control.exceptions.NotFoundException):
        s3control.describe_job(AccountId=account, JobId="00000000-0000-0000-0000-000000000000")

    # When the user stops it with SIGTERM
    server.process.send_signal(signal.SIGTERM)
    # Then it exits 0 and frees the port
    assert server.process.wait(timeout=60) == 0
    assert port_is_free(server.port)


def test_local_up_refuses_a_port_in_use_in_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = replimend("local", "up", "--port", str(port))
    assert result.returncode == 1
    assert result.stderr.startswith("replimend: error: cannot serve on 127.0.0.1:")
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_clock_advance_without_a_server_is_one_line_and_status_1() -> None:
    result = replimend(
        "local", "clock", "advance", "15m", "--endpoint-url", f"http://127.0.0.1:{free_port()}"
    )
    assert result.returncode == 1
    assert result.stderr.startswith("replimend: error: cannot reach the local stack")
    assert len(result.stderr.strip().splitlines()) == 1


def test_demo_keep_leaves_the_demo_account_running_for_the_operating_commands() -> None:
    # Given the demo run with --keep
    port = free_port()
    kept = start("demo", "--keep", "--port", str(port), port=port)
    try:
        # When the README's operating commands run against the printed environment
        incidents = kept.replimend("incidents", "--json")
        history = kept.replimend("audit", "--bucket", "replimend-demo-unversioned-src", "--json")
        buckets = kept.client("s3").list_buckets()["Buckets"]
        # Then they see the demo's data
        assert incidents.returncode == 0, incidents.stderr
        assert history.returncode == 0, history.stderr
        assert "REPLICATED" in history.stdout
        assert "replimend-demo-unversioned-src" in {bucket["Name"] for bucket in buckets}
        # And SIGTERM stops it cleanly
        kept.process.send_signal(signal.SIGTERM)
        assert kept.process.wait(timeout=60) == 0
        assert port_is_free(port)
    finally:
        if kept.process.poll() is None:
            kept.process.kill()
            kept.process.wait()
