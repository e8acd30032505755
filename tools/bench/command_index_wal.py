#!/usr/bin/env python3
"""Bytes an SQLite journal writes for its command-id index, by key order and id shape.

A model of the tables an append touches in strata's SQLite journal (persistence/sqlite_journal.cpp:
the stream row's head, the event row, the (stream, version) index and the `commands` index),
appended in group-commit batches over many streams. Automatic checkpoints are off, so the
write-ahead log ends holding every page each commit wrote: its size is the write volume, which
is what a commit with synchronous=FULL waits for. The figure is deterministic (a seeded
generator, no timing), so it can be compared on a busy machine.

    python3 tools/bench/command_index_wal.py [--appends 60000] [--batch 128] [--streams 1000]
"""
import argparse
import os
import random
import sqlite3
import tempfile
import uuid

LAYOUTS = {
    "none": None,
    "stream_first": "PRIMARY KEY (stream_key, command_id)",
    "id_first": "PRIMARY KEY (command_id, stream_key)",
}


def wal_bytes(directory, layout, ids, appends, batch, streams):
    path = os.path.join(directory, f"{layout}-{ids}.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")  # the bytes written do not depend on it
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("CREATE TABLE streams (stream_key INTEGER PRIMARY KEY, name TEXT UNIQUE, "
               "head_version INTEGER, last_hash TEXT)")
    db.execute("CREATE TABLE events (global_position INTEGER PRIMARY KEY, stream_key INTEGER, "
               "version INTEGER, command_id TEXT, data TEXT, hash TEXT, "
               "UNIQUE (stream_key, version))")
    if LAYOUTS[layout]:
        db.execute("CREATE TABLE commands (stream_key INTEGER NOT NULL, command_id TEXT NOT NULL, "
                   f"first_version INTEGER NOT NULL, {LAYOUTS[layout]}) WITHOUT ROWID")
    db.executemany("INSERT INTO streams VALUES (?, ?, 0, '')",
                   [(k + 1, f"Order-{k}") for k in range(streams)])
    start = os.path.getsize(path + "-wal")
    heads = [0] * streams
    rnd = random.Random(42)
    data, chain = "x" * 200, "h" * 64
    position = 0
    for b in range(appends // batch):
        db.execute("BEGIN IMMEDIATE")
        for i in range(batch):
            n = b * batch + i
            k = rnd.randrange(streams)
            heads[k] += 1
            position += 1
            if ids == "counter":
                command = f"add-{n}"
            else:
                command = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
            db.execute("UPDATE streams SET head_version = ?, last_hash = ? WHERE stream_key = ?",
                       (heads[k], chain, k + 1))
            if LAYOUTS[layout]:
                db.execute("INSERT OR IGNORE INTO commands VALUES (?, ?, ?)",
                           (k + 1, command, heads[k]))
            db.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)",
                       (position, k + 1, heads[k], command if LAYOUTS[layout] else "", data,
                        chain))
        db.execute("COMMIT")
    size = os.path.getsize(path + "-wal") - start
    db.close()
    return size


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--appends", type=int, default=60000)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--streams", type=int, default=1000)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        base = wal_bytes(d, "none", "counter", a.appends, a.batch, a.streams)
        print(f"{'index':14} {'ids':8} {'WAL MB':>8} {'vs none':>8}")
        print(f"{'none':14} {'-':8} {base / 1e6:8.1f} {1.0:8.2f}")
        for layout in ("stream_first", "id_first"):
            for ids in ("counter", "uuid4"):
                size = wal_bytes(d, layout, ids, a.appends, a.batch, a.streams)
                print(f"{layout:14} {ids:8} {size / 1e6:8.1f} {size / base:8.2f}")


if __name__ == "__main__":
    main()
