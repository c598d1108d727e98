"""PostgreSQL: drop the ``varchar_pattern_ops`` copy of the open marks' key index.

Django creates it at the very end of the migration that creates the table (0009), after that
migration's own code has run, so it is dropped here: nothing searches entry ids by prefix.
"""

from django.db import migrations


def drop_like_indexes(apps, schema_editor):
    from apps.core.sql import drop_like_indexes as drop

    drop(schema_editor, "dlq_dlqopenentry")


class Migration(migrations.Migration):
    dependencies = [("dlq", "0010_replay_run_unindexed")]

    operations = [migrations.RunPython(drop_like_indexes, migrations.RunPython.noop)]
