"""The SQL reference: DuckDB running the lakehouse's rules on the same landing files, writing each table as Parquet
under ``<out>/<entity>/<zone>/``. On one machine it is the practical floor.

    python -m benchmarks.duckdb_reference --landing DIR --out DIR

It reads flat landing files (``<entity>/landing/*.json``) with every line good, as the benchmark's are.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb

LANDING = {
    "customer": {
        "customerName": "VARCHAR",
        "email": "VARCHAR",
        "phone": "VARCHAR",
        "birthDay": "VARCHAR",
        "serialNumber": "VARCHAR",
        "registrationDate": "BIGINT",
        "lastUpdateDate": "BIGINT",
        "shareWithResearchAsOfDate": "BIGINT",
        "shareWithPublicAsOfDate": "BIGINT",
        "shareWithFriendsAsOfDate": "BIGINT",
    },
    "accelerometer": {"user": "VARCHAR", "timestamp": "BIGINT", "x": "DOUBLE", "y": "DOUBLE", "z": "DOUBLE"},
    "step_trainer": {"sensorReadingTime": "BIGINT", "serialNumber": "VARCHAR", "distanceFromObject": "BIGINT"},
}

_CUSTOMER_COLUMNS = ", ".join(f'"{name}" ASC NULLS FIRST' for name in LANDING["customer"])

TABLES = {
    # Each email's current record (latest lastUpdateDate, then registrationDate; a tie goes to the record without
    # consent, then to every column in order), kept when it consents.
    ("customer", "trusted"): f"""
        SELECT * FROM customer_landing
        QUALIFY row_number() OVER (
            PARTITION BY email
            ORDER BY "lastUpdateDate" DESC NULLS LAST, "registrationDate" DESC NULLS LAST,
                     "shareWithResearchAsOfDate" ASC NULLS FIRST, {_CUSTOMER_COLUMNS}
        ) = 1 AND "shareWithResearchAsOfDate" IS NOT NULL""",
    ("accelerometer", "trusted"): """
        SELECT DISTINCT * FROM accelerometer_landing WHERE "user" IN (SELECT email FROM customer_trusted)""",
    ("customer", "curated"): """
        SELECT * FROM customer_trusted WHERE email IN (SELECT "user" FROM accelerometer_trusted)""",
    ("step_trainer", "trusted"): """
        SELECT DISTINCT * FROM step_trainer_landing
        WHERE "serialNumber" IN (SELECT "serialNumber" FROM customer_curated)""",
    ("step_trainer", "curated"): """
        SELECT s."sensorReadingTime", s."serialNumber", s."distanceFromObject", a."timestamp", a.x, a.y, a.z
        FROM step_trainer_trusted s JOIN accelerometer_trusted a ON s."sensorReadingTime" = a."timestamp" """,
}
"""Each table by (entity, zone), in the order the jobs write them; its name in SQL is ``<entity>_<zone>``."""


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def run_duckdb(landing_root: str, out: str) -> None:
    """Read the three landing sources, build the five tables and write each to ``<out>/<entity>/<zone>/``."""
    connection = duckdb.connect()
    for entity, columns in LANDING.items():
        files = _quoted(f"{landing_root.rstrip('/')}/{entity}/landing/*.json")
        types = ", ".join(f"{_quoted(name)}: {_quoted(sql_type)}" for name, sql_type in columns.items())
        connection.execute(
            f"CREATE VIEW {entity}_landing AS "
            f"SELECT * FROM read_json({files}, format = 'newline_delimited', columns = {{{types}}})"
        )
    for (entity, zone), query in TABLES.items():
        connection.execute(f"CREATE TABLE {entity}_{zone} AS {query}")
        folder = Path(out) / entity / zone
        folder.mkdir(parents=True, exist_ok=True)
        connection.execute(f"COPY {entity}_{zone} TO {_quoted(str(folder / 'part-0.parquet'))} (FORMAT parquet)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    run_duckdb(args.landing, args.out)


if __name__ == "__main__":
    main()
