"""template.yaml as CloudFormation would deploy it with given parameters: its ``Conditions``
evaluated, every ``Fn::If`` replaced by the branch it takes and ``AWS::NoValue`` removed. Other
intrinsics (Ref, GetAtt, Sub, ...) stay as load_template reads them, so tests compare them as written.
"""

from __future__ import annotations

from typing import Any

_NO_VALUE = object()


def deployed(template: dict[str, Any], **parameters: str) -> dict[str, Any]:
    """``template`` with ``parameters`` (the rest at their defaults) and its conditions applied."""
    values = {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}
    unknown = set(parameters) - set(values)
    if unknown:
        raise KeyError(f"not parameters of the template: {sorted(unknown)}")
    values.update(parameters)
    conditions = template.get("Conditions", {})
    decided: dict[str, bool] = {}

    def condition(name: str) -> bool:
        if name not in decided:
            decided[name] = truth(conditions[name])
        return decided[name]

    def scalar(value: Any) -> str:
        if isinstance(value, dict) and set(value) == {"Ref"}:
            return values[value["Ref"]]
        return str(value)

    def truth(expression: Any) -> bool:
        (function, argument), *_ = expression.items()
        if function == "Condition":
            return condition(argument)
        if function == "Fn::Equals":
            left, right = argument
            return scalar(left) == scalar(right)
        if function == "Fn::Not":
            return not truth(argument[0])
        if function == "Fn::And":
            return all(truth(item) for item in argument)
        if function == "Fn::Or":
            return any(truth(item) for item in argument)
        raise ValueError(f"condition function {function} is not evaluated here")

    def apply(value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (apply(v) for v in value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if value == {"Ref": "AWS::NoValue"}:
            return _NO_VALUE
        if set(value) == {"Fn::If"}:
            name, when_true, when_false = value["Fn::If"]
            return apply(when_true if condition(name) else when_false)
        applied = {key: apply(item) for key, item in value.items()}
        return {key: item for key, item in applied.items() if item is not _NO_VALUE}

    result: dict[str, Any] = apply({key: item for key, item in template.items() if key != "Conditions"})
    resources = template["Resources"]
    result["Resources"] = {
        name: result["Resources"][name]
        for name, spec in resources.items()
        if "Condition" not in spec or condition(spec["Condition"])
    }
    return result
