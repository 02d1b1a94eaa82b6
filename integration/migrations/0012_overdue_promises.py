# The order's "cancel refused: will ship" label, and the later dispatch time CX may promise a
# customer of an overdue order (written by hand: only these two changes).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('integration', '0011_withdrawn_orders_mapping_history_many_to_one'),
    ]

    operations = [
        migrations.AddField(
            model_name='order',
            name='promised_dispatch_by',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='order',
            name='status',
            field=models.CharField(choices=[('received', 'Waiting to be validated and sent'), ('quarantined', 'Quarantined: waiting for a fix'), ('sending', 'Being sent to Seko'), ('sent', 'Sent for fulfilment'), ('rejected', 'Rejected by Seko'), ('dispatched', 'Dispatched'), ('partially_dispatched', 'Dispatched short (remainder cancelled)'), ('cancelled', 'Cancelled'), ('cancel_refused', 'Cancel refused: will ship'), ('withdrawn', 'Withdrawn from fulfilment by a person')], db_index=True, default='received', max_length=20),
        ),
    ]
