"""Against fakesnow's server mode: the real snowflake-connector-python talks HTTP to an emulator
backed by DuckDB, so login, qmark binding, DESCRIBE and Arrow result batches all take the
connector's own code path. (``fakesnow.patch`` swaps in a fake cursor that has no
``fetch_arrow_batches``, so it cannot exercise the streaming path.)"""

import datetime as dt
import socket
import time
import uuid
from decimal import Decimal

import fakesnow
import pyarrow as pa
import pytest
import snowflake.connector
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from snowflake.connector.cursor import ResultMetadata, SnowflakeCursor
from snowflake.connector.errors import ProgrammingError
from sqlglot import exp

from apps.connectors.registry import ConfigError, parse_config, source_class
from apps.connectors.sources.snowflake import _cast, _target_schema
from apps.connectors.sql_guard import QueryTimeoutError, UnsafeQueryError

# fakesnow's own internals warn about an extra copy; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")
ROWS = 5000


@pytest.fixture(scope="module")
def server():
    with fakesnow.server() as kwargs:
        yield kwargs


@pytest.fixture(scope="module")
def config(server):
    # One database per test module: fakesnow's server keeps one in-memory store for all sessions.
    database = f"SYNCLINE_{uuid.uuid4().hex[:8].upper()}"
    con = snowflake.connector.connect(**server, database=database, schema="PUBLIC")
    with con.cursor() as cur:
        cur.execute(
            "CREATE TABLE people (id INT, name VARCHAR, amount NUMBER(10,2), seen TIMESTAMP_NTZ, "
            "born DATE, score FLOAT, active BOOLEAN)"
        )
        cur.execute(
            "INSERT INTO people SELECT seq4() + 1, 'n' || (seq4() + 1), (seq4() + 1) / 100, "
            "'2024-01-01 12:00:00'::timestamp_ntz, '2024-01-02'::date, (seq4() + 1) / 2, seq4() % 2 = 0 "
            f"FROM TABLE(GENERATOR(ROWCOUNT => {ROWS}))"
        )
        cur.execute("INSERT INTO people (id) VALUES (0)")
    con.close()
    return {
        "account": server["account"],
        "user": server["user"],
        "password": server["password"],
        "database": database,
        "schema": "PUBLIC",
        "warehouse": "COMPUTE_WH",
        "base_url": f"{server['protocol']}://{server['host']}:{server['port']}",
    }


def make_source(config, **extra):
    return source_class("snowflake")(parse_config("source", "snowflake", {**config, **extra}))


@pytest.fixture
def source(config):
    return make_source(config)


def test_streams_arrow_batches_with_one_schema(source):
    batches = list(source.stream("SELECT * FROM people ORDER BY id", batch_size=1000))
    assert sum(b.num_rows for b in batches) == ROWS + 1
    assert len(batches) >= 6 and max(b.num_rows for b in batches) <= 1000
    expected = pa.schema(
        [
            ("ID", pa.int64()),
            ("NAME", pa.string()),
            ("AMOUNT", pa.decimal128(10, 2)),
            ("SEEN", pa.timestamp("us")),
            ("BORN", pa.date32()),
            ("SCORE", pa.float64()),
            ("ACTIVE", pa.bool_()),
        ]
    )
    assert all(b.schema == expected for b in batches)
    first, second = pa.Table.from_batches(batches).slice(0, 2).to_pylist()
    # SEEN is left out: fakesnow sends a NULL TIMESTAMP_NTZ as 1970-01-01 (its own limitation).
    first.pop("SEEN")
    assert first == {"ID": 0, "NAME": None, "AMOUNT": None, "BORN": None, "SCORE": None, "ACTIVE": None}
    assert second["NAME"] == "n1" and second["AMOUNT"] == Decimal("0.01")
    assert second["SEEN"] == dt.datetime(2024, 1, 1, 12) and second["BORN"] == dt.date(2024, 1, 2)


def test_params_bind_to_qmark_placeholders(source):
    placeholder = exp.Placeholder().sql(dialect=source.dialect)
    assert placeholder == "?"
    sql = (
        f"SELECT id FROM people WHERE id BETWEEN {placeholder} AND {placeholder} AND name LIKE 'n1%' "
        "ORDER BY id"
    )
    (batch,) = source.stream(sql, params=[10, 13])
    assert batch.column("ID").to_pylist() == [10, 11, 12, 13]


