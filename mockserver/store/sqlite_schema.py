"""The SQLite store's file layout: its tables and indexes, a task as a row, and bringing an older file up to date.

What a file holds is decided here, once, for every process that opens it: the
tables (created if missing, so any worker may be the first), the columns a
task is found and listed by (kept beside its JSON record, see
:mod:`.sqlite_list`), and the one migration a file made by an older version
needs at open (its tasks' brief columns, filled from their records).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lifecycle.task import Task
from . import codec

if TYPE_CHECKING:
    from .sqlite import SqliteStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    model TEXT NOT NULL,
    call INTEGER NOT NULL,
    submitted_at REAL NOT NULL,
    ended_at REAL NOT NULL,
    canceled INTEGER NOT NULL,
    finished_at REAL NOT NULL,
    api_key_id TEXT,  -- these three and the above are what a task list reads (mockserver.store.sqlite_list),
    scheduled_at REAL,  -- kept before the record: reading them skips no long text (an older file has
    final TEXT,  -- them after it, added by add_brief_columns)
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_by_account ON tasks (account, submitted_at, seq);
CREATE INDEX IF NOT EXISTS tasks_by_lane ON tasks (account, model, ended_at) WHERE call = 0 AND canceled = 0;
CREATE INDEX IF NOT EXISTS tasks_by_end ON tasks (finished_at);
CREATE TABLE IF NOT EXISTS lanes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- lanes are listed in the order they were made
    account TEXT NOT NULL, model TEXT NOT NULL, busy_until REAL NOT NULL, doc TEXT NOT NULL,
    UNIQUE (account, model)
);
CREATE TABLE IF NOT EXISTS hits (key TEXT NOT NULL, n INTEGER NOT NULL, t REAL NOT NULL, lim INTEGER NOT NULL,
                                  PRIMARY KEY (key, n)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (key TEXT PRIMARY KEY, data BLOB NOT NULL, expires_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS uploads_by_expiry ON uploads (expires_at);
CREATE TABLE IF NOT EXISTS owners (seq INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL UNIQUE);  -- with tasks, as first seen
CREATE TABLE IF NOT EXISTS accounts (seq INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL UNIQUE, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS job_books (account TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""
TABLES = ("tasks", "owners", "lanes", "hits", "uploads", "accounts", "job_books")  # what a full reset empties


def task_columns(task: Task) -> tuple[object, ...]:
    """The columns a task is found by, its record, then the rest of its brief."""
    return (int(task.call), task.submitted_at, task.ended_at, int(task.canceled_at is not None), task.finished_at,
            codec.dump_task(task), *_brief_columns(task))


def _brief_columns(task: Task) -> tuple[object, ...]:
    return (task.api_key_id, task.scheduled_at, task.final_status())


def add_brief_columns(store: SqliteStore) -> None:
    """A file made before tasks had brief columns gets them, filled from its records once."""
    db = store._db
    if "final" in {row[1] for row in db.execute("PRAGMA table_info(tasks)")}:
        return
    with store.transaction():
        if "final" in {row[1] for row in db.execute("PRAGMA table_info(tasks)")}:
            return  # another worker added them while this one waited for the lock
        for column in ("api_key_id TEXT", "scheduled_at REAL", "final TEXT"):
            db.execute(f"ALTER TABLE tasks ADD COLUMN {column}")
        last = 0
        while rows := db.execute("SELECT seq, doc FROM tasks WHERE seq > ? ORDER BY seq LIMIT 1000",
                                 (last,)).fetchall():  # a thousand records in memory at a time
            db.executemany("UPDATE tasks SET api_key_id = ?, scheduled_at = ?, final = ? WHERE seq = ?",
                           [(*_brief_columns(codec.load_task(doc)), seq) for seq, doc in rows])
            last = rows[-1][0]
