import time

from apps.core.ids import ALPHABET, ULID_LENGTH, new_id, new_ulid, timestamp_ms


def test_ids_carry_their_prefix_and_a_ulid():
    sync_id = new_id("retl_sync")
    assert sync_id.startswith("retl_sync_")
    ulid = sync_id.removeprefix("retl_sync_")
    assert len(ulid) == ULID_LENGTH
    assert set(ulid) <= set(ALPHABET)


def test_ids_sort_by_creation_time_even_within_one_millisecond():
    ids = [new_id("dlq") for _ in range(2000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_ids_from_later_milliseconds_sort_after_earlier_ones():
    earlier = new_ulid(now_ms=1_700_000_000_000)
    later = new_ulid(now_ms=1_700_000_000_001 + 10_000)
    assert earlier < later


def test_timestamp_is_recoverable_from_the_id():
    before = int(time.time() * 1000)
    run_id = new_id("retl_run")
    after = int(time.time() * 1000)
    assert before <= timestamp_ms(run_id) <= after
