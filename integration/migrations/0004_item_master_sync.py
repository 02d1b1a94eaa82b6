# Written by hand (issue 4): only the item-sync fields, so it carries none of the models other
# issues are adding to integration/models.py at the same time.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('integration', '0002_order_dispatched_at'),
    ]

    operations = [
        migrations.AddField(
            model_name='item',
            name='sync_status',
            field=models.CharField(choices=[('not_ready', 'Not for the warehouse (DRAFT or DISCONTINUED)'), ('pending', 'Waiting to be sent to Seko'), ('sending', 'Being sent to Seko'), ('sent', 'At Seko; Blue Cherry not yet set LIVE'), ('live', 'At Seko and LIVE'), ('invalid', 'Invalid: waiting for a fix in Blue Cherry'), ('failed', 'Refused: waiting for a fix')], db_index=True, default='pending', max_length=12),
        ),
        migrations.AddField(
            model_name='item',
            name='bc_fingerprint',
            field=models.CharField(blank=True, help_text="The product Blue Cherry's version makes", max_length=40),
        ),
        migrations.AddField(
            model_name='item',
            name='seko_fingerprint',
            field=models.CharField(blank=True, help_text='The product Seko last acknowledged', max_length=40),
        ),
        migrations.AddField(
            model_name='item',
            name='seko_acknowledged_at',
            field=models.DateTimeField(blank=True, db_index=True, null=True),
        ),
        migrations.AddField(
            model_name='item',
            name='live_at',
            field=models.DateTimeField(blank=True, help_text='When we set it LIVE in Blue Cherry', null=True),
        ),
        migrations.AddField(
            model_name='item',
            name='problems',
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name='item',
            name='last_error',
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='item',
            name='sync_attempts',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='item',
            name='next_attempt_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='item',
            name='claim_token',
            field=models.CharField(blank=True, db_index=True, max_length=32),
        ),
        migrations.AddField(
            model_name='item',
            name='claimed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='item',
            name='sync_changed_at',
            field=models.DateTimeField(blank=True, db_index=True, null=True),
        ),
    ]
