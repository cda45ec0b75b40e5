"""One SQLite database for the embedded engine: opened once per process, one connection, one lock.

Every conditional write is one `BEGIN IMMEDIATE` transaction under the lock, so a condition read
and the write that depends on it cannot interleave with another thread's. A server holds the
file exclusively (an flock beside it), which is what makes "under the lock" the whole truth.
Its worker processes (functions/local/worker_processes.py) open the same file as guests and share
a process lock with it, taken around every write: SQLite would serialise the writers by itself,
but its busy handler waits by sleeping milliseconds at a time, where a released lock wakes the
next writer at once.
WAL with synchronous=NORMAL: a committed transaction survives a crash of the process (SIGKILL);
only a power loss may drop the last ones.
"""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

from functions.domain.errors import DuetimeError
from functions.ports import StorageUnavailableError

if TYPE_CHECKING:
    from collections.abc import Iterator

# Marks a file as duetime's (PRAGMA application_id), so another program's database is refused.
APPLICATION_ID = 0x64756574  # "duet"
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    wake_at INTEGER,            -- unix µs while some timer must act on it
    list_key TEXT NOT NULL,     -- "<created ISO>#<id>": the newest-first event-log listing
    dlq_key TEXT,               -- "<failed ISO>#<id>" while in the dead-letter queue
    expires_at INTEGER,         -- unix µs after which a finished message is purged
    doc TEXT NOT NULL           -- the message, JSON (functions/adapters/sqlite/codec.py)
);
CREATE INDEX IF NOT EXISTS messages_wake ON messages (wake_at) WHERE wake_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_list ON messages (list_key);
CREATE INDEX IF NOT EXISTS messages_dlq ON messages (dlq_key) WHERE dlq_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_expiry ON messages (expires_at)
    WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS dedup (
    key TEXT PRIMARY KEY,
    message_id TEXT NOT NULL,
    window_ends INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS schedules (
    id TEXT PRIMARY KEY,
    list_key TEXT NOT NULL,
    wake_at INTEGER,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS flows (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS steps (
    flow_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    wake_at INTEGER,
    doc TEXT NOT NULL,
    PRIMARY KEY (flow_id, idx)
);
CREATE INDEX IF NOT EXISTS steps_wake ON steps (wake_at) WHERE wake_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    flow_id TEXT NOT NULL,
    step_id TEXT NOT NULL,
    lease_token TEXT,
    lease_until INTEGER,
    sent_at INTEGER
);
CREATE TABLE IF NOT EXISTS signing_keys (
    id INTEGER PRIMARY KEY CHECK (id = 1),  -- one row, once the keys were first rotated
    doc TEXT NOT NULL                       -- functions.domain.signing.keys_document
);
CREATE TABLE IF NOT EXISTS topics (
    name TEXT PRIMARY KEY,
    updated INTEGER NOT NULL,   -- unix ms: the version a compare-and-set write expects
    doc TEXT NOT NULL           -- functions.domain.topics.topic_document
);
CREATE TABLE IF NOT EXISTS queues (  -- lanes: queues and flow-control keys
    name TEXT PRIMARY KEY,
    parallelism INTEGER,        -- NULL: no limit
    paused INTEGER NOT NULL,    -- 0 or 1
    created INTEGER NOT NULL,   -- unix µs
    updated INTEGER NOT NULL,
    rate INTEGER,               -- admitted per period; NULL: no limit
    period INTEGER NOT NULL DEFAULT 1,  -- seconds
    rate_count INTEGER NOT NULL DEFAULT 0,
    period_start INTEGER,       -- unix µs
    pinned_parallelism INTEGER NOT NULL DEFAULT 0,
    pinned_rate INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS queue_members (
    queue TEXT NOT NULL,
    ord TEXT NOT NULL,          -- functions.domain.queues.Member.order: enqueue order
    message_id TEXT NOT NULL,
    state TEXT NOT NULL,        -- WAITING or ACTIVE
    PRIMARY KEY (queue, ord)
);
CREATE TABLE IF NOT EXISTS kill_switches (
    scope TEXT PRIMARY KEY,
    reason TEXT,
    set_at INTEGER NOT NULL
);
"""

# Long enough for a checkpoint by another process; the process lock keeps writers from meeting.
BUSY_TIMEOUT_MS = 5000


class ProcessLock(Protocol):
    """A lock shared by the processes on one file (functions/local/worker_processes.WriteLock);
    the Database closes it with itself."""

    def __enter__(self) -> object: ...

    def __exit__(self, *exc: object) -> object: ...

    def close(self) -> None: ...


_UNAVAILABLE = {"SQLITE_FULL", "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_READONLY"}


class DatabaseOpenError(DuetimeError):
    """The --db file cannot be used: corrupt, another program's, in use, or not writable."""


class Database:
    """The connection, its lock, and the two ways in: `read()` and `write()`."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        *,
        label: str,
        lock_file: IO[str] | None,
        process_lock: ProcessLock | None = None,
    ):
        self._connection = connection
        self._lock = threading.RLock()
        self._lock_file = lock_file
        self._process_lock = process_lock
        self.label = label

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self._lock, _mapped_errors():
            yield self._connection

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One transaction: committed when the block ends, rolled back if it raises. Nested
        use joins the outer transaction (the lock is re-entrant)."""
        with self._lock, _mapped_errors():
            if self._connection.in_transaction:
                yield self._connection
                return
            with self._process_lock or contextlib.nullcontext():
                self._connection.execute("BEGIN IMMEDIATE")
                try:
                    yield self._connection
                except BaseException:
                    self._connection.rollback()
                    raise
                self._connection.commit()

    def close(self) -> None:
        with self._lock:
            self._connection.close()
            if self._lock_file is not None:
                self._lock_file.close()  # releases the flock
            if self._process_lock is not None:
                self._process_lock.close()


@contextmanager
def _mapped_errors() -> Iterator[None]:
    """SQLite failures a caller can do nothing about now become a 503 that says why."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        name = getattr(exc, "sqlite_errorname", "")
        if name in _UNAVAILABLE or "disk" in str(exc) or "full" in str(exc):
            raise StorageUnavailableError(
                f"the embedded database cannot take writes now ({exc}); nothing was written"
            ) from exc
        raise


def open_database(path: str | None, *, process_lock: ProcessLock | None = None) -> Database:
    """Open (or create) the database at `path`, or an in-memory one for None. `process_lock`
    is taken around every write, with guest processes on the same file (open_guest).

    A file that is not a duetime database, is corrupt, is in use by another process or cannot
    be written is refused with DatabaseOpenError before anything in it is changed."""
    if path is None:
        connection = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        _initialise(connection, label="memory")
        return Database(connection, label="memory", lock_file=None)
    file = Path(path)
    if file.is_dir():
        raise DatabaseOpenError(f"--db {path} is a directory, not a database file")
    if not file.parent.is_dir():
        raise DatabaseOpenError(f"--db {path}: folder {file.parent} does not exist")
    lock_file = _exclusive_lock(file)
    try:
        connection = sqlite3.connect(file, isolation_level=None, check_same_thread=False)
        _initialise(connection, label=str(file))
    except sqlite3.DatabaseError as exc:
        lock_file.close()
        if process_lock is not None:
            process_lock.close()
        raise DatabaseOpenError(
            f"--db {path} is not a usable duetime database ({exc}); it was left unchanged"
        ) from exc
    except DatabaseOpenError:
        lock_file.close()
        if process_lock is not None:
            process_lock.close()
        raise
    return Database(connection, label=str(file), lock_file=lock_file, process_lock=process_lock)


def open_guest(path: str, *, process_lock: ProcessLock) -> Database:
    """The file a server opened (and holds the flock of) from one of its worker processes:
    no flock, no schema, every write under the server's `process_lock`."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    connection.execute("PRAGMA synchronous=NORMAL")
    return Database(connection, label=path, lock_file=None, process_lock=process_lock)


def _exclusive_lock(file: Path) -> IO[str]:
    lock_path = file.with_name(file.name + ".lock")
    try:
        handle = lock_path.open("a")
    except OSError as exc:
        raise DatabaseOpenError(f"--db {file}: cannot create {lock_path} ({exc})") from exc
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.close()
        raise DatabaseOpenError(
            f"--db {file} is in use by another duetime process; stop it or pick another file"
        ) from exc
    return handle


def _initialise(connection: sqlite3.Connection, *, label: str) -> None:
    # Reading first: a file that is not SQLite fails here, before any write.
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if tables and application_id != APPLICATION_ID:
        raise DatabaseOpenError(f"--db {label} holds another program's tables; not touching it")
    if tables:
        check = connection.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise DatabaseOpenError(f"--db {label} is corrupt ({check}); it was left unchanged")
    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA foreign_keys=OFF")
    connection.executescript(SCHEMA)
    connection.execute(f"PRAGMA application_id={APPLICATION_ID}")
    connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