def test_chunks_sized_differently_are_cast_to_one_schema():
    # The real service sends a NUMBER(38,0) chunk as int8 or int16… depending on its values, and
    # field metadata; fakesnow always sends int64, so this is checked on hand-made chunks.
    description = [
        ResultMetadata("ID", 0, None, None, 38, 0, True),
        ResultMetadata("AMOUNT", 0, None, None, 10, 2, True),
    ]
    chunk = pa.table(
        {
            "ID": pa.array([1, 2], pa.int8()),
            "AMOUNT": pa.array([Decimal("1.50"), None], pa.decimal128(38, 2)),
        }
    )
    target = _target_schema(chunk.schema, description)
    assert target == pa.schema([("ID", pa.int64()), ("AMOUNT", pa.decimal128(10, 2))])
    assert _cast(chunk, target).to_pylist() == [
        {"ID": 1, "AMOUNT": Decimal("1.50")},
        {"ID": 2, "AMOUNT": None},
    ]
    too_big = pa.table(
        {"ID": pa.array([Decimal(10**30)], pa.decimal128(38, 0)), "AMOUNT": chunk["AMOUNT"][:1]}
    )
    with pytest.raises(ValueError, match="CAST the column"):
        _cast(too_big, target)


def test_columns_from_describe(source):
    cols = source.columns("SELECT id, name, amount, seen FROM people;")
    assert [(c.name, c.type) for c in cols] == [
        ("ID", "NUMBER(38,0)"),
        ("NAME", "VARCHAR"),
        ("AMOUNT", "NUMBER(10,2)"),
        ("SEEN", "TIMESTAMP_NTZ"),
    ]


def test_empty_result_yields_no_batches(source):
    assert list(source.stream("SELECT * FROM people WHERE id < 0")) == []


def test_guard_refuses_a_write_before_connecting(config, monkeypatch):
    def no_connection(**kwargs):
        raise AssertionError("the guard must refuse before any connection is made")

    monkeypatch.setattr(snowflake.connector, "connect", no_connection)
    source = make_source(config)
    with pytest.raises(UnsafeQueryError, match="DELETE"):
        list(source.stream("DELETE FROM people"))
    with pytest.raises(UnsafeQueryError, match="2 statements"):
        source.columns("SELECT 1; DROP TABLE people")
    with pytest.raises(UnsafeQueryError, match="system"):
        list(source.stream("SELECT SYSTEM$ABORT_SESSION(1)"))


def test_session_carries_the_statement_timeout_and_qmark(config):
    kwargs = make_source(config, timeout_seconds=2.5)._connect_kwargs()
    assert kwargs["session_parameters"]["STATEMENT_TIMEOUT_IN_SECONDS"] == 3
    assert kwargs["paramstyle"] == "qmark"
    assert (kwargs["protocol"], kwargs["host"]) == ("http", "127.0.0.1")


def test_server_timeout_error_becomes_query_timeout_error(config, monkeypatch):
    # fakesnow does not enforce STATEMENT_TIMEOUT_IN_SECONDS: the server's answer is simulated.
    def timed_out(self, *args, **kwargs):
        raise ProgrammingError(
            msg="Statement reached its statement or warehouse timeout of 1 second(s) and was canceled.",
            errno=630,
            sqlstate="57014",
        )

    monkeypatch.setattr(SnowflakeCursor, "execute", timed_out)
    with pytest.raises(QueryTimeoutError, match=r"Snowflake query stopped.*timeout of 1 s"):
        list(make_source(config, timeout_seconds=1).stream("SELECT 1"))


def test_check_ok(source, config):
    result = source.check()
    assert result.ok, result.message
    assert config["account"] in result.message


def test_check_reports_an_unreachable_server(config):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once the socket closes
    source = make_source(config, base_url=f"http://127.0.0.1:{port}", timeout_seconds=2)
    started = time.monotonic()
    result = source.check()
    assert not result.ok and result.message.startswith("Could not connect to Snowflake")
    assert time.monotonic() - started < 30


def test_private_key_pem_is_passed_as_der(config):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cret"),
    ).decode()
    base = {k: v for k, v in config.items() if k != "password"}
    source = make_source(base, private_key=pem, private_key_passphrase="s3cret")
    der = source._connect_kwargs()["private_key"]
    assert serialization.load_der_private_key(der, password=None).private_numbers() == key.private_numbers()
    assert set(source.config.split()[1]) == {"private_key", "private_key_passphrase"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"password": None}, "exactly one of password and private_key"),
        ({"private_key": "-----BEGIN PRIVATE KEY-----"}, "exactly one of password and private_key"),
        ({"base_url": "ftp://host"}, "base_url"),
    ],
)
def test_config_validation(config, extra, message):
    data = {k: v for k, v in {**config, **extra}.items() if v is not None}
    with pytest.raises(ConfigError, match=message):
        parse_config("source", "snowflake", data)
