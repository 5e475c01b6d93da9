"""The API's reference page for signed-in people, rendered on the server from the OpenAPI schema
(drf-spectacular): no JavaScript, so it lives under the strict Content-Security-Policy like
every other page. The machine-readable schema is at ``/api/v1/schema/``."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.generators import SchemaGenerator

METHODS = ("get", "post", "put", "patch", "delete")


def _schema_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _fields(schema: dict, components: dict) -> list[dict]:
    if "$ref" in schema:
        schema = components.get(_schema_name(schema["$ref"]), {})
    required = set(schema.get("required", []))
    fields = []
    for name, spec in schema.get("properties", {}).items():
        kind = spec.get("type") or (_schema_name(spec["$ref"]) if "$ref" in spec else "object")
        if kind == "array":
            item = spec.get("items", {})
            kind = f"list of {item.get('type') or _schema_name(item.get('$ref', 'object'))}"
        fields.append(
            {
                "name": name,
                "type": kind,
                "required": name in required,
                "read_only": spec.get("readOnly", False),
                "description": spec.get("description", ""),
                "choices": spec.get("enum", []),
            }
        )
    return fields


@login_required
def api_docs(request: HttpRequest) -> HttpResponse:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema.get("components", {}).get("schemas", {})
    operations = []
    for path, item in schema.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            body = operation.get("requestBody", {}).get("content", {})
            body_schema = next(iter(body.values()), {}).get("schema", {}) if body else {}
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "tag": (operation.get("tags") or ["other"])[0],
                    "description": operation.get("description", ""),
                    "parameters": [
                        {
                            "name": p["name"],
                            "where": p["in"],
                            "required": p.get("required", False),
                            "description": p.get("description", ""),
                        }
                        for p in operation.get("parameters", [])
                    ],
                    "body": _fields(body_schema, components) if body_schema else [],
                    "responses": sorted(operation.get("responses", {})),
                }
            )
    context = {"info": schema.get("info", {}), "operations": operations}
    return render(request, "api/docs.html", context)
