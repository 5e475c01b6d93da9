"""Breaches per UTC hour of due time, per tenant and tier (issue 14), kept exact by PostgreSQL
triggers on every write of the clocks and filled from the clocks already there; and a partial
GiST index over the span (dispatch to due) of missed clocks, to find the few that a report's
period start cuts through.

A stopped clock that missed its target (responded after due, or stopped unanswered after due)
stays a breach at its due time whenever a report runs, so breaches per day in a zone whose
midnights are whole UTC hours are sums of these hours. Statement-level triggers with transition
tables fold each INSERT, UPDATE and DELETE in the writing transaction (services, bulk SQL,
cascades); TRUNCATE empties it. SQLite gets the table but no triggers: its breaches stay live.
"""

import django.db.models.deletion
from django.db import migrations, models

MISSED = """r.stopped_at IS NOT NULL AND (
        (r.responded_at IS NOT NULL AND r.responded_at > r.due_at)
        OR (r.responded_at IS NULL AND r.stopped_at > r.due_at))"""
COLUMNS = "hour, tenant_id, tier"
UPSERT = f"""
    INSERT INTO sla_breachrollup ({COLUMNS}, n)
    SELECT {COLUMNS}, sum(n) FROM (%s) AS delta ({COLUMNS}, n)
    GROUP BY {COLUMNS} HAVING sum(n) <> 0
    ORDER BY {COLUMNS}
    ON CONFLICT (hour, tenant_id, tier) DO UPDATE SET n = sla_breachrollup.n + EXCLUDED.n
"""  # noqa: S608 (constants only: no input reaches this SQL)


def rows(table: str, sign: int) -> str:
    return (
        f"SELECT date_trunc('hour', r.due_at, 'UTC'), r.tenant_id, r.tier, {sign}"  # noqa: S608
        f" FROM {table} r WHERE {MISSED}"
    )


FORWARD = f"""
CREATE FUNCTION sla_clock_breach_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {UPSERT % rows("new_rows", 1)};
    ELSIF TG_OP = 'UPDATE' THEN
        {UPSERT % (rows("old_rows", -1) + " UNION ALL " + rows("new_rows", 1))};
    ELSIF TG_OP = 'DELETE' THEN
        {UPSERT % rows("old_rows", -1)};
    ELSE
        DELETE FROM sla_breachrollup;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER sla_clock_breach_rollup_insert AFTER INSERT ON sla_responseclock
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sla_clock_breach_rollup();
CREATE TRIGGER sla_clock_breach_rollup_update AFTER UPDATE ON sla_responseclock
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sla_clock_breach_rollup();
CREATE TRIGGER sla_clock_breach_rollup_delete AFTER DELETE ON sla_responseclock
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION sla_clock_breach_rollup();
CREATE TRIGGER sla_clock_breach_rollup_truncate AFTER TRUNCATE ON sla_responseclock
    FOR EACH STATEMENT EXECUTE FUNCTION sla_clock_breach_rollup();

-- A report's period counts clocks dispatched in it: the missed clocks dispatched before its
-- start and due after it are subtracted from the hours' counts, found by this (stopped late
-- implies missed: a response stops the clock, constraint sla_clock_response_stops_it).
CREATE INDEX sla_clock_missed_span ON sla_responseclock
    USING gist (tstzrange(dispatched_at, due_at, '[]')) WHERE stopped_at > due_at;

{UPSERT % rows("sla_responseclock", 1)};
"""  # noqa: S608

BACKWARD = """
DROP INDEX sla_clock_missed_span;
DROP TRIGGER sla_clock_breach_rollup_insert ON sla_responseclock;
DROP TRIGGER sla_clock_breach_rollup_update ON sla_responseclock;
DROP TRIGGER sla_clock_breach_rollup_delete ON sla_responseclock;
DROP TRIGGER sla_clock_breach_rollup_truncate ON sla_responseclock;
DROP FUNCTION sla_clock_breach_rollup();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [
        ("sla", "0008_clock_rollup"),
        ("tenants", "0005_provider_brand"),
    ]

    operations = [
        migrations.CreateModel(
            name="BreachRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("hour", models.DateTimeField()),
                (
                    "tier",
                    models.PositiveSmallIntegerField(
                        choices=[(1, "Tier one"), (2, "Tier two (provider)")]
                    ),
                ),
                ("n", models.BigIntegerField()),
                (
                    "tenant",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="tenants.tenant",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("hour", "tenant", "tier"), name="sla_breach_rollup_key"
                    )
                ],
            },
        ),
        migrations.RunPython(forward, backward, elidable=False),
    ]
