"""PostgreSQL: leave half of each page of the daily counters free.

A 10,000-entry resolve moves thousands of counters at once; with room on the page PostgreSQL
updates a counter in place (a HOT update) instead of adding an index entry for every new version.
"""

from django.db import migrations

TABLE = "dlq_dlqdailycount"


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} SET (fillfactor = 50)")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("dlq", "0007_partial_fk_indexes")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
