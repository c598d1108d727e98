"""PostgreSQL: vacuum the DLQ table after 2% of its rows changed (the default is 20%).

dlq_stats counts through index-only scans, which skip the table only for pages that the
visibility map marks all-visible; every resolved entry un-marks its page until the next vacuum.
With the default threshold a 1M-entry queue could carry up to 200,000 updated rows, and stats
would visit the table for a large share of them."""

from django.db import migrations

TABLE = "dlq_dlqentry"


def tune(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE {TABLE} SET (autovacuum_vacuum_scale_factor = 0.02, "
            "autovacuum_vacuum_insert_scale_factor = 0.02)"
        )


def untune(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE {TABLE} RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_insert_scale_factor)"
        )


class Migration(migrations.Migration):
    dependencies = [("dlq", "0003_stats_indexes")]

    operations = [migrations.RunPython(tune, untune, elidable=False)]
