"""Coercion and validation, run through the workbench exactly as a sync runs them."""

import datetime as dt
from decimal import Decimal

import orjson
import pyarrow as pa
import pytest

from apps.connectors.base import FieldSpec
from apps.engine.coercion import split_reason
from apps.engine.spec import MappedField, Mapping
from apps.engine.workbench import Workbench


def stage(
    tmp_path,
    columns: dict[str, pa.Array],
    specs: list[FieldSpec],
    *,
    mode: str = "upsert",
    key: str | None = "c0",
) -> dict[str, dict]:
    fields = [
        MappedField(col, Mapping(col, spec.name, key=col == key), spec)
        for col, spec in zip(columns, specs, strict=True)
    ]
    wb = Workbench(tmp_path / "wb")
    try:
        wb.attach_source([pa.record_batch(columns)], list(columns))
        wb.build_work(fields=fields, mode=mode, state_table=None, force_send=False)
        rows = wb.con.execute(f"SELECT key, {wb.payload_sql}, reason, action FROM work_rows").fetchall()
    finally:
        wb.close()
    return {k: {"payload": orjson.loads(j), "reason": r, "action": a} for k, j, r, a in rows}


KEY = FieldSpec("id", "ID", "string", identifier=True)


def test_strings_are_trimmed_and_lengths_checked(tmp_path):
    out = stage(
        tmp_path,
        {"c0": pa.array(["a", "b"]), "c1": pa.array(["  padded  ", "x" * 11])},
        [KEY, FieldSpec("name", "Name", "string", max_length=10)],
    )
    assert out["a"]["payload"] == {"id": "a", "name": "padded"} and out["a"]["action"] == "added"
    code, field, message = split_reason(out["b"]["reason"])
    assert (code, field) == ("invalid_field_value", "name") and "11 characters" in message and "10" in message


@pytest.mark.parametrize(
    ("spec", "good", "good_out", "bad"),
    [
        (FieldSpec("n", "N", "integer"), "42", 42, "4.5"),
        (FieldSpec("n", "N", "integer"), 7.0, 7, 7.25),
        (FieldSpec("n", "N", "number"), "3.25", 3.25, "three"),
        (FieldSpec("n", "N", "boolean"), "true", True, "perhaps"),
        (FieldSpec("n", "N", "date"), "2026-03-01", "2026-03-01", "2026-02-30"),
        (
            FieldSpec("n", "N", "datetime"),
            "2026-03-01T10:00:00+02:00",
            "2026-03-01T08:00:00.000Z",
            "yesterday",
        ),
        (FieldSpec("n", "N", "email"), " ada@example.com ", "ada@example.com", "ada@@example.com"),
        (FieldSpec("n", "N", "phone"), "+1 (415) 555-0100", "+1 (415) 555-0100", "call me"),
        (FieldSpec("n", "N", "enum", enum_values=("gold", "silver")), "gold", "gold", "bronze"),
        (FieldSpec("n", "N", "json"), '{"a": [1, 2]}', {"a": [1, 2]}, "{not json"),
    ],
)
def test_each_type_coerces_good_values_and_refuses_bad_ones(tmp_path, spec, good, good_out, bad):
    values = pa.array([good, bad]) if not isinstance(good, float) else pa.array([good, bad], pa.float64())
    out = stage(tmp_path, {"c0": pa.array(["good", "bad"]), "c1": values}, [KEY, spec])
    assert out["good"]["reason"] is None
    assert out["good"]["payload"]["n"] == good_out
    code, field, message = split_reason(out["bad"]["reason"])
    assert code == "invalid_field_value" and field == "n"
    assert str(bad).strip() in message
    assert out["bad"]["action"] == "invalid"


def test_native_warehouse_types_keep_their_meaning(tmp_path):
    out = stage(
        tmp_path,
        {
            "c0": pa.array(["k"]),
            "c1": pa.array([Decimal("12345678901234.56")], pa.decimal128(16, 2)),
            "c2": pa.array([dt.datetime(2026, 1, 2, 3, 4, 5, 678000)], pa.timestamp("us")),
            "c3": pa.array(
                [dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)], pa.timestamp("us", tz="Europe/Paris")
            ),
            "c4": pa.array([dt.date(2026, 1, 2)]),
            "c5": pa.array([True]),
        },
        [
            KEY,
            FieldSpec("amount", "A", "number"),
            FieldSpec("seen", "S", "datetime"),
            FieldSpec("zoned", "Z", "datetime"),
            FieldSpec("day", "D", "date"),
            FieldSpec("flag", "F", "boolean"),
        ],
    )
    payload = out["k"]["payload"]
    assert payload["amount"] == 12345678901234.56  # exact digits in the JSON text
    assert payload["seen"] == "2026-01-02T03:04:05.678Z"  # naive timestamps are UTC
    assert payload["zoned"] == "2026-01-02T03:04:05.000Z"
    assert payload["day"] == "2026-01-02" and payload["flag"] is True


def test_required_fields_and_keys(tmp_path):
    required = FieldSpec("email", "Email", "email", required=True)
    columns = {
        "c0": pa.array(["a", None, "dup", "dup"]),
        "c1": pa.array([None, "x@example.com", "d@e.com", "d@e.com"]),
    }
    out = stage(tmp_path, columns, [KEY, required])
    assert split_reason(out["a"]["reason"])[0] == "missing_required_field"
    assert split_reason(out[None]["reason"])[0] == "validation_failed"
    assert "duplicate key dup appears 2 times" in out["dup"]["reason"]
    # update mode does not demand fields that only creation needs
    out = stage(
        tmp_path, {"c0": pa.array(["a"]), "c1": pa.array([None], pa.string())}, [KEY, required], mode="update"
    )
    assert out["a"]["reason"] is None


def test_keyless_insert_identifies_rows_by_content(tmp_path):
    event = [FieldSpec("event_name", "E", "string"), FieldSpec("email", "M", "email")]
    out = stage(
        tmp_path,
        {"c0": pa.array(["signed_in", "signed_up"]), "c1": pa.array(["a@b.co", "a@b.co"])},
        event,
        mode="insert",
        key=None,
    )
    assert len(out) == 2 and all(k for k in out)
    assert all(row["action"] == "added" for row in out.values())
