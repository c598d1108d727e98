"""PostgreSQL: leave half of each page of the daily counters free.

A 10,000-entry resolve moves thousands of counters at once; with room on the page PostgreSQL
updates a counter in place (a HOT update) instead of adding an index entry for every new version.
"""

from django.db import migrations

from apps.core.sql import fillfactor


class Migration(migrations.Migration):
    dependencies = [("dlq", "0007_partial_fk_indexes")]

    operations = [fillfactor("dlq_dlqdailycount", 50)]
