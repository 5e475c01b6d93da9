"""Each response clock carries its case's requesting tenant, so reports group and filter by
tenant without joining a million cases (issue 14). Existing clocks get theirs from their case in
one UPDATE; then the column becomes required. The report indexes are rebuilt to cover it."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_tenants(apps, schema_editor):
    ResponseClock = apps.get_model("sla", "ResponseClock")
    Case = apps.get_model("helpdesk", "Case")
    ResponseClock.objects.filter(tenant__isnull=True).update(
        tenant_id=Subquery(Case.objects.filter(pk=OuterRef("case_id")).values("tenant_id")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk", "0012_canned_replies"),
        ("sla", "0006_report_indexes"),
        ("tenants", "0005_provider_brand"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="responseclock", name="sla_clock_running_due"),
        migrations.RemoveIndex(model_name="responseclock", name="sla_clock_report_dispatch"),
        migrations.RemoveIndex(model_name="responseclock", name="sla_clock_report_due"),
        migrations.AddField(
            model_name="responseclock",
            name="tenant",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="tenants.tenant",
            ),
        ),
        migrations.RunPython(copy_tenants, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="responseclock",
            name="tenant",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="tenants.tenant",
            ),
        ),
        migrations.AddIndex(
            model_name="responseclock",
            index=models.Index(
                fields=["dispatched_at"],
                include=(
                    "id",
                    "tenant_id",
                    "tier",
                    "severity",
                    "due_at",
                    "responded_at",
                    "stopped_at",
                    "response_minutes",
                    "case_id",
                    "calendar_id",
                ),
                name="sla_clock_report_dispatch",
            ),
        ),
        migrations.AddIndex(
            model_name="responseclock",
            index=models.Index(
                fields=["tenant", "dispatched_at"],
                include=(
                    "id",
                    "tier",
                    "severity",
                    "due_at",
                    "responded_at",
                    "stopped_at",
                    "response_minutes",
                    "case_id",
                    "calendar_id",
                ),
                name="sla_clock_report_tenant",
            ),
        ),
        migrations.AddIndex(
            model_name="responseclock",
            index=models.Index(
                fields=["due_at"],
                include=("responded_at", "stopped_at", "tenant_id", "tier", "severity"),
                name="sla_clock_report_due",
            ),
        ),
        migrations.AddIndex(
            model_name="responseclock",
            index=models.Index(
                condition=models.Q(("stopped_at", None)),
                fields=["due_at"],
                include=("tier", "at_risk_at"),
                name="sla_clock_running_due",
            ),
        ),
    ]
