"""settings.py is the single source of defaults: template.yaml's parameter defaults agree with it."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo

from replimend import settings as settings_module
from replimend_local.sam_template import load_template

#: Environment variables fed from a parameter that are read by a library, not by a settings model.
READ_BY_POWERTOOLS = frozenset({"POWERTOOLS_LOG_LEVEL"})


def settings_fields() -> dict[str, FieldInfo]:
    """Every field of every settings model, by its environment variable (alias)."""
    fields: dict[str, FieldInfo] = {}
    for _, model in inspect.getmembers(settings_module, inspect.isclass):
        if issubclass(model, BaseModel) and model.__module__ == settings_module.__name__:
            for field in model.model_fields.values():
                assert field.alias, f"{model.__name__}: every settings field is read by its alias"
                fields[field.alias] = field
    return fields


def parameter_fed_variables(template: dict[str, Any]) -> dict[str, str]:
    """Environment variable → the template parameter it is `!Ref`ed from, over Globals and functions."""
    parameters = template["Parameters"]
    environments = [template.get("Globals", {}).get("Function", {}).get("Environment", {})]
    environments += [
        resource["Properties"].get("Environment", {})
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
    ]
    fed: dict[str, str] = {}
    for environment in environments:
        for name, value in environment.get("Variables", {}).items():
            if isinstance(value, dict) and value.get("Ref") in parameters:
                assert fed.setdefault(name, value["Ref"]) == value["Ref"], f"{name} fed from two parameters"
    return fed


TEMPLATE = load_template()
FED = parameter_fed_variables(TEMPLATE)


def test_the_template_feeds_settings_from_parameters() -> None:
    # Given the template / Then the settings it parameterises are found (the mapping is not empty)
    assert {"MAX_OBJECTS_PER_RUN", "MAX_ATTEMPTS", "LEDGER_INDEX_SHARDS", "DRY_RUN"} <= set(FED)


def test_every_parameter_fed_variable_is_a_settings_field_or_read_by_powertools() -> None:
    fields = settings_fields()
    assert set(FED) - set(fields) <= READ_BY_POWERTOOLS


@pytest.mark.parametrize("variable", sorted(set(FED) - READ_BY_POWERTOOLS))
def test_parameter_default_equals_the_settings_default(variable: str) -> None:
    # Given the settings field read from the variable and the parameter that feeds it
    field = settings_fields()[variable]
    parameter = FED[variable]
    template_default = TEMPLATE["Parameters"][parameter].get("Default")

    # Then both have a default, and they are the same value once the environment's string is validated
    assert not field.is_required(), f"{variable} has no default in settings.py but {parameter} has one"
    assert template_default is not None, f"{parameter} has no Default; settings.py says {field.default!r}"
    as_read = TypeAdapter(field.annotation).validate_python(str(template_default))
    assert as_read == field.default, (
        f"{parameter} defaults to {template_default!r}, settings.py's {variable} to {field.default!r}"
    )
