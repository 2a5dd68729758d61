"""The official API definitions in fixtures/api_models/ (see its README for provenance), as validators.

* Amazon SP-API Orders (Swagger 2.0): a response body against a definition (every object closed, so a field the
  model does not define is an error too), a request's path and query against the operation's parameters.
* Shopify Admin 2026-01 (introspection): the real schema for graphql-core, its protected fields, and a walk of
  an answer against the real types of the fields a document selects.
* OpenAI (OpenAPI 3.1): any component schema as a JSON Schema 2020-12 validator.
* ShipStation v1: the documented Get Order example and Airbyte's schema inferred from real responses.
"""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import json
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jsonschema
import yaml
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    build_client_schema,
    parse,
)
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

MODELS = Path(__file__).parent / "fixtures" / "api_models"
FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.tzinfo is not None  # RFC 3339: an offset is required


def problems(validator: jsonschema.protocols.Validator, instance: Any) -> list[str]:
    return sorted(f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"[:300]
                  for e in validator.iter_errors(instance))


# ---------------------------------------------------------------------------------------------- Amazon
@cache
def amazon_model(name: str) -> dict:
    """``ordersV0`` or ``orders_2026-01-01``."""
    return json.loads((MODELS / "amazon" / f"{name}.json").read_text())


def _closed(schema: Any) -> Any:
    """Every object schema with properties made ``additionalProperties: false`` (recursively)."""
    if isinstance(schema, dict):
        closed = {k: _closed(v) for k, v in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            closed["additionalProperties"] = False
        return closed
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


@cache
def amazon_validator(model: str, definition: str) -> jsonschema.Draft4Validator:
    definitions = _closed(copy.deepcopy(amazon_model(model)["definitions"]))
    return jsonschema.Draft4Validator({"$ref": f"#/definitions/{definition}", "definitions": definitions},
                                      format_checker=FORMATS)


def amazon_operation(model: str, method: str, path: str) -> tuple[dict, dict[str, str]] | None:
    """(the operation, its path parameters) serving ``path`` (without the /amazon prefix), or None."""
    for template, operations in amazon_model(model)["paths"].items():
        pattern = "^" + re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
        found = re.match(pattern, path)
        if found and method.lower() in operations:
            return operations[method.lower()], found.groupdict()
    return None


def _parameter_problems(parameter: dict, value: str) -> list[str]:
    name = parameter["name"]
    values = value.split(",") if parameter.get("type") == "array" else [value]
    spec = parameter.get("items", {}) if parameter.get("type") == "array" else parameter
    found = []
    if parameter.get("maxItems") and len(values) > parameter["maxItems"]:
        found.append(f"{name}: more than {parameter['maxItems']} values")
    for item in values:
        if "enum" in spec and item not in spec["enum"]:
            found.append(f"{name}: {item!r} is not one of the model's values")
        if spec.get("type") == "integer" and not re.fullmatch(r"-?\d+", item):
            found.append(f"{name}: {item!r} is not an integer")
        if spec.get("type") == "boolean" and item not in ("true", "false"):
            found.append(f"{name}: {item!r} is not a boolean")
        if spec.get("format") == "date-time":
            try:
                FORMATS.check(item, "date-time")
            except jsonschema.FormatError:
                found.append(f"{name}: {item!r} is not an ISO 8601 date-time with an offset")
    return found


def amazon_request_problems(model: str, method: str, path: str, query: str) -> list[str]:
    """Why the model would not accept this request (unknown operation or parameter, bad value, repeats)."""
    found = amazon_operation(model, method, path)
    if found is None:
        return [f"{method} {path} is no operation of {model}"]
    operation, _ = found
    parameters = {p["name"]: p for p in operation.get("parameters", []) if p.get("in") == "query"}
    result: list[str] = []
    seen: set[str] = set()
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in seen:
            result.append(f"{name}: given twice (the model's arrays are comma-separated)")
        seen.add(name)
        if name not in parameters:
            result.append(f"{name}: not a parameter of {operation['operationId']}")
            continue
        result.extend(_parameter_problems(parameters[name], value))
    result.extend(f"{name}: required" for name, p in parameters.items() if p.get("required") and name not in seen)
    return result


# --------------------------------------------------------------------------------------------- Shopify
@cache
def shopify_introspection() -> dict:
    with gzip.open(MODELS / "shopify" / "admin_2026-01.json.gz") as handle:
        return json.load(handle)["data"]


@cache
def shopify_schema() -> GraphQLSchema:
    return build_client_schema(shopify_introspection())


@cache
def shopify_protected_fields() -> dict[tuple[str, str], str]:
    """(type, field) -> protectedContent for every field Shopify marks ``isProtected``."""
    return {(t["name"], f["name"]): f.get("protectedContent") for t in shopify_introspection()["__schema"]["types"]
            for f in t.get("fields") or [] if f.get("isProtected")}


def selected_fields(document: str) -> set[tuple[str, str]]:
    """Every (type, field) a document selects, resolved against the real schema."""
    schema = shopify_schema()
    ast = parse(document)
    fragments = {d.name.value: d for d in ast.definitions if isinstance(d, FragmentDefinitionNode)}
    found: set[tuple[str, str]] = set()

    def walk(selection_set, parent: GraphQLObjectType) -> None:
        for selection in selection_set.selections if selection_set else []:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if name.startswith("__"):
                    continue
                found.add((parent.name, name))
                field_type = parent.fields[name].type
                while isinstance(field_type, GraphQLNonNull | GraphQLList):
                    field_type = field_type.of_type
                if isinstance(field_type, GraphQLObjectType):
                    walk(selection.selection_set, field_type)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set, schema.type_map[selection.type_condition.name.value]
                     if selection.type_condition else parent)
            elif isinstance(selection, FragmentSpreadNode):
                walk(fragments[selection.name.value].selection_set, parent)

    for definition in ast.definitions:
        if isinstance(definition, OperationDefinitionNode):
            walk(definition.selection_set, schema.query_type)
    return found


