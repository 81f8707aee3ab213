"""A user's query on a StreamForge lake, in DuckDB and in polars: the daily VWAP (volume-weighted
average close) per symbol of a candle type, read as a Hive-partitioned dataset of Parquet files.
Prints one JSON object, {"duckdb": [...], "polars": [...]}, each a list of
[symbol, "YYYY-MM-DD", sum(close*volume) in units of 1e-16, sum(volume) in units of 1e-8, vwap,
the type names the reader gave close, volume and the month key], ordered by symbol and day.

    vwap.py <lake directory> <type>

The queries are the ones docs/sinks.md shows; no column is cast.
"""

import json
import sys
from decimal import Decimal

import duckdb
import polars as pl


def units(d, scale):
    """An exact decimal as an integer count of 10^-scale."""
    return str(int(Decimal(d).scaleb(scale)))


def with_duckdb(root, kind):
    con = duckdb.connect()
    # Days in UTC, whatever the machine's zone (open_time is a UTC timestamp).
    con.execute("SET TimeZone = 'UTC'")
    rows = con.execute(
        f"""
        SELECT symbol,
               CAST(open_time AS DATE)             AS day,
               sum(close * volume)                 AS pv,
               sum(volume)                         AS v,
               sum(close * volume) / sum(volume)   AS vwap
        FROM read_parquet('{root}/symbol=*/type={kind}/month=*/*.parquet',
                          hive_partitioning = true)
        GROUP BY symbol, day
        ORDER BY symbol, day
        """
    ).fetchall()
    types = con.execute(
        f"""
        SELECT typeof(close), typeof(volume), typeof(month)
        FROM read_parquet('{root}/symbol=*/type={kind}/month=*/*.parquet',
                          hive_partitioning = true)
        LIMIT 1
        """
    ).fetchone()
    return [
        [s, str(day), units(pv, 16), units(v, 8), float(vwap), list(types)]
        for s, day, pv, v, vwap in rows
    ]


def with_polars(root, kind):
    lake = pl.scan_parquet(
        f"{root}/symbol=*/type={kind}/month=*/*.parquet", hive_partitioning=True
    )
    daily = (
        lake.group_by("symbol", pl.col("open_time").dt.date().alias("day"))
        .agg(
            pv=(pl.col("close") * pl.col("volume")).sum(),
            v=pl.col("volume").sum(),
        )
        .with_columns(vwap=pl.col("pv") / pl.col("v"))
        .sort("symbol", "day")
        .collect()
    )
    schema = lake.collect_schema()
    types = [str(schema["close"]), str(schema["volume"]), str(schema["month"])]
    return [
        [s, str(day), units(pv, 16), units(v, 8), float(vwap), types]
        for s, day, pv, v, vwap in daily.iter_rows()
    ]


def main():
    root, kind = sys.argv[1].rstrip("/"), sys.argv[2]
    json.dump({"duckdb": with_duckdb(root, kind), "polars": with_polars(root, kind)}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
