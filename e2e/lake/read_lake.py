"""Reads a StreamForge lake with pyarrow, a Parquet reader independent of the connector, and
prints what it found as one JSON object: row and key counts, rows per partition directory,
the column types, and the row of a chosen key.

    read_lake.py dir <path> [--key K] [--symbol S]
    read_lake.py s3 <endpoint> <bucket> [prefix] [--key K] [--symbol S]   (credentials from
                                      AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)

--symbol reads only that symbol's directories.
"""

import argparse
import json
import os
import sys
from urllib.parse import urlparse

import pyarrow.dataset as ds
import pyarrow.fs as pafs


def open_dataset(args):
    """The lake's data files: the Hive directories (`symbol=.../`) under the root. Other
    top-level folders of the same bucket (graph-builder's `graphs/`, gnn-trainer's `models/`)
    are not part of the dataset."""
    if args.where == "dir":
        fs, root = None, args.path
    else:
        url = urlparse(args.endpoint)
        fs = pafs.S3FileSystem(
            access_key=os.environ.get("AWS_ACCESS_KEY_ID"),
            secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
            endpoint_override=url.netloc,
            scheme=url.scheme or "http",
            region="us-east-1",
        )
        root = "/".join(p for p in (args.bucket, args.prefix.strip("/")) if p)
    if fs is None:
        fs, root = pafs.LocalFileSystem(), os.path.abspath(root)
    base = root.rstrip("/") + "/"
    listed = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    data = []
    for info in listed:
        rel = info.path[len(base):] if info.path.startswith(base) else ""
        parts = rel.split("/")
        if (info.type == pafs.FileType.File and rel.startswith("symbol=")
                and not any(p.startswith((".", "_")) for p in parts)):
            data.append(info.path)
    return ds.dataset(data, filesystem=fs, format="parquet", partitioning="hive",
                      partition_base_dir=root), root


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="where", required=True)
    d = sub.add_parser("dir")
    d.add_argument("path")
    s = sub.add_parser("s3")
    s.add_argument("endpoint")
    s.add_argument("bucket")
    s.add_argument("prefix", nargs="?", default="")
    for p in (d, s):
        p.add_argument("--key")
        p.add_argument("--symbol")
    args = ap.parse_args()

    dataset, root = open_dataset(args)
    # The connector's bookkeeping lives beside the data; a dataset reader skips "_" names.
    files = [f for f in dataset.files if "/_streamforge/" not in f]
    if args.symbol is not None:
        table = dataset.to_table(filter=ds.field("symbol") == args.symbol)
    else:
        table = dataset.to_table()
    keys = table.column("_key").to_pylist() if table.num_rows else []
    per_dir = {}
    if table.num_rows:
        # The period keys a type's grain uses: month=, date=, date=/hour=.
        keys_in_path = [c for c in ("symbol", "type", "month", "date", "hour")
                        if c in table.column_names]
        cols = [table.column(c).to_pylist() for c in keys_in_path]
        for values in zip(*cols):
            k = "/".join(f"{c}={v}" for c, v in zip(keys_in_path, values) if v is not None)
            per_dir[k] = per_dir.get(k, 0) + 1
    row = None
    if args.key is not None and args.key in keys:
        i = keys.index(args.key)
        row = {
            name: (str(v) if v is not None and not isinstance(v, (int, float, bool, str)) else v)
            for name, v in ((n, table.column(n)[i].as_py()) for n in table.column_names)
        }
    json.dump(
        {
            "root": root,
            "files": len(files),
            "rows": table.num_rows,
            "distinct_keys": len(set(keys)),
            "per_dir": per_dir,
            "schema": {f.name: str(f.type) for f in table.schema},
            "row": row,
        },
        sys.stdout,
        sort_keys=True,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
