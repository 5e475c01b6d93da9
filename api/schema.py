"""The OpenAPI schema documents every answer an operation can give, errors included: a client
generated from it (and the schema-driven fuzzing in the tests) knows that a 404 is "not found
or not yours" with a reason, not an undocumented surprise.

Every error body is JSON with a reason (``api.errors``): ``{"detail": "..."}``, or for invalid
input the fields (``detail`` or ``non_field_errors`` for the request as a whole) with their
messages."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent

ERROR = ResolvedComponent(
    name="Error",
    type=ResolvedComponent.SCHEMA,
    object="Error",
    schema={
        "type": "object",
        "properties": {"detail": {"type": "string", "description": "Why, in words."}},
        "required": ["detail"],
    },
)
INVALID = ResolvedComponent(
    name="InvalidInput",
    type=ResolvedComponent.SCHEMA,
    object="InvalidInput",
    schema={
        "type": "object",
        "description": (
            "Each field in error with its messages (a list of strings, or for a list field its "
            "items' messages by position); `detail` or `non_field_errors` for the request as "
            "a whole."
        ),
        "additionalProperties": {
            "oneOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}},
                {"type": "object"},
            ]
        },
    },
)

# Any operation (authentication, permissions, the access policy, the per-key limit).
ALWAYS = {
    "401": "No API key, or a key that is unknown, revoked, or whose person or organisation is "
    "deactivated.",
    "403": "The key's person may not do this (for example: an agent managing people).",
    "404": "Not found, or not visible to the key's person (another organisation's ids are a 404).",
    "429": "Too many requests with this key: wait for Retry-After seconds.",
}
# Operations that take input.
WITH_INPUT = {"400": "Invalid input: what is wrong, field by field."}
WITH_BODY = {"415": "A request body in a media type this operation does not take."}


class ApiSchema(AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        filterset = getattr(self.view, "filterset_class", None)
        for parameter in operation.get("parameters", []):
            if filterset is not None and parameter["name"] in filterset.base_filters:
                # As in the portal's form: a filter sent empty is no filter.
                parameter["allowEmptyValue"] = True
        registry.register_on_missing(ERROR)
        registry.register_on_missing(INVALID)
        responses = operation["responses"]
        errors = dict(ALWAYS)
        if "requestBody" in operation or any(
            p["in"] == "query" for p in operation.get("parameters", [])
        ):
            errors.update(WITH_INPUT)
        if "requestBody" in operation:
            errors.update(WITH_BODY)
        for code, description in sorted(errors.items()):
            component = INVALID if code == "400" else ERROR
            response = {
                "description": description,
                "content": {"application/json": {"schema": component.ref}},
            }
            if code == "429":
                response["headers"] = {
                    "Retry-After": {
                        "schema": {"type": "integer"},
                        "description": "Seconds until this key may send again.",
                    }
                }
            responses.setdefault(code, response)
        return operation
