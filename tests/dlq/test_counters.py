"""The daily DLQ counters and the open marks stay exactly in step with the entries, and stats
and the open lists read them correctly.

An oracle counts the entries directly (the slow, obviously right way); random sequences of every
DLQ write — new failures, refreshed failures with another code on another day, resolves by id,
resolves of rows that went through — must leave ``dlq_stats`` equal to it for every window.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

import pytest
from django.db.models import Min

from apps.dlq import services
from apps.dlq.counters import counts_rebuild
from apps.dlq.models import DlqDailyCount, DlqEntry, DlqOpenEntry
from apps.dlq.open_entries import open_entries_rebuild
from apps.dlq.selectors import dlq_entries, dlq_stats
from apps.dlq.services import Failure, dlq_record_failures, dlq_resolve, dlq_resolve_succeeded
from apps.runs.services import run_enqueue

pytestmark = pytest.mark.django_db
CODES = ["invalid_field_value", "rate_limited", "destination_rejected"]
START = dt.datetime(2026, 11, 1, 5, 30, tzinfo=dt.UTC)


def oracle(workspace_id: str, sync_id: str | None, since: dt.datetime | None) -> dict:
    entries = DlqEntry.objects.filter(workspace_id=workspace_id)
    if sync_id:
        entries = entries.filter(sync_id=sync_id)
    if since:
        entries = entries.filter(failed_at__gte=since)
    open_entries = entries.filter(resolved=False)
    by_code = Counter(open_entries.values_list("error_code", flat=True))
    by_sync = Counter(open_entries.values_list("sync_id", flat=True))
    oldest = open_entries.aggregate(m=Min("failed_at"))["m"]
    return {
        "open": open_entries.count(),
        "resolved": entries.filter(resolved=True).count(),
        "by_code": dict(by_code),
        "by_sync": dict(by_sync),
        "oldest": oldest.isoformat().replace("+00:00", "Z") if oldest else None,
    }


def observed(workspace_id: str, sync_id: str | None, since: dt.datetime | None) -> dict:
    stats = dlq_stats(workspace_id=workspace_id, sync_id=sync_id, since=since)
    assert stats["total_entries"] == stats["open_entries"] + stats["resolved_entries"]
    return {
        "open": stats["open_entries"],
        "resolved": stats["resolved_entries"],
        "by_code": {c["error_code"]: c["count"] for c in stats["by_error_code"]},
        "by_sync": {s["sync_id"]: s["count"] for s in stats["by_sync"]},
        "oldest": stats["oldest_open_failed_at"],
    }


@pytest.fixture
def clock(monkeypatch):
    """The time DLQ writes stamp, moved by the test (entries spread over several days)."""
    now = {"value": START}
    monkeypatch.setattr(services.timezone, "now", lambda: now["value"])
    return now


def counter_rows() -> set[tuple]:
    return set(
        DlqDailyCount.objects.filter(open_count__gt=0)
        .values_list("workspace_id", "sync_id", "error_code", "day", "open_count", "resolved_count")
        .union(
            DlqDailyCount.objects.filter(resolved_count__gt=0).values_list(
                "workspace_id", "sync_id", "error_code", "day", "open_count", "resolved_count"
            )
        )
    )


@pytest.mark.parametrize("seed", range(6))
def test_random_writes_keep_stats_exact(seed, make_sync, workspace, clock):
    rng = random.Random(seed)
    syncs = [make_sync(name=f"s{i}") for i in range(3)]
    runs = {s.id: run_enqueue(sync=s, trigger="manual", dispatch=False)[0] for s in syncs}
    for _step in range(40):
        clock["value"] += dt.timedelta(hours=rng.choice([0, 1, 7, 23]), minutes=rng.randrange(60))
        sync = rng.choice(syncs)
        action = rng.random()
        if action < 0.55:
            keys = [f"K{rng.randrange(30)}" for _ in range(rng.randrange(1, 8))]  # repeats on purpose
            failures = [Failure(record_key=k, error_code=rng.choice(CODES), error_message="x") for k in keys]
            if rng.random() < 0.2:
                failures.append(
                    Failure(record_key=None, error_code=rng.choice(CODES), error_message="no key")
                )
            dlq_record_failures(run=runs[sync.id], object_name="contacts", failures=failures)
        elif action < 0.8:
            open_ids = list(DlqEntry.objects.filter(resolved=False).values_list("id", flat=True))
            picked = rng.sample(open_ids, min(len(open_ids), rng.randrange(1, 6)))
            done = list(DlqEntry.objects.filter(resolved=True).values_list("id", flat=True))[:2]
            dlq_resolve(workspace_id=workspace.pk, ids=picked + done + ["dlq_nope"], reason="fixed_upstream")
        else:
            dlq_resolve_succeeded(sync_id=sync.id, keys=[f"K{rng.randrange(30)}" for _ in range(5)])
    assert DlqEntry.objects.count() > 10
    first = DlqEntry.objects.aggregate(m=Min("failed_at"))["m"]
    # Midnight, and cuts early (the part before them is counted) and late in a day (after them).
    windows = [
        None,
        first,
        first + dt.timedelta(hours=30, minutes=17),
        clock["value"],
        START.replace(day=5, hour=0, minute=0),
        START.replace(day=2, hour=2, minute=40),
        START.replace(day=2, hour=20, minute=5),
        START.replace(day=3, hour=13, minute=1),
    ]
    for since in windows:
        for sync_id in [None, *[s.id for s in syncs]]:
            assert observed(workspace.pk, sync_id, since) == oracle(workspace.pk, sync_id, since), (
                since,
                sync_id,
            )
    # Every open entry, and only those, has an open mark with its current code, sync and time.
    marks = set(DlqOpenEntry.objects.values_list("entry_id", "sync_id", "error_code", "failed_at"))
    assert marks == set(
        DlqEntry.objects.filter(resolved=False).values_list("id", "sync_id", "error_code", "failed_at")
    )
    for sync_id in [None, *[s.id for s in syncs]]:
        for resolved in (False, True):
            listed = dlq_entries(workspace_id=workspace.pk, resolved=resolved, sync_id=sync_id)
            direct = DlqEntry.objects.filter(workspace_id=workspace.pk, resolved=resolved)
            direct = direct.filter(sync_id=sync_id) if sync_id else direct
            assert list(listed.order_by("-pk").values_list("pk", flat=True)) == list(
                direct.order_by("-pk").values_list("pk", flat=True)
            )
    # Rebuilding from the entries gives the very counters and marks the writes kept.
    kept = counter_rows()
    counts_rebuild(workspace_id=workspace.pk)
    assert counter_rows() == kept
    assert open_entries_rebuild(workspace_id=workspace.pk) == len(marks)
    assert set(DlqOpenEntry.objects.values_list("entry_id", "sync_id", "error_code", "failed_at")) == marks


def test_stats_of_another_workspace_stay_apart(make_sync, workspace, other_workspace, clock):
    sync = make_sync()
    run = run_enqueue(sync=sync, trigger="manual", dispatch=False)[0]
    dlq_record_failures(
        run=run,
        object_name="contacts",
        failures=[Failure(record_key="A", error_code="rate_limited", error_message="x")],
    )
    assert dlq_stats(workspace_id=workspace.pk)["open_entries"] == 1
    assert dlq_stats(workspace_id=other_workspace.pk)["open_entries"] == 0
    assert dlq_stats(workspace_id=other_workspace.pk)["oldest_open_failed_at"] is None


def test_rebuild_command_repairs_drifted_counters(make_sync, workspace, clock):
    from django.core.management import call_command

    sync = make_sync()
    run = run_enqueue(sync=sync, trigger="manual", dispatch=False)[0]
    dlq_record_failures(
        run=run,
        object_name="contacts",
        failures=[Failure(record_key="A", error_code="rate_limited", error_message="x")],
    )
    DlqDailyCount.objects.update(open_count=99)  # drift, e.g. rows loaded with SQL
    assert dlq_stats(workspace_id=workspace.pk)["open_entries"] == 99
    call_command("dlq_rebuild_counts", workspace=workspace.pk)
    assert dlq_stats(workspace_id=workspace.pk)["open_entries"] == 1


def test_resolve_never_touches_another_workspace(make_sync, workspace, other_workspace, clock):
    sync = make_sync()
    run = run_enqueue(sync=sync, trigger="manual", dispatch=False)[0]
    dlq_record_failures(
        run=run,
        object_name="contacts",
        failures=[Failure(record_key=k, error_code="rate_limited", error_message="x") for k in ("A", "B")],
    )
    a, b = DlqEntry.objects.order_by("record_key")
    theirs = dlq_resolve(workspace_id=other_workspace.pk, ids=[a.id], reason="fixed_upstream")
    assert (theirs.resolved, theirs.already_resolved, theirs.not_found) == ([], [], [a.id])
    ours = dlq_resolve(workspace_id=workspace.pk, ids=[b.id, a.id, b.id, "dlq_nope"], reason="fixed_upstream")
    assert (ours.resolved, ours.already_resolved, ours.not_found) == ([b.id, a.id], [], ["dlq_nope"])
    again = dlq_resolve(workspace_id=workspace.pk, ids=[a.id], reason="fixed_upstream")
    assert (again.resolved, again.already_resolved) == ([], [a.id])
    assert dlq_stats(workspace_id=workspace.pk)["resolved_entries"] == 2
