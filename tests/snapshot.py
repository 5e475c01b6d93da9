"""The rows of every table, taken once the demo world is seeded and put back after a
transactional test's flush removed them: a few thousand inserts instead of ``seed_demo`` again
(hundreds of service calls, each opening, answering and re-dating cases)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.management.color import no_style
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple, ...]


@dataclass(frozen=True)
class Snapshot:
    tables: tuple[Table, ...]


def _tables(connection: BaseDatabaseWrapper) -> list[str]:
    """The tables of the project's models (what ``flush`` empties), in a stable order."""
    return sorted(
        connection.introspection.django_table_names(only_existing=True, include_views=False)
    )


def snapshot_take(connection: BaseDatabaseWrapper) -> Snapshot:
    """Every row of every model's table, as stored. On SQLite a column is read as ``+column``
    (SQLite's no-op operator): the value stays as stored, not converted by the declared type
    (a ``time`` read back as ``datetime.time`` could not be written again)."""
    quote = connection.ops.quote_name
    raw = "+{}" if connection.vendor == "sqlite" else "{}"
    tables = []
    with connection.cursor() as cursor:
        for name in _tables(connection):
            columns = tuple(
                column.name
                for column in connection.introspection.get_table_description(cursor, name)
            )
            select = ", ".join(raw.format(quote(column)) for column in columns)
            cursor.execute(f"SELECT {select} FROM {quote(name)}")  # noqa: S608 - our tables
            tables.append(Table(name, columns, tuple(tuple(row) for row in cursor.fetchall())))
    return Snapshot(tuple(tables))


def snapshot_restore(connection: BaseDatabaseWrapper, snapshot: Snapshot) -> None:
    """Empty every model's table and write the snapshot's rows back, in one transaction (the
    foreign keys are checked at its commit). On PostgreSQL the tables' triggers are off
    meanwhile (``session_replication_role``, for this transaction only): the roll-ups they
    maintain (sla/migrations/0008) are among the rows written back, and must not count the
    clocks twice. Sequences go back to the rows' largest ids."""
    quote = connection.ops.quote_name
    names = [table.name for table in snapshot.tables]
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        # DELETE, not flush's TRUNCATE: after a flush the tables are empty or nearly (the
        # content types and permissions post_migrate wrote), and TRUNCATE of every table
        # costs PostgreSQL a second or more.
        for name in names:
            cursor.execute(f"DELETE FROM {quote(name)}")  # noqa: S608 - our tables
        for table in snapshot.tables:
            if not table.rows:
                continue
            columns = ", ".join(quote(column) for column in table.columns)
            values = ", ".join(["%s"] * len(table.columns))
            cursor.executemany(
                f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({values})",  # noqa: S608
                table.rows,
            )
        models = connection.introspection.installed_models(names)
        for sql in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(sql)
