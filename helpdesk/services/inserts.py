"""A new row and the rows that point at it, written in one statement on PostgreSQL.

Opening a case writes the case and then its SLA clock, its "opened" event and its notification
intent, each pointing at the case. Through ``Model.save`` that is five round trips to the
database (the reference's ``nextval`` and four inserts) and Django's SQL compiler run four times;
here it is one ``INSERT ... RETURNING`` with the others as data-modifying CTEs, built from the
models' own fields (a column added to a model is written without touching this module). The
statement is atomic by itself and the rows commit together, or none does.

Elsewhere (SQLite) and for any row this builder does not handle (a field with its own
placeholder, an expression as a value), the rows are saved one by one as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Model


def _insert_parts(row: Model, skip: str = "") -> list[tuple[str, str, Any]] | None:
    """(attname, quoted column, value) of each column ``Model.save`` would insert, the auto
    primary key left to the database; None if a field needs more than a plain value."""
    fields = _fields(type(row), skip, row.pk is None)
    if fields is None:
        return None
    parts = []
    for field, attname, column in fields:
        value = field.pre_save(row, True)
        if value is not None:
            value = field.get_db_prep_save(value, connection)
            if hasattr(value, "resolve_expression"):
                return None
        parts.append((attname, column, value))
    return parts


_FIELDS: dict[tuple[type[Model], str, bool], list[tuple[Any, str, str]] | None] = {}


def _fields(model: type[Model], skip: str, auto_pk: bool) -> list[tuple[Any, str, str]] | None:
    """The fields an insert of ``model`` writes (field, attname, quoted column), worked out
    once per model; None if one needs its own placeholder."""
    key = (model, skip, auto_pk)
    if key not in _FIELDS:
        meta = model._meta
        quote = connection.ops.quote_name
        fields = [
            (field, field.attname, quote(_column(field)))
            for field in meta.local_concrete_fields
            if not ((field is meta.auto_field and auto_pk) or field.attname == skip)
        ]
        special = any(hasattr(field, "get_placeholder") for field, _, _ in fields)
        _FIELDS[key] = None if special else fields
    return _FIELDS[key]


def _column(field: Any) -> str:
    column: str = field.column
    return column


def _placeholder(value: Any, params: list[Any]) -> str:
    """NULL written as such (a constant, not a parameter: fewer to adapt, and psycopg keeps a
    statement of at most 50 parameters converted), else a placeholder for ``value``."""
    if value is None:
        return "NULL"
    params.append(value)
    return "%s"


def _saved(row: Model) -> None:
    row._state.adding = False
    row._state.db = connection.alias


def insert_with_dependents(
    parent: Model,
    dependents: Sequence[tuple[Model, str]],
    *,
    parent_sql: dict[str, tuple[str, Sequence[Any]]] | None = None,
) -> bool:
    """Insert ``parent`` and then each dependent row, whose foreign key named by its pair (e.g.
    ``"case"``) points at the parent, in one statement; set their primary keys, and the
    parent's fields named in ``parent_sql`` (attribute name: SQL expression and its parameters,
    computed by the database, e.g. a reference from a sequence).

    Only on PostgreSQL; returns False, having written and changed nothing, where the caller
    should save the rows itself."""
    if connection.vendor != "postgresql":
        return False
    quote = connection.ops.quote_name
    parent_sql = parent_sql or {}
    meta = parent._meta
    parent_parts = _insert_parts(parent)
    links: list[Any] = [row._meta.get_field(link) for row, link in dependents]
    dependent_parts = [
        _insert_parts(row, skip=field.attname)
        for (row, _), field in zip(dependents, links, strict=True)
    ]
    if parent_parts is None or any(parts is None for parts in dependent_parts):
        return False
    params: list[Any] = []
    expressions = []
    for attname, _, value in parent_parts:
        if attname in parent_sql:
            expressions.append(parent_sql[attname][0])
            params.extend(parent_sql[attname][1])
        else:
            expressions.append(_placeholder(value, params))
    parent_pk = quote(_column(meta.pk))
    returned = [parent_pk, *(quote(_column(meta.get_field(name))) for name in parent_sql)]
    # Only names from the models' meta and placeholders go into the SQL text: no input.
    sql = [
        f"WITH p AS (INSERT INTO {quote(meta.db_table)} "  # noqa: S608
        f"({', '.join(column for _, column, _ in parent_parts)}) "
        f"VALUES ({', '.join(expressions)}) RETURNING {', '.join(returned)})"
    ]
    selected = [f"p.{column}" for column in returned]
    for n, ((row, _), field, parts) in enumerate(
        zip(dependents, links, dependent_parts, strict=True)
    ):
        assert parts is not None
        pk = quote(_column(row._meta.pk))
        sql.append(
            f"d{n} AS (INSERT INTO {quote(row._meta.db_table)} "  # noqa: S608
            f"({quote(_column(field))}, {', '.join(column for _, column, _ in parts)}) "
            f"VALUES ((SELECT {parent_pk} FROM p), "
            f"{', '.join(_placeholder(value, params) for _, _, value in parts)}) "
            f"RETURNING {pk})"
        )
        selected.append(f"(SELECT {pk} FROM d{n})")  # noqa: S608
    statement = ", ".join(sql) + f" SELECT {', '.join(selected)} FROM p"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        result = cursor.fetchone()
    parent.pk = result[0]
    for name, value in zip(parent_sql, result[1 : 1 + len(parent_sql)], strict=True):
        setattr(parent, name, value)
    _saved(parent)
    for (row, link), pk in zip(dependents, result[1 + len(parent_sql) :], strict=True):
        setattr(row, link, parent)
        row.pk = pk
        _saved(row)
    return True
