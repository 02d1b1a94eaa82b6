from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('seko', '0002_location_types_and_delayed_pushes'),
    ]

    operations = [
        migrations.AddField(
            model_name='courierservice',
            name='description',
            field=models.CharField(blank=True, default='', max_length=100),
        ),
    ]
