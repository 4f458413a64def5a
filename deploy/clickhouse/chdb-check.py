#!/usr/bin/env python3
"""Runs schema.sql, loads modsniff NDJSON files as ship.sh does, and runs queries.sql on a
current ClickHouse embedded in-process (PyPI's chdb): the check that what 18.16 takes, a
current server takes too, with the same answers.

    chdb-check.py FILE...      prints {"version": ..., "rows": {...}, "answers": {name: [row, ...]}}

Exit status 3 when chdb is not installed (the caller says SKIP).
"""
import json
import os
import sys
import tempfile

try:
    from chdb import session as chs
except ImportError:
    sys.exit(3)

HERE = os.path.dirname(os.path.abspath(__file__))
TABLES = {"connection": "connections", "dns": "dns", "finding": "findings", "stats": "runs"}


def statements(path):
    """The statements of a .sql file, each with the name its `-- name:` comment gives."""
    text = open(path, encoding="utf-8").read()
    out, name, lines = [], None, []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("-- name:"):
            name = s.split(":", 1)[1].strip()
            continue
        if s.startswith("--"):
            continue
        lines.append(line)
        if s.endswith(";"):
            body = "\n".join(lines).strip().rstrip(";").strip()
            if body:
                out.append((name, body))
            name, lines = None, []
    return out


def main():
    with tempfile.TemporaryDirectory() as d:
        sess = chs.Session(d)
        for _, st in statements(os.path.join(HERE, "schema.sql")):
            sess.query(st)
        by_type = {t: [] for t in TABLES}
        for f in sys.argv[1:]:
            with open(f, encoding="utf-8") as fh:
                for line in fh:
                    for t in TABLES:
                        if line.startswith('{"type":"%s",' % t):
                            by_type[t].append(line.rstrip("\n"))
        for t, lines in by_type.items():
            if not lines:
                continue
            data = "\n".join(l.replace("\\", "\\\\") for l in lines) + "\n"
            tsv = os.path.join(d, t + ".tsv")
            with open(tsv, "w", encoding="utf-8") as fh:
                fh.write(data)
            sess.query(
                "INSERT INTO modsniff.%s (raw) SELECT raw FROM file('%s', 'TabSeparated', 'raw String')"
                % (TABLES[t], tsv)
            )
        rows = {}
        for t in TABLES.values():
            rows[t] = json.loads(
                sess.query("SELECT count() AS n, uniqExact(session, seq) AS u, sum(length(raw) + 1) AS b FROM modsniff.%s" % t, "JSONCompact").bytes()
            )["data"][0]
        answers = {}
        for name, st in statements(os.path.join(HERE, "queries.sql")):
            res = sess.query(st, "JSONCompact")
            answers[name] = json.loads(res.bytes())["data"] if res.bytes() else []
        version = sess.query("SELECT version()", "CSV").bytes().decode().strip().strip('"')
        print(json.dumps({"version": version, "rows": rows, "answers": answers}))


main()