_SCALARS = {
    "String": lambda v: isinstance(v, str),
    "ID": lambda v: isinstance(v, str),
    "Boolean": lambda v: isinstance(v, bool),
    "Int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "Float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "UnsignedInt64": lambda v: isinstance(v, str) and v.isdigit(),
    "Decimal": lambda v: isinstance(v, str) and re.fullmatch(r"-?\d+(\.\d+)?", v) is not None,
    "Money": lambda v: isinstance(v, str) and re.fullmatch(r"-?\d+(\.\d+)?", v) is not None,
    "DateTime": lambda v: isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", v) is not None,
    "URL": lambda v: isinstance(v, str) and v.startswith(("http://", "https://")),
}


def answer_problems(document: str, data: Any, operation_name: str | None = None) -> list[str]:
    """Where an answer's ``data`` breaks the real types of what ``document`` selects: nulls in non-null fields,
    wrong scalars, enum values Shopify does not have, fields missing or never asked for."""
    schema = shopify_schema()
    ast = parse(document)
    fragments = {d.name.value: d for d in ast.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in ast.definitions if isinstance(d, OperationDefinitionNode)]
    operation = next((o for o in operations if o.name and o.name.value == operation_name), operations[0])
    found: list[str] = []

    def fields_of(selection_set, parent: GraphQLObjectType) -> list[FieldNode]:
        out: list[FieldNode] = []
        for selection in selection_set.selections if selection_set else []:
            if isinstance(selection, FieldNode):
                out.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                out.extend(fields_of(selection.selection_set, parent))
            elif isinstance(selection, FragmentSpreadNode):
                out.extend(fields_of(fragments[selection.name.value].selection_set, parent))
        return out

    def check(field_type: Any, value: Any, node: FieldNode | None, path: str) -> None:
        if isinstance(field_type, GraphQLNonNull):
            if value is None:
                found.append(f"{path}: null for non-null {field_type}")
                return
            field_type = field_type.of_type
        if value is None:
            return
        if isinstance(field_type, GraphQLList):
            if not isinstance(value, list):
                found.append(f"{path}: not a list")
                return
            for n, item in enumerate(value):
                check(field_type.of_type, item, node, f"{path}[{n}]")
            return
        if isinstance(field_type, GraphQLEnumType):
            if value not in field_type.values:
                found.append(f"{path}: {value!r} is not a {field_type.name} value")
            return
        if isinstance(field_type, GraphQLObjectType):
            if not isinstance(value, dict):
                found.append(f"{path}: not an object")
                return
            asked = fields_of(node.selection_set if node else operation.selection_set, field_type)
            keys = {(f.alias or f.name).value for f in asked}
            for extra in set(value) - keys:
                found.append(f"{path}.{extra}: not asked for")
            for selection in asked:
                key = (selection.alias or selection.name).value
                if selection.name.value == "__typename":
                    continue
                if key not in value:
                    found.append(f"{path}.{key}: missing")
                    continue
                definition = field_type.fields.get(selection.name.value)
                if definition is None:
                    found.append(f"{path}.{key}: no such field on {field_type.name}")
                    continue
                check(definition.type, value[key], selection, f"{path}.{key}")
            return
        checker = _SCALARS.get(field_type.name)
        if checker is not None and not checker(value):
            found.append(f"{path}: {value!r} is not a {field_type.name}")

    check(schema.query_type, data, None, "data")
    return found


# ---------------------------------------------------------------------------------------------- OpenAI
@cache
def openai_spec() -> dict:
    with gzip.open(MODELS / "openai" / "openapi.json.gz") as handle:
        return json.load(handle)


@cache
def openai_validator(component: str) -> jsonschema.Draft202012Validator:
    registry = Registry().with_resource("urn:openai", Resource.from_contents(openai_spec(),
                                                                          default_specification=DRAFT202012))
    return jsonschema.Draft202012Validator({"$ref": f"urn:openai#/components/schemas/{component}"},
                                           registry=registry)


# ----------------------------------------------------------------------------------------- ShipStation
@cache
def shipstation_example() -> dict:
    return json.loads((MODELS / "shipstation" / "get_order_documented_example.json").read_text())


@cache
def shipstation_airbyte_validator() -> jsonschema.Draft7Validator:
    schema = yaml.safe_load((MODELS / "shipstation" / "orders_schema_airbyte.yaml").read_text())["orders"]
    schema.pop("$schema", None)
    return jsonschema.Draft7Validator(schema)
