"""The embedded log: one SQLite file in WAL mode holding topics, records, consumer positions,
processor state and timers, so that a processor's outputs, state and new position are written
in one transaction.

Durability (``synchronous``): ``full`` (default) fsyncs the WAL at every commit, so a confirmed
append survives a process kill and a power cut; ``normal`` survives a process kill but may lose
the last commits on power loss; ``off`` is for throw-away benchmarks only.
Several processes may open the same file; SQLite's write lock serialises the writers and offsets
are read inside the write transaction, never from a cache. Inside one process, the connections to
one file take a shared in-process write lock first, so that they queue fairly instead of
sleeping in SQLite's busy handler. A writer waits at most ``lock_timeout_s`` (default 1 s) for
either lock; then, as for a full disk or an I/O error, the write raises ``StoreUnavailable``: the
caller answers "send again later" (MLLP AR, HTTP 503) and supervised tasks pause and retry.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Literal

import orjson

from hub.errors import LogClosed, LogError, StoreUnavailable
from hub.streams.log import Append, Appended, Positions, Record, partition_for

Durability = Literal["full", "normal", "off"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS topics (
    id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, partitions INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS partition_ends (
    topic_id INTEGER NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic_id, partition)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    topic_id INTEGER NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
    key TEXT NOT NULL, value BLOB NOT NULL, ts_ms INTEGER NOT NULL, headers BLOB,
    UNIQUE (topic_id, partition, offset));
CREATE TABLE IF NOT EXISTS positions (
    consumer TEXT NOT NULL, topic_id INTEGER NOT NULL, partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL, PRIMARY KEY (consumer, topic_id, partition)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (
    store TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (store, key));
CREATE TABLE IF NOT EXISTS timers (
    store TEXT NOT NULL, key TEXT NOT NULL, due_ms INTEGER NOT NULL,
    PRIMARY KEY (store, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS timers_due ON timers (store, due_ms);
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '1');
"""


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class _WriteLock:
    """The write lock of one file: a thread lock for the connections of this process, then an
    ``flock`` on ``<file>.write`` for the hub's other processes (the processors' own). A waiter
    wakes within a fraction of a millisecond of the release, where SQLite's busy handler would
    sleep for up to 100 ms at a time; SQLite's own lock still guards against everyone else."""

    def __init__(self, path: Path) -> None:
        self._thread = threading.Lock()
        self._path = path.with_name(path.name + ".write")
        self._fd: int | None = None

    def acquire(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if not self._thread.acquire(timeout=timeout):
            return False
        try:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
            while True:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        self._thread.release()
                        return False
                    time.sleep(0.0002)
        except OSError:  # no lock file (a read-only folder): SQLite's lock alone
            return True

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread.release()


_WRITE_LOCKS: dict[str, _WriteLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock(path: Path) -> _WriteLock:
    """The write lock of one file, shared by every connection of this process to it."""
    key = str(path.resolve())
    with _WRITE_LOCKS_GUARD:
        if key not in _WRITE_LOCKS:
            _WRITE_LOCKS[key] = _WriteLock(path.resolve())
        return _WRITE_LOCKS[key]


class SqliteLog:
    """The log port on one SQLite file. Thread-safe: one connection guarded by a lock."""

    def __init__(
        self,
        path: str | Path,
        *,
        default_partitions: int = 4,
        durability: Durability = "full",
        clock_ms: Callable[[], int] = _wall_ms,
        lock_timeout_s: float = 1.0,
        read_only: bool = False,
    ) -> None:
        self.path = Path(path)
        self.default_partitions = default_partitions
        self.durability: Durability = durability
        self.lock_timeout_s = lock_timeout_s
        self._clock_ms = clock_ms
        self._lock = threading.RLock()
        self._topics: dict[str, tuple[int, int]] = {}
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        uri = f"file:{self.path}?mode=ro" if read_only else f"file:{self.path}"
        try:
            self._db: sqlite3.Connection | None = sqlite3.connect(
                uri, uri=True, isolation_level=None, check_same_thread=False
            )
            db = self._db
            db.execute(f"PRAGMA busy_timeout = {int(lock_timeout_s * 1000)}")
            if not read_only:
                db.execute("PRAGMA journal_mode = WAL")
                db.execute(f"PRAGMA synchronous = {durability.upper()}")
                # Fewer, larger checkpoints and a bigger page cache: measured in bench/.
                db.execute("PRAGMA wal_autocheckpoint = 16384")
                db.execute("PRAGMA cache_size = -65536")
                db.execute("PRAGMA mmap_size = 268435456")
                db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise LogError(f"cannot open the log at {self.path}: {exc}") from exc
        self._write = _write_lock(self.path)

    # ── plumbing ────────────────────────────────────────────────────────────────────────────

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise LogClosed("the log is closed")
        return self._db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> SqliteLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self) -> AbstractContextManager[_Transaction]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT); rolled back on any exception."""
        return self._begin(_Transaction)

    @contextmanager
    def _begin(self, make: Callable[[SqliteLog], _Transaction]) -> Iterator[_Transaction]:
        with self._lock:
            db = self.db
            if not self._write.acquire(self.lock_timeout_s):
                raise StoreUnavailable("the log is locked by another writer of the hub")
            try:
                try:
                    db.execute("BEGIN IMMEDIATE")
                except sqlite3.Error as exc:
                    raise _store_error("cannot begin a write transaction", exc) from exc
                tx = make(self)
                try:
                    yield tx
                    db.execute("COMMIT")
                except BaseException as exc:
                    if db.in_transaction:
                        with contextlib.suppress(sqlite3.Error):
                            db.execute("ROLLBACK")
                    self._topics.clear()  # a topic created in the rolled-back transaction is gone
                    if isinstance(exc, sqlite3.Error):
                        raise _store_error("the write was not stored", exc) from exc
                    raise
            finally:
                self._write.release()

    def _topic(self, name: str, *, create: bool, partitions: int | None = None) -> tuple[int, int]:
        found = self._topics.get(name)
        if found is not None:
            return found
        row = self.db.execute("SELECT id, partitions FROM topics WHERE name = ?", (name,)).fetchone()
        if row is None:
            if not create:
                return (-1, 0)
            count = partitions or self.default_partitions
            cur = self.db.execute(
                "INSERT INTO topics (name, partitions) VALUES (?, ?)", (name, count)
            )
            row = (cur.lastrowid, count)
        self._topics[name] = (int(row[0]), int(row[1]))
        return self._topics[name]

    # ── topics ──────────────────────────────────────────────────────────────────────────────

    def create_topic(self, topic: str, partitions: int | None = None) -> int:
        """Create a topic if missing; returns its partition count (an existing count wins)."""
        with self.transaction():
            return self._topic(topic, create=True, partitions=partitions)[1]

    def mirror_topic(self, topic: str, partitions: int) -> None:
        """A topic mirrored from another log gets that log's partition count: created with it,
        or adopted while the local topic holds no records. A topic that holds records under
        another count raises LogError (the source was re-created; rebuild the mirror)."""
        with self.transaction():
            topic_id, count = self._topic(topic, create=True, partitions=partitions)
            if count == partitions:
                return
            if self.db.execute("SELECT 1 FROM records WHERE topic_id = ? LIMIT 1", (topic_id,)).fetchone():
                raise LogError(f"mirror: {topic} has {partitions} partitions at the source, {count} here")
            self.db.execute("UPDATE topics SET partitions = ? WHERE id = ?", (partitions, topic_id))
            self._topics[topic] = (topic_id, partitions)

    def partitions(self, topic: str) -> int:
        with self._lock:
            return self._topic(topic, create=False)[1]

    def topics(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self.db.execute("SELECT name FROM topics ORDER BY name")]

    # ── writes ──────────────────────────────────────────────────────────────────────────────

    def append(self, records: Sequence[Append]) -> list[Appended]:
        with self.transaction() as tx:
            return tx.append(records)

    # ── reads ───────────────────────────────────────────────────────────────────────────────

    def read(self, topic: str, partition: int, offset: int, limit: int) -> list[Record]:
        with self._lock:
            topic_id, _ = self._topic(topic, create=False)
            if topic_id < 0:
                return []
            rows = self.db.execute(
                "SELECT offset, key, value, ts_ms, headers FROM records "
                "WHERE topic_id = ? AND partition = ? AND offset >= ? ORDER BY offset LIMIT ?",
                (topic_id, partition, offset, limit),
            ).fetchall()
        return [
            Record(topic, partition, o, k, v, ts, _decode_headers(h)) for o, k, v, ts, h in rows
        ]

    def end_offset(self, topic: str, partition: int) -> int:
        with self._lock:
            topic_id, _ = self._topic(topic, create=False)
            row = self.db.execute(
                "SELECT next_offset FROM partition_ends WHERE topic_id = ? AND partition = ?",
                (topic_id, partition),
            ).fetchone()
        return int(row[0]) if row else 0

    def count(self, topic: str) -> int:
        """Records in a topic (all partitions)."""
        with self._lock:
            topic_id, _ = self._topic(topic, create=False)
            row = self.db.execute(
                "SELECT COALESCE(SUM(next_offset), 0) FROM partition_ends WHERE topic_id = ?",
                (topic_id,),
            ).fetchone()
        return int(row[0])

    def query(self, sql: str, params: Sequence[object] = ()) -> list[dict[str, object]]:
        """Rows of a read-only query over the projections' tables, as dicts."""
        with self._lock:
            cur = self.db.execute(sql, tuple(params))
            names = [c[0] for c in cur.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def read_one(self, topic: str, partition: int, offset: int) -> Record | None:
        """The record at one position, if any."""
        found = self.read(topic, partition, offset, 1)
        return found[0] if found and found[0].offset == offset else None

    def positions(self, consumer: str) -> Positions:
        with self._lock:
            rows = self.db.execute(
                "SELECT t.name, p.partition, p.next_offset FROM positions p "
                "JOIN topics t ON t.id = p.topic_id WHERE p.consumer = ?",
                (consumer,),
            ).fetchall()
        return Positions({(t, p): o for t, p, o in rows})

    def get_state(self, store: str, key: str) -> bytes | None:
        with self._lock:
            row = self.db.execute(
                "SELECT value FROM state WHERE store = ? AND key = ?", (store, key)
            ).fetchone()
        return bytes(row[0]) if row else None

    def get_states(self, store: str, keys: Sequence[str]) -> dict[str, bytes]:
        """Many states at once (missing keys are absent from the result)."""
        out: dict[str, bytes] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = list(keys[i : i + 500])
                marks = ",".join("?" * len(chunk))
                rows = self.db.execute(
                    f"SELECT key, value FROM state WHERE store = ? AND key IN ({marks})",  # noqa: S608
                    (store, *chunk),
                ).fetchall()
                out.update((k, bytes(v)) for k, v in rows)
        return out

    def scan_states(self, store: str) -> Iterator[tuple[str, bytes]]:
        with self._lock:
            rows = self.db.execute(
                "SELECT key, value FROM state WHERE store = ? ORDER BY key", (store,)
            ).fetchall()
        for key, value in rows:
            yield key, bytes(value)

    def due_timers(self, store: str, until_ms: int, limit: int) -> list[tuple[str, int]]:
        with self._lock:
            rows = self.db.execute(
                "SELECT key, due_ms FROM timers WHERE store = ? AND due_ms <= ? "
                "ORDER BY due_ms, key LIMIT ?",
                (store, until_ms, limit),
            ).fetchall()
        return [(k, int(d)) for k, d in rows]

    def next_timer(self, store: str) -> int | None:
        """Earliest due time of a store's timers, in epoch milliseconds."""
        with self._lock:
            row = self.db.execute(
                "SELECT MIN(due_ms) FROM timers WHERE store = ?", (store,)
            ).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def reset(self, consumer: str, stores: Sequence[str], *, keep_as: str | None = None) -> None:
        """Forget a consumer's positions, states and timers. With ``keep_as``, its positions are
        first kept under that name (the highest of the old and the kept one)."""
        with self.transaction():
            if keep_as is not None:
                self.db.execute(
                    "INSERT INTO positions (consumer, topic_id, partition, next_offset) "
                    "SELECT ?, topic_id, partition, next_offset FROM positions WHERE consumer = ? "
                    "ON CONFLICT (consumer, topic_id, partition) DO UPDATE SET "
                    "next_offset = MAX(next_offset, excluded.next_offset)", (keep_as, consumer))
            self.db.execute("DELETE FROM positions WHERE consumer = ?", (consumer,))
            for store in stores:
                self.db.execute("DELETE FROM state WHERE store = ?", (store,))
                self.db.execute("DELETE FROM timers WHERE store = ?", (store,))


class _Transaction:
    """Writes inside one SqliteLog transaction (see LogTransaction)."""

    def __init__(self, log: SqliteLog) -> None:
        self._log = log
        self._db = log.db
        self._ends: dict[tuple[int, int], int] = {}

    @property
    def db(self) -> sqlite3.Connection:
        """The connection, for projections that write their own tables in this transaction."""
        return self._db

    def append(self, records: Sequence[Append]) -> list[Appended]:
        log, db = self._log, self._db
        now = log._clock_ms()
        rows = []
        out = []
        ends = self._ends
        for rec in records:
            topic_id, count = log._topic(rec.topic, create=True)
            partition = partition_for(rec.key, count)
            tp = (topic_id, partition)
            offset = ends.get(tp)
            if offset is None:
                row = db.execute(
                    "SELECT next_offset FROM partition_ends WHERE topic_id = ? AND partition = ?",
                    tp,
                ).fetchone()
                offset = int(row[0]) if row else 0
            ends[tp] = offset + 1
            ts = rec.timestamp_ms if rec.timestamp_ms is not None else now
            headers = orjson.dumps([[k, v.hex()] for k, v in rec.headers]) if rec.headers else None
            rows.append((topic_id, partition, offset, rec.key, rec.value, ts, headers))
            out.append(Appended(rec.topic, partition, offset))
        db.executemany(
            "INSERT INTO records (topic_id, partition, offset, key, value, ts_ms, headers) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        db.executemany(
            "INSERT INTO partition_ends (topic_id, partition, next_offset) VALUES (?, ?, ?) "
            "ON CONFLICT (topic_id, partition) DO UPDATE SET next_offset = excluded.next_offset",
            [(t, p, o) for (t, p), o in ends.items()],
        )
        return out

    def put_records(self, records: Sequence[Record]) -> None:
        """Store records at the partitions and offsets they already have (a mirror of another
        log, e.g. Kafka): a record already present is kept, and each partition's end moves past
        the highest offset stored. The topic must exist with the source's partition count."""
        log, db = self._log, self._db
        rows: list[tuple[int, int, int, str, bytes, int, bytes | None]] = []
        ends: dict[tuple[int, int], int] = {}
        for rec in records:
            topic_id, count = log._topic(rec.topic, create=False)
            if topic_id < 0 or rec.partition >= count:
                raise LogError(f"mirror: topic {rec.topic} partition {rec.partition} is not in this log")
            headers = orjson.dumps([[k, v.hex()] for k, v in rec.headers]) if rec.headers else None
            rows.append((topic_id, rec.partition, rec.offset, rec.key, rec.value, rec.timestamp_ms, headers))
            tp = (topic_id, rec.partition)
            ends[tp] = max(ends.get(tp, 0), rec.offset + 1)
        db.executemany(
            "INSERT OR IGNORE INTO records (topic_id, partition, offset, key, value, ts_ms, headers) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        db.executemany(
            "INSERT INTO partition_ends (topic_id, partition, next_offset) VALUES (?, ?, ?) "
            "ON CONFLICT (topic_id, partition) DO UPDATE SET "
            "next_offset = MAX(next_offset, excluded.next_offset)",
            [(t, p, o) for (t, p), o in ends.items()])
        self._ends.clear()

    def commit_positions(self, consumer: str, positions: Positions) -> None:
        rows = []
        for (topic, partition), offset in positions.offsets.items():
            topic_id, _ = self._log._topic(topic, create=True)
            rows.append((consumer, topic_id, partition, offset))
        self._db.executemany(
            "INSERT INTO positions (consumer, topic_id, partition, next_offset) VALUES (?,?,?,?) "
            "ON CONFLICT (consumer, topic_id, partition) DO UPDATE SET next_offset = excluded.next_offset",
            rows,
        )

    def get_state(self, store: str, key: str) -> bytes | None:
        """A state as this transaction sees it (its own writes included)."""
        row = self._db.execute("SELECT value FROM state WHERE store = ? AND key = ?", (store, key)).fetchone()
        return bytes(row[0]) if row else None

    def put_states(self, store: str, items: Sequence[tuple[str, bytes | None]]) -> None:
        self._db.executemany(
            "INSERT INTO state (store, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
            [(store, k, v) for k, v in items if v is not None],
        )
        self._db.executemany(
            "DELETE FROM state WHERE store = ? AND key = ?",
            [(store, k) for k, v in items if v is None],
        )

    def put_timers(self, store: str, items: Sequence[tuple[str, int | None]]) -> None:
        self._db.executemany(
            "INSERT INTO timers (store, key, due_ms) VALUES (?, ?, ?) "
            "ON CONFLICT (store, key) DO UPDATE SET due_ms = excluded.due_ms",
            [(store, k, d) for k, d in items if d is not None],
        )
        self._db.executemany(
            "DELETE FROM timers WHERE store = ? AND key = ?",
            [(store, k) for k, d in items if d is None],
        )


_STORE_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR,
                sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PROTOCOL}


def _store_error(what: str, exc: sqlite3.Error) -> LogError:
    """Translate SQLite's error: a store that refuses for now (lock, full disk, I/O) is
    ``StoreUnavailable`` (retry later); anything else is a LogError."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc).lower()
    if primary in _STORE_CODES or any(w in text for w in ("locked", "full", "disk i/o", "busy")):
        return StoreUnavailable(f"{what}: {exc}", retry_after=1.0)
    return LogError(f"{what}: {exc}")


def _decode_headers(raw: bytes | None) -> tuple[tuple[str, bytes], ...]:
    if not raw:
        return ()
    return tuple((k, bytes.fromhex(v)) for k, v in orjson.loads(raw))
