import datetime as dt

import pytest

from apps.connections.services import connection_create
from apps.syncs.models import Sync
from apps.syncs.scheduler import next_fire_time, schedule_missing_next_runs


def test_next_fire_time_respects_the_time_zone():
    after = dt.datetime(2026, 3, 28, 12, 0, tzinfo=dt.UTC)
    # 09:00 in Paris is 08:00 UTC before the DST switch (29 March 2026) and 07:00 UTC after.
    assert next_fire_time("0 9 * * *", "Europe/Paris", after) == dt.datetime(2026, 3, 29, 7, 0, tzinfo=dt.UTC)
    assert next_fire_time("0 9 * * *", "UTC", after) == dt.datetime(2026, 3, 29, 9, 0, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_tick_schedules_enabled_cron_syncs_only(workspace, sandbox_path):
    dest = connection_create(
        workspace=workspace,
        role="destination",
        connector_type="sandbox",
        name="crm",
        config={"path": sandbox_path},
    )
    common = {
        "workspace": workspace,
        "source_query": "SELECT 1 AS id",
        "destination": dest,
        "object_name": "contacts",
    }
    cron = Sync.objects.create(name="cron", schedule_type="cron", schedule_expression="*/5 * * * *", **common)
    paused = Sync.objects.create(
        name="paused", schedule_type="cron", schedule_expression="*/5 * * * *", enabled=False, **common
    )
    manual = Sync.objects.create(name="manual", **common)
    now = dt.datetime(2026, 11, 26, 10, 2, tzinfo=dt.UTC)
    assert schedule_missing_next_runs(now) == 1
    for s in (cron, paused, manual):
        s.refresh_from_db()
    assert cron.next_run_at == dt.datetime(2026, 11, 26, 10, 5, tzinfo=dt.UTC)
    assert paused.next_run_at is None and manual.next_run_at is None
