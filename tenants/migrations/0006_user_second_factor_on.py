"""``User.second_factor_on``: whether a person has a confirmed authenticator app, so that the
second-factor middleware reads a column of the row it loads anyway instead of querying the
devices on every request. Filled here from the devices that exist; kept in step afterwards by
``twofactor.signals``."""

from django.db import migrations, models
from django.db.models import Exists, OuterRef


def fill(apps, schema_editor):
    User = apps.get_model("tenants", "User")
    TOTPDevice = apps.get_model("otp_totp", "TOTPDevice")
    confirmed = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
    User.objects.filter(Exists(confirmed)).update(second_factor_on=True)


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0005_provider_brand"),
        ("otp_totp", "0003_add_timestamps"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="second_factor_on",
            field=models.BooleanField(
                default=False,
                editable=False,
                help_text="Set and cleared with the person's authenticator app.",
                verbose_name="two-factor sign-in on",
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
