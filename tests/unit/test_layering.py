"""The layout's rules (DESIGN.md): logic receives ports, boto3 only in adapters, the layer holds only
what the functions import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from replimend import ledger, lifecycle, ports

PACKAGE = Path(ports.__file__).resolve().parent
LOGIC = ("ingest", "remediate", "track", "diagnose", "backfill")
#: What logic modules must not import: the adapters, the composition root, AWS SDKs.
ADAPTERS = ("replimend.aws", "replimend.ledger", "replimend.wiring", "boto3", "botocore")


def imports(path: Path) -> set[str]:
    """Every module a file imports (absolute names; ``from x import y`` gives x and x.y)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(f"{prefix}.") for prefix in prefixes)


@pytest.mark.parametrize(
    "path", sorted(p for stage in LOGIC for p in (PACKAGE / stage).glob("*.py")), ids=str
)
def test_logic_modules_import_no_adapter(path: Path) -> None:
    assert not {name for name in imports(path) if _under(name, ADAPTERS)}


def test_track_does_not_import_remediate() -> None:
    for path in (PACKAGE / "track").glob("*.py"):
        assert not {name for name in imports(path) if _under(name, ("replimend.remediate",))}, path


def test_importing_the_ports_loads_no_aws_sdk() -> None:
    # Given a fresh interpreter / When it imports replimend.ports / Then neither boto3 nor botocore loads
    code = "import sys, replimend.ports; print(sorted({m.split('.')[0] for m in sys.modules} & {'boto3', 'botocore'}))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_layer_does_not_import_the_cli_or_the_embedded_aws() -> None:
    for path in PACKAGE.rglob("*.py"):
        assert not {name for name in imports(path) if _under(name, ("replimend_cli", "replimend_local"))}, (
            path
        )


def test_record_outcome_is_one_type_across_the_port() -> None:
    # ingest counts outcomes by the lifecycle's enum; the ledger returns that very type
    assert ports.RecordOutcome is lifecycle.RecordOutcome and ledger.RecordOutcome is lifecycle.RecordOutcome
