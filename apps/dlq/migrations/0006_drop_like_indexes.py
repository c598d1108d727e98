"""PostgreSQL: drop the ``varchar_pattern_ops`` (``*_like``) copies Django adds next to the id and
foreign-key indexes of the DLQ table.

They serve ``LIKE 'prefix%'`` lookups, which nothing does on these columns, yet resolving an entry
writes a new version of its row into every index: 16 indexes became 11, and a 10,000-entry
resolve writes (and WAL-logs) that much less.
"""

from django.db import migrations

TABLE = "dlq_dlqentry"


def drop_like_indexes(apps, schema_editor):
    from apps.core.sql import drop_like_indexes as drop

    drop(schema_editor, TABLE)


class Migration(migrations.Migration):
    dependencies = [("dlq", "0005_daily_counts")]

    operations = [migrations.RunPython(drop_like_indexes, migrations.RunPython.noop)]
