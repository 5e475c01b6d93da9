"""The provider's brand (named after the provider, From DEFAULT_FROM_EMAIL) and the staff
groups' permissions on brands."""

from django.db import migrations

from tenants.defaults import ensure_brand_defaults


def create_defaults(apps, schema_editor):
    ensure_brand_defaults(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0004_brands"),
        # The provider tenant and the staff groups are made by helpdesk's defaults.
        ("helpdesk", "0003_defaults"),
    ]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
