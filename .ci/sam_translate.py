"""template.yaml as plain CloudFormation: the SAM transform, run offline, for checkov.

Scanning the SAM template alone misses what SAM generates (the functions' roles and their policies,
the schedules and their roles, the rule, the permissions); scanning this translation covers them.
Local CodeUri/ContentUri paths become placeholder S3 URIs, as `sam package` would make them.

    python .ci/sam_translate.py template.yaml .aws-sam/checkov/template.json
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class _NoManagedPolicies:
    """The template names no managed policy; SAM's own (basic execution, X-Ray) need no lookup."""

    def load(self) -> dict[str, str]:
        return {}


def translate(template_text: str) -> dict[str, Any]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # only fills AWS::Region in generated ARNs
    template = yaml_parse(template_text)
    for resource in (template.get("Resources") or {}).values():
        properties = resource.get("Properties") or {}
        for name in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(name), str) and not properties[name].startswith("s3://"):
                properties[name] = f"s3://placeholder-artifacts/{properties[name]}"
    translated: dict[str, Any] = transform(template, {}, _NoManagedPolicies())
    return translated


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    source, target = (Path(arg) for arg in argv)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(translate(source.read_text(encoding="utf-8")), indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
