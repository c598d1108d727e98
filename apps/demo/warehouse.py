"""Builds the demo warehouse: a DuckDB file with realistic, slightly dirty CRM data.

Generated inside DuckDB from ``range()`` and deterministic hashes, so it takes a second and is
the same on every machine. Dirty rows are deliberate — they are what a reverse ETL tool must handle:
malformed emails, customers with a NULL key, and duplicate keys.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

# Bump when the tables change: an older file is rebuilt, a current one is left alone.
WAREHOUSE_VERSION = "3"

CUSTOMERS = 50_000
ACCOUNTS = 5_000
EVENTS = 200_000

BUILD_SQL = f"""
CREATE SCHEMA analytics;

CREATE TABLE analytics.accounts AS
SELECT
    printf('ACC-%05d', i) AS account_id,
    list_extract(['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark', 'Wayne', 'Wonka',
                  'Tyrell', 'Cyberdyne', 'Soylent', 'Vandelay'], 1 + i % 12)
        || ' ' || list_extract(['Labs', 'Systems', 'Group', 'Holdings', 'Analytics', 'Foods',
                                'Logistics', 'Health'], 1 + (i // 12) % 8) || ' ' || i AS name,
    'acct' || i || '.example.com' AS domain,
    list_extract(['software', 'financial_services', 'healthcare', 'retail', 'manufacturing',
                  'education', 'media', 'other'], 1 + (hash(i) % 8)::INT) AS industry,
    list_extract(['free', 'starter', 'growth', 'enterprise'], 1 + (hash(i * 7) % 4)::INT) AS plan,
    (5 + hash(i * 13) % 5000)::INTEGER AS employees,
    round((hash(i * 17) % 50000000) / 100.0 + 10000, 2)::DECIMAL(14, 2) AS annual_revenue,
    (hash(i * 19) % 10) <> 0 AS is_active,
    DATE '2018-01-01' + ((hash(i * 23) % 2500)::INTEGER) AS customer_since,
    TIMESTAMP '2026-01-01 00:00:00' + to_seconds((hash(i * 29) % 25000000)::BIGINT) AS updated_at
FROM range(1, {ACCOUNTS} + 1) t(i);

CREATE TABLE analytics.customers AS
WITH base AS (
    SELECT
        i,
        list_extract(['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Margaret', 'Linus',
                      'Radia', 'Ken', 'Frances', 'John', 'Katherine', 'Dennis', 'Hedy', 'Tim'],
                     1 + (hash(i) % 16)::INT) AS first_name,
        list_extract(['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Hamilton',
                      'Torvalds', 'Perlman', 'Thompson', 'Allen', 'McCarthy', 'Johnson', 'Ritchie',
                      'Lamarr', 'Berners-Lee'], 1 + (hash(i * 3) % 16)::INT) AS last_name
    FROM range(1, {CUSTOMERS} + 1) t(i)
)
SELECT
    -- about 0.2% of rows have no key: they must land in the DLQ, not vanish
    CASE WHEN i % 500 = 0 THEN NULL ELSE printf('CUS-%06d', i) END AS customer_id,
    printf('ACC-%05d', 1 + (hash(i * 5) % {ACCOUNTS})::INT) AS account_id,
    CASE
        WHEN i % 250 = 7 THEN lower(first_name) || '.' || i || '@@example'        -- malformed
        WHEN i % 250 = 11 THEN lower(first_name) || ' ' || lower(last_name) || '@example.com'
        ELSE lower(first_name) || '.' || lower(replace(last_name, '-', '')) || '.' || i || '@example.com'
    END AS email,
    first_name,
    last_name,
    CASE WHEN i % 3 = 0 THEN NULL ELSE '+1 415 555 ' || printf('%04d', i % 10000) END AS phone,
    list_extract(['US', 'GB', 'DE', 'FR', 'NL', 'CA', 'AU', 'JP'], 1 + (hash(i * 11) % 8)::INT) AS country,
    list_extract(['subscriber', 'lead', 'marketingqualifiedlead', 'salesqualifiedlead',
                  'opportunity', 'customer'], 1 + (hash(i * 31) % 6)::INT) AS lifecycle_stage,
    (hash(i * 37) % 101)::INTEGER AS lead_score,
    round((hash(i * 41) % 2500000) / 100.0, 2)::DECIMAL(12, 2) AS lifetime_value,
    (hash(i * 43) % 20) = 0 AS do_not_email,
    DATE '2024-01-01' + ((hash(i * 47) % 900)::INTEGER) AS signed_up_at,
    TIMESTAMP '2026-06-01 00:00:00' + to_seconds((hash(i * 53) % 15000000)::BIGINT) AS updated_at
FROM base;

-- duplicate keys: 25 customers appear twice with a different email
INSERT INTO analytics.customers
SELECT customer_id, account_id, 'dup.' || email, first_name, last_name, phone, country,
       lifecycle_stage, lead_score, lifetime_value, do_not_email, signed_up_at, updated_at
FROM analytics.customers WHERE customer_id IS NOT NULL AND hash(customer_id) % 2000 = 0 LIMIT 25;

CREATE TABLE analytics.product_events AS
SELECT
    printf('EVT-%07d', i) AS event_id,
    printf('CUS-%06d', 1 + (hash(i) % {CUSTOMERS})::INT) AS customer_id,
    list_extract(['signed_in', 'viewed_dashboard', 'created_report', 'invited_teammate',
                  'exported_csv', 'upgraded_plan'], 1 + (hash(i * 3) % 6)::INT) AS event_name,
    TIMESTAMP '2026-09-01 00:00:00' + to_seconds((hash(i * 7) % 7000000)::BIGINT) AS occurred_at
FROM range(1, {EVENTS} + 1) t(i);

CREATE VIEW analytics.customer_activity AS
SELECT c.customer_id, c.email, c.first_name, c.last_name, c.lifecycle_stage, c.lead_score,
       a.domain AS company_domain, count(e.event_id) AS events_30d, max(e.occurred_at) AS last_seen_at
FROM analytics.customers c
LEFT JOIN analytics.accounts a USING (account_id)
LEFT JOIN analytics.product_events e ON e.customer_id = c.customer_id
GROUP BY ALL;

CREATE TABLE syncline_meta AS SELECT '{WAREHOUSE_VERSION}' AS version;
"""


def warehouse_is_current(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            row = con.execute("SELECT version FROM syncline_meta").fetchone()
    except duckdb.Error:
        return False
    return row is not None and row[0] == WAREHOUSE_VERSION


def build_demo_warehouse(path: Path) -> bool:
    """Create the demo warehouse at ``path`` unless a current one is there. True if built."""
    if warehouse_is_current(path):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    with duckdb.connect(str(tmp)) as con:
        con.execute(BUILD_SQL)
        con.execute("CHECKPOINT")
    tmp.replace(path)  # atomic: a reader never sees a half-built warehouse
    Path(str(path) + ".wal").unlink(missing_ok=True)
    return True
