"""Where the real OpenAI API refuses a request, the sandbox refuses it too, with OpenAI's status and error shape.

* An unknown model: 404 ``model_not_found`` ("The model `x` does not exist or you do not have access to it.").
* ``response_format`` ``json_schema`` on a model without Structured Outputs: 400.
* A ``json_schema`` name outside ``[a-zA-Z0-9_-]{1,64}`` (the spec's rule): 400.
* ``strict: true`` with a schema outside the Structured Outputs subset: 400 "Invalid schema for response_format
  'NAME': In context=(...), ..." (param ``response_format``), as OpenAI words it. The subset: the root is an object
  (not ``anyOf``); every object sets ``additionalProperties: false`` and lists every property in ``required``;
  only the supported keywords (types, ``anyOf``, ``enum``/``const``, ``$ref``/``$defs``, descriptions, and the
  documented string, number and array constraints); string ``format`` among the supported ones; at most 10
  levels of nesting, 5000 properties and 1000 enum values.

Kept apart from the answering "model" (``openai_api``): these are the API's rules, not the model's behaviour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Chat models per OpenAI's spec (``ModelIdsShared``), split by Structured Outputs support.
STRUCTURED_OUTPUT_MODELS = frozenset({
    "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4.1-2025-04-14", "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano-2025-04-14", "gpt-4o", "gpt-4o-2024-08-06", "gpt-4o-2024-11-20", "gpt-4o-mini",
    "gpt-4o-mini-2024-07-18", "gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-5-2025-08-07", "gpt-5-mini-2025-08-07",
    "gpt-5-nano-2025-08-07", "gpt-5.1", "gpt-5.1-mini", "gpt-5.2", "gpt-5.4", "gpt-5.4-mini", "gpt-5.4-nano",
    "gpt-5.5", "o1", "o1-2024-12-17", "o3", "o3-2025-04-16", "o3-mini", "o3-mini-2025-01-31", "o4-mini",
    "o4-mini-2025-04-16",
})
OTHER_CHAT_MODELS = frozenset({"gpt-4", "gpt-4-turbo", "gpt-4-0613", "gpt-3.5-turbo", "gpt-3.5-turbo-0125",
                               "gpt-4o-2024-05-13"})
KNOWN_MODELS = STRUCTURED_OUTPUT_MODELS | OTHER_CHAT_MODELS

NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
TYPES = {"string", "number", "boolean", "integer", "object", "array", "null"}
KEYWORDS = {
    "type", "properties", "required", "additionalProperties", "items", "anyOf", "enum", "const", "$ref", "$defs",
    "definitions", "title", "description",
    "pattern", "format", "minLength", "maxLength",  # strings
    "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",  # numbers
    "minItems", "maxItems",  # arrays
}
FORMATS = {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
MAX_DEPTH = 10
MAX_PROPERTIES = 5000
MAX_ENUM_VALUES = 1000


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str
    kind: str
    param: str | None
    code: str | None


class SchemaError(Exception):
    def __init__(self, context: tuple[str, ...], problem: str):
        super().__init__(f"In context={context!r}, {problem}")


def _walk(node: Any, context: tuple[str, ...], depth: int, counts: dict[str, int]) -> None:
    if not isinstance(node, dict):
        raise SchemaError(context, "schema must be a JSON Schema of 'type: \"object\"', got a non-object.")
    for key in node:
        if key not in KEYWORDS:
            raise SchemaError(context, f"'{key}' is not permitted.")
    declared = node.get("type")
    for kind in declared if isinstance(declared, list) else [declared] if declared is not None else []:
        if kind not in TYPES:
            raise SchemaError(context, f"type '{kind}' is not supported.")
    if "format" in node and node["format"] not in FORMATS:
        raise SchemaError(context, f"format '{node['format']}' is not permitted.")
    if "enum" in node:
        counts["enum"] += len(node["enum"]) if isinstance(node["enum"], list) else 0
    is_object = declared == "object" or (isinstance(declared, list) and "object" in declared) or "properties" in node
    if is_object:
        if depth > MAX_DEPTH:
            raise SchemaError(context, f"the schema is nested more than {MAX_DEPTH} levels deep.")
        if node.get("additionalProperties") is not False:
            raise SchemaError(context, "'additionalProperties' is required to be supplied and to be false.")
        properties = node.get("properties") or {}
        counts["properties"] += len(properties)
        missing = [name for name in properties if name not in (node.get("required") or [])]
        if missing:
            raise SchemaError(context, "'required' is required to be supplied and to be an array including every "
                                       f"key in properties. Missing '{missing[0]}'.")
        for name, child in properties.items():
            _walk(child, (*context, "properties", name), depth + 1, counts)
    if "items" in node:
        _walk(node["items"], (*context, "items"), depth + 1, counts)
    for n, option in enumerate(node.get("anyOf") or []):
        _walk(option, (*context, "anyOf", str(n)), depth, counts)
    for group in ("$defs", "definitions"):
        for name, child in (node.get(group) or {}).items():
            _walk(child, (*context, group, name), depth, counts)


def strict_schema_problem(schema: Any) -> str | None:
    """Why OpenAI would refuse ``schema`` under ``strict: true`` (its wording), or None."""
    if not isinstance(schema, dict) or "anyOf" in schema or schema.get("type") != "object":
        return "In context=(), schema must be a JSON Schema of 'type: \"object\"', got 'type: \"" \
            f"{schema.get('type') if isinstance(schema, dict) else type(schema).__name__}\"'."
    counts = {"properties": 0, "enum": 0}
    try:
        _walk(schema, (), 1, counts)
    except SchemaError as exc:
        return str(exc)
    if counts["properties"] > MAX_PROPERTIES:
        return f"In context=(), the schema has more than {MAX_PROPERTIES} object properties."
    if counts["enum"] > MAX_ENUM_VALUES:
        return f"In context=(), the schema has more than {MAX_ENUM_VALUES} enum values."
    return None


def _json_schema_format(body: dict) -> tuple[dict | None, str]:
    """(the json_schema format of a chat completion or Responses request, its parameter path)."""
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        return (response_format.get("json_schema") if isinstance(response_format.get("json_schema"), dict)
                else {}), "response_format"
    text_format = (body.get("text") or {}).get("format") if isinstance(body.get("text"), dict) else None
    if isinstance(text_format, dict) and text_format.get("type") == "json_schema":
        return text_format, "text.format"
    return None, ""


def request_refusal(body: dict) -> Refusal | None:
    """The error OpenAI answers this (parsed JSON) request with, or None when it would accept it."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return Refusal(400, "you must provide a model parameter", "invalid_request_error", None, None)
    if model not in KNOWN_MODELS:
        return Refusal(404, f"The model `{model}` does not exist or you do not have access to it.",
                       "invalid_request_error", None, "model_not_found")
    json_schema, param = _json_schema_format(body)
    if json_schema is None:
        return None
    if model not in STRUCTURED_OUTPUT_MODELS:
        return Refusal(400, f"Invalid parameter: '{param}' of type 'json_schema' is not supported with this model.",
                       "invalid_request_error", param, None)
    name = json_schema.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        name_param = f"{param}.json_schema.name" if param == "response_format" else f"{param}.name"
        if name is None:
            return Refusal(400, f"Missing required parameter: '{name_param}'.", "invalid_request_error",
                           name_param, "missing_required_parameter")
        return Refusal(400, f"Invalid '{name_param}': string does not match pattern. Expected a string that "
                            "matches the pattern '^[a-zA-Z0-9_-]+$' of at most 64 characters.",
                       "invalid_request_error", name_param, "invalid_value")
    if json_schema.get("strict") is True:
        problem = strict_schema_problem(json_schema.get("schema"))
        if problem is not None:
            return Refusal(400, f"Invalid schema for response_format '{name}': {problem}", "invalid_request_error",
                           param, "invalid_json_schema")
    return None
