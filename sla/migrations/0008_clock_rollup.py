"""Roll-ups of stopped response clocks for the reports (issue 14), kept exact by PostgreSQL
triggers on every write, and filled from the clocks already there.

A stopped clock's report bucket never depends on the time a report runs, so the count of stopped
clocks per (calendar, month of dispatch in its zone, tenant, tier, severity, outcome, response
minutes) is all a report over whole months needs, percentiles included (a histogram of whole
minutes). Statement-level triggers with transition tables fold each INSERT, UPDATE and DELETE
of clocks into the roll-up in the same transaction (the services, bulk SQL and cascades alike);
a change of a calendar's zone re-buckets its clocks; TRUNCATE empties it. SQLite gets the table
but no triggers: its reports stay live.
"""

import django.db.models.deletion
from django.db import migrations, models

# The key of one clock row ``r`` joined to its calendar ``cal`` (stopped clocks only).
KEY = """
    r.calendar_id, to_char(r.dispatched_at AT TIME ZONE cal.timezone, 'YYYY-MM'),
    r.tenant_id, r.tier, r.severity,
    CASE WHEN r.responded_at IS NOT NULL THEN
             CASE WHEN r.responded_at <= r.due_at THEN 1 ELSE 2 END
         WHEN r.stopped_at > r.due_at THEN 3 ELSE 4 END,
    r.response_minutes"""
COLUMNS = "calendar_id, month, tenant_id, tier, severity, outcome, response_minutes"
UPSERT = f"""
    INSERT INTO sla_clockrollup ({COLUMNS}, n)
    SELECT {COLUMNS}, sum(n) FROM (%s) AS delta ({COLUMNS}, n)
    GROUP BY {COLUMNS} HAVING sum(n) <> 0
    ORDER BY {COLUMNS}
    ON CONFLICT (calendar_id, month, tenant_id, tier, severity, outcome,
                 (COALESCE(response_minutes, -1)))
    DO UPDATE SET n = sla_clockrollup.n + EXCLUDED.n
"""  # noqa: S608 (constants only: no input reaches this SQL)


def rows(table: str, sign: int, where: str = "") -> str:
    return (
        f"SELECT {KEY}, {sign} FROM {table} r JOIN sla_calendar cal ON cal.id = r.calendar_id"  # noqa: S608
        f" WHERE r.stopped_at IS NOT NULL {where}"
    )


FORWARD = f"""
CREATE UNIQUE INDEX sla_rollup_key ON sla_clockrollup
    (calendar_id, month, tenant_id, tier, severity, outcome, (COALESCE(response_minutes, -1)));

CREATE FUNCTION sla_clock_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {UPSERT % rows("new_rows", 1)};
    ELSIF TG_OP = 'UPDATE' THEN
        {UPSERT % (rows("old_rows", -1) + " UNION ALL " + rows("new_rows", 1))};
    ELSIF TG_OP = 'DELETE' THEN
        {UPSERT % rows("old_rows", -1)};
    ELSE
        DELETE FROM sla_clockrollup;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER sla_clock_rollup_insert AFTER INSERT ON sla_responseclock
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sla_clock_rollup();
CREATE TRIGGER sla_clock_rollup_update AFTER UPDATE ON sla_responseclock
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sla_clock_rollup();
CREATE TRIGGER sla_clock_rollup_delete AFTER DELETE ON sla_responseclock
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION sla_clock_rollup();
CREATE TRIGGER sla_clock_rollup_truncate AFTER TRUNCATE ON sla_responseclock
    FOR EACH STATEMENT EXECUTE FUNCTION sla_clock_rollup();

-- A calendar's zone decides its clocks' months: a new zone re-buckets them.
CREATE FUNCTION sla_calendar_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Waits for clock writes in flight (their triggers bucketed with the old zone) and keeps
    -- new ones out until this commits: the rows deleted and counted again are all of them.
    LOCK TABLE sla_clockrollup IN EXCLUSIVE MODE;
    DELETE FROM sla_clockrollup WHERE calendar_id = NEW.id;
    {UPSERT % rows("sla_responseclock", 1, "AND r.calendar_id = NEW.id")};
    RETURN NULL;
END $$;

CREATE TRIGGER sla_calendar_rollup AFTER UPDATE OF timezone ON sla_calendar
    FOR EACH ROW WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone)
    EXECUTE FUNCTION sla_calendar_rollup();

{UPSERT % rows("sla_responseclock", 1)};
"""  # noqa: S608

BACKWARD = """
DROP TRIGGER sla_calendar_rollup ON sla_calendar;
DROP FUNCTION sla_calendar_rollup();
DROP TRIGGER sla_clock_rollup_insert ON sla_responseclock;
DROP TRIGGER sla_clock_rollup_update ON sla_responseclock;
DROP TRIGGER sla_clock_rollup_delete ON sla_responseclock;
DROP TRIGGER sla_clock_rollup_truncate ON sla_responseclock;
DROP FUNCTION sla_clock_rollup();
DROP INDEX sla_rollup_key;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk", "0013_intent_failures"),
        ("sla", "0007_clock_tenant"),
        ("tenants", "0005_provider_brand"),
    ]

    operations = [
        migrations.CreateModel(
            name="ClockRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("month", models.CharField(max_length=7)),
                (
                    "tier",
                    models.PositiveSmallIntegerField(
                        choices=[(1, "Tier one"), (2, "Tier two (provider)")]
                    ),
                ),
                (
                    "severity",
                    models.PositiveSmallIntegerField(
                        choices=[
                            (1, "Emergency"),
                            (2, "Critical"),
                            (3, "Major"),
                            (4, "Moderate"),
                            (5, "Minor"),
                        ]
                    ),
                ),
                (
                    "outcome",
                    models.PositiveSmallIntegerField(
                        choices=[
                            (1, "Met"),
                            (2, "Missed, responded late"),
                            (3, "Missed, stopped unanswered after due"),
                            (4, "Resolved without response"),
                        ]
                    ),
                ),
                ("response_minutes", models.FloatField(blank=True, null=True)),
                ("n", models.BigIntegerField()),
            ],
        ),
        migrations.AddIndex(
            model_name="responseclock",
            index=models.Index(
                condition=models.Q(("stopped_at", None)),
                fields=["dispatched_at"],
                include=("tenant_id", "tier", "severity", "due_at", "calendar_id"),
                name="sla_clock_running_dispatch",
            ),
        ),
        migrations.AddField(
            model_name="clockrollup",
            name="calendar",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="sla.calendar",
            ),
        ),
        migrations.AddField(
            model_name="clockrollup",
            name="tenant",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="tenants.tenant",
            ),
        ),
        migrations.AddIndex(
            model_name="clockrollup",
            index=models.Index(fields=["calendar", "month", "tenant"], name="sla_rollup_month"),
        ),
        migrations.AddIndex(
            model_name="clockrollup",
            index=models.Index(fields=["tenant", "month"], name="sla_rollup_tenant"),
        ),
        migrations.RunPython(forward, backward, elidable=False),
    ]
