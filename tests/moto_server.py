"""moto in server mode for tests that drive the emulators over HTTP: start one on a free local port,
and empty it between tests (moto's own /moto-api/reset)."""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.server import ThreadedMotoServer


@contextmanager
def moto_server() -> Iterator[str]:
    """A ThreadedMotoServer on 127.0.0.1 and a free port; yields its endpoint URL, stops it on exit."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def reset_moto(endpoint: str) -> None:
    """Empty every moto backend of the server at ``endpoint``."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
        assert response.status == 200


def replication_role_statements(
    source: str,
    destination_resource: str | list[str] | None,
    destination_actions: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The permissions policy AWS documents for a live-replication role (setting-repl-config-perm-overview):
    read the source's configuration and versions, replicate into ``destination_resource`` (left out when
    None). ``destination_actions`` defaults to ReplicateObject, ReplicateDelete and ReplicateTags."""
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
            "Resource": f"arn:aws:s3:::{source}",
        },
        {
            "Effect": "Allow",
            "Action": [
                "s3:GetObjectVersionForReplication",
                "s3:GetObjectVersionAcl",
                "s3:GetObjectVersionTagging",
            ],
            "Resource": f"arn:aws:s3:::{source}/*",
        },
    ]
    if destination_resource is not None:
        statements.append(
            {
                "Effect": "Allow",
                "Action": destination_actions
                if destination_actions is not None
                else ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                "Resource": destination_resource,
            }
        )
    return statements
