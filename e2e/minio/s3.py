#!/usr/bin/env python3
"""Minimal S3 client for the local MinIO server, standard library only.

Requests are signed with AWS Signature Version 4 and use path-style URLs
(http://host:port/bucket/key), which is what MinIO serves by default.

    s3.py mb <bucket>              create a bucket (succeeds if it is already yours)
    s3.py ls [bucket [prefix]]     list buckets, or the objects of a bucket
    s3.py put <bucket> <key> <file | ->
    s3.py cat <bucket> <key>       write an object to stdout
    s3.py rm <bucket> <key>

Settings come from the environment:
    S3_ENDPOINT    (default http://127.0.0.1:9000)
    S3_ACCESS_KEY, S3_SECRET_KEY   (required)
    S3_REGION      (default us-east-1)
"""

import datetime
import hashlib
import hmac
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


class S3Error(Exception):
    def __init__(self, status, code, message):
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code


def _sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def _quote(value, safe):
    return urllib.parse.quote(value, safe=safe)


class Client:
    def __init__(self, endpoint, access_key, secret_key, region):
        parsed = urllib.parse.urlsplit(endpoint)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"S3_ENDPOINT must look like http://host:port, not {endpoint!r}")
        self.scheme = parsed.scheme
        self.host = parsed.netloc
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region

    def _signed_headers(self, method, path, query, payload_hash, now):
        amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        day = now.strftime("%Y%m%d")
        headers = {
            "host": self.host,
            "x-amz-content-sha256": payload_hash,
            "x-amz-date": amz_date,
        }
        canonical_query = "&".join(
            f"{_quote(k, '-_.~')}={_quote(v, '-_.~')}" for k, v in sorted(query.items())
        )
        names = sorted(headers)
        canonical_headers = "".join(f"{n}:{headers[n].strip()}\n" for n in names)
        signed_names = ";".join(names)
        canonical_request = "\n".join(
            [method, path, canonical_query, canonical_headers, signed_names, payload_hash]
        )
        scope = f"{day}/{self.region}/s3/aws4_request"
        string_to_sign = "\n".join(
            ["AWS4-HMAC-SHA256", amz_date, scope, _sha256_hex(canonical_request.encode("utf-8"))]
        )
        key = _hmac(("AWS4" + self.secret_key).encode("utf-8"), day)
        for part in (self.region, "s3", "aws4_request"):
            key = _hmac(key, part)
        signature = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
            f"SignedHeaders={signed_names}, Signature={signature}"
        )
        return headers, canonical_query

    def request(self, method, bucket="", key="", query=None, body=b""):
        query = query or {}
        path = "/"
        if bucket:
            path += _quote(bucket, "")
            if key:
                path += "/" + _quote(key, "/-_.~")
        now = datetime.datetime.now(datetime.timezone.utc)
        headers, canonical_query = self._signed_headers(
            method, path, query, _sha256_hex(body), now
        )
        url = f"{self.scheme}://{self.host}{path}"
        if canonical_query:
            url += "?" + canonical_query
        req = urllib.request.Request(url, data=body if body else None, method=method)
        for name, value in headers.items():
            if name != "host":
                req.add_header(name, value)
        if method == "PUT":
            req.add_header("content-length", str(len(body)))
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            data = err.read()
            code, message = "", data.decode("utf-8", "replace").strip()
            try:
                root = ET.fromstring(data)
                code = root.findtext("Code") or ""
                message = root.findtext("Message") or message
            except ET.ParseError:
                pass
            raise S3Error(err.code, code, message) from None


def _text(elem, name):
    return elem.findtext(S3_NS + name) or elem.findtext(name) or ""


def cmd_mb(client, bucket):
    body = b""
    if client.region != "us-east-1":
        body = (
            '<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<LocationConstraint>{client.region}</LocationConstraint>"
            "</CreateBucketConfiguration>"
        ).encode("utf-8")
    try:
        client.request("PUT", bucket, body=body)
        print(f"bucket {bucket}: created")
    except S3Error as err:
        if err.code == "BucketAlreadyOwnedByYou":
            print(f"bucket {bucket}: already exists")
        else:
            raise


def cmd_ls(client, bucket=None, prefix=""):
    if not bucket:
        _, data = client.request("GET")
        root = ET.fromstring(data)
        for b in root.iter(S3_NS + "Bucket"):
            print(f"{_text(b, 'CreationDate')}  {_text(b, 'Name')}")
        return
    token = None
    while True:
        query = {"list-type": "2", "prefix": prefix}
        if token:
            query["continuation-token"] = token
        _, data = client.request("GET", bucket, query=query)
        root = ET.fromstring(data)
        for c in root.iter(S3_NS + "Contents"):
            print(f"{_text(c, 'LastModified')}  {_text(c, 'Size'):>12}  {_text(c, 'Key')}")
        if _text(root, "IsTruncated") != "true":
            return
        token = _text(root, "NextContinuationToken")


def cmd_put(client, bucket, key, source):
    if source == "-":
        body = sys.stdin.buffer.read()
    else:
        with open(source, "rb") as f:
            body = f.read()
    client.request("PUT", bucket, key, body=body)
    print(f"s3://{bucket}/{key}: {len(body)} bytes")


def cmd_cat(client, bucket, key):
    _, data = client.request("GET", bucket, key)
    sys.stdout.buffer.write(data)


def cmd_rm(client, bucket, key):
    client.request("DELETE", bucket, key)


COMMANDS = {"mb": (cmd_mb, 1, 1), "ls": (cmd_ls, 0, 2), "put": (cmd_put, 3, 3),
            "cat": (cmd_cat, 2, 2), "rm": (cmd_rm, 2, 2)}


def main(argv):
    if len(argv) < 2 or argv[1] not in COMMANDS:
        sys.stderr.write(__doc__)
        return 2
    func, least, most = COMMANDS[argv[1]]
    args = argv[2:]
    if not least <= len(args) <= most:
        sys.stderr.write(__doc__)
        return 2
    access_key = os.environ.get("S3_ACCESS_KEY", "")
    secret_key = os.environ.get("S3_SECRET_KEY", "")
    if not access_key or not secret_key:
        sys.stderr.write("s3.py: S3_ACCESS_KEY and S3_SECRET_KEY must be set\n")
        return 2
    try:
        client = Client(os.environ.get("S3_ENDPOINT", "http://127.0.0.1:9000"),
                        access_key, secret_key, os.environ.get("S3_REGION", "us-east-1"))
        func(client, *args)
    except S3Error as err:
        sys.stderr.write(f"s3.py {argv[1]}: {err}\n")
        return 1
    except (urllib.error.URLError, OSError, ValueError) as err:
        sys.stderr.write(f"s3.py {argv[1]}: {err}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
