"""Saved chat conversations (SQLite at ``Settings.conversations_path``): create, append (one message, or
a question and its answer: ``save_exchange``), list, load, delete.

One small thread-safe class shared by every browser session of the app. Every conversation has an
``owner`` (``retrieval.access``: ``local``, ``token``, ``user:NAME``, ``oidc:EMAIL``, ``public``) and
every call is filtered by it (``owner=`` is a required keyword: a caller that forgets it fails rather than
reading the local user's): a conversation of another owner is as unknown as one that never existed.
Databases from before owners get the column on open, their rows owned by ``local`` (the single user
of a page on 127.0.0.1). A deleted conversation's text is overwritten in the file (``secure_delete``)
and the write-ahead log is checkpointed, so it is gone from disk too. Each assistant message keeps
its whole answer (citations, passages, timings) as JSON, so a reloaded conversation renders exactly
as it did, after a restart too. ``answer_to_record`` / ``answer_from_record`` do that round trip.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from retrieval.sqlite import SQLiteDB
from retrieval.types import Answer, Citation, Passage, Unsupported

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    owner TEXT NOT NULL DEFAULT 'local'
);
CREATE INDEX IF NOT EXISTS conversations_updated ON conversations(updated_at);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content TEXT NOT NULL,
    answer TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_conversation ON messages(conversation_id, id);
"""

TITLE_CHARS = 60
LOCAL_OWNER = "local"  # retrieval.access.LOCAL_OWNER (not imported: access depends on settings only)


@dataclass(frozen=True)
class ConversationSummary:
    id: str
    title: str
    created_at: float
    updated_at: float
    messages: int


@dataclass(frozen=True)
class Message:
    role: str  # "user" or "assistant"
    content: str
    answer: dict[str, Any] | None = None  # answer_to_record() of an assistant message
    created_at: float = 0.0


@dataclass(frozen=True)
class Saved:
    """Where :meth:`Conversations.save_exchange` saved an exchange."""

    conversation_id: str
    restarted: bool = False  # the conversation was gone (deleted in another tab): a new one holds its turns


def title_from_question(question: str, limit: int = TITLE_CHARS) -> str:
    """A one-line title: the question, cut at a word boundary to about ``limit`` characters."""
    text = " ".join(question.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut.rstrip(" ,;:") + "…"


def answer_to_record(answer: Answer) -> dict[str, Any]:
    """Everything needed to render ``answer`` again (JSON-serialisable)."""
    return {
        "text": answer.text,
        "refused": answer.refused,
        "citations": [asdict(c) for c in answer.citations],
        "passages": [asdict(p) for p in answer.passages],
        "unsupported": [Unsupported.from_json(u).to_json() for u in answer.unsupported],
        "question": answer.question,
        "timings": dict(answer.timings),
    }


def _only_known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def answer_from_record(record: dict[str, Any]) -> Answer:
    """The ``Answer`` saved by :func:`answer_to_record` (unknown keys of older/newer versions ignored)."""
    return Answer(
        text=str(record.get("text", "")),
        citations=[Citation(**_only_known(Citation, c)) for c in record.get("citations", [])],
        refused=bool(record.get("refused", False)),
        passages=[Passage(**_only_known(Passage, p)) for p in record.get("passages", [])],
        # {"sentence", "reason"} records; plain sentences in records saved before reasons existed
        unsupported=[Unsupported.from_json(u) for u in record.get("unsupported") or []],
        question=str(record.get("question", "")),
        timings={k: float(v) for k, v in (record.get("timings") or {}).items()},
    )


def _json_or_none(value: str | None) -> dict[str, Any] | None:
    return json.loads(value) if value else None


def _summary(row: sqlite3.Row) -> ConversationSummary:
    return ConversationSummary(
        row["id"], row["title"] or "Untitled", row["created_at"], row["updated_at"], row["n"]
    )


class Conversations(SQLiteDB):
    """The conversation database: one connection, WAL mode, every call serialized by a lock."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, SCHEMA, busy_timeout_s=30, foreign_keys=True)
        with self._lock:
            self._db.execute("PRAGMA secure_delete=ON")
        with self.transaction() as db:
            columns = {r["name"] for r in db.execute("PRAGMA table_info(conversations)")}
            if "owner" not in columns:  # a database from before owners: its rows are the local user's
                db.execute(f"ALTER TABLE conversations ADD COLUMN owner TEXT NOT NULL DEFAULT '{LOCAL_OWNER}'")
            db.execute("CREATE INDEX IF NOT EXISTS conversations_owner ON conversations(owner, updated_at)")

    def create(self, title: str = "", *, owner: str) -> str:
        """A new, empty conversation of ``owner``; returns its id."""
        conversation_id = uuid.uuid4().hex
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO conversations(id, title, created_at, updated_at, owner) VALUES (?, ?, ?, ?, ?)",
                (conversation_id, title, now, now, owner),
            )
        return conversation_id

    def append(
        self, conversation_id: str, role: str, content: str, answer: dict[str, Any] | None = None,
        *, owner: str,
    ) -> int:
        """Add a message; the first user message also names an untitled conversation."""
        if role not in ("user", "assistant"):
            raise ValueError(f"role must be 'user' or 'assistant', but got {role!r}")
        now = time.time()
        with self.transaction() as db:
            row = db.execute(
                "SELECT title FROM conversations WHERE id = ? AND owner = ?", (conversation_id, owner)
            ).fetchone()
            if row is None:
                raise KeyError(f"no conversation with id {conversation_id!r}")
            cursor = db.execute(
                "INSERT INTO messages(conversation_id, role, content, answer, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (conversation_id, role, content, json.dumps(answer) if answer is not None else None, now),
            )
            title = row["title"] or (title_from_question(content) if role == "user" else "")
            db.execute(
                "UPDATE conversations SET updated_at = ?, title = ? WHERE id = ?",
                (now, title, conversation_id),
            )
            return int(cursor.lastrowid or 0)

    def save_exchange(
        self, conversation_id: str | None, question: str, answer_text: str, answer: dict[str, Any] | None,
        *, owner: str, earlier: Sequence[Message] = (),
    ) -> Saved:
        """Save one question and its answer in ``owner``'s conversation ``conversation_id`` (None: a new one),
        in one transaction. When that conversation is gone (deleted in another tab meanwhile), a new one
        holds ``earlier`` (the turns shown before this exchange) and then this exchange, so that the asking
        tab goes on as it shows it, rather than failing to save every question from then on."""
        now = time.time()
        with self.transaction() as db:
            restarted = conversation_id is not None and db.execute(
                "SELECT 1 FROM conversations WHERE id = ? AND owner = ?", (conversation_id, owner)
            ).fetchone() is None
            turns = [(m.role, m.content, m.answer) for m in earlier] if restarted else []
            if conversation_id is None or restarted:
                conversation_id = uuid.uuid4().hex
                db.execute(
                    "INSERT INTO conversations(id, title, created_at, updated_at, owner) VALUES (?, ?, ?, ?, ?)",
                    (conversation_id, "", now, now, owner),
                )
            turns += [("user", question, None), ("assistant", answer_text, answer)]
            for role, content, record in turns:
                if role not in ("user", "assistant"):
                    raise ValueError(f"role must be 'user' or 'assistant', but got {role!r}")
                db.execute(
                    "INSERT INTO messages(conversation_id, role, content, answer, created_at) VALUES (?, ?, ?, ?, ?)",
                    (conversation_id, role, content, json.dumps(record) if record is not None else None, now),
                )
            first = next((content for role, content, _ in turns if role == "user"), "")
            db.execute(
                "UPDATE conversations SET updated_at = ?, title = CASE WHEN title = '' THEN ? ELSE title END "
                "WHERE id = ?",
                (now, title_from_question(first), conversation_id),
            )
        return Saved(conversation_id, restarted)

    def rename(self, conversation_id: str, title: str, *, owner: str) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE conversations SET title = ? WHERE id = ? AND owner = ?", (title.strip(), conversation_id, owner)
            )

    def delete(self, conversation_id: str, *, owner: str) -> bool:
        """Delete a conversation of ``owner`` with its messages, from the file too; False if there was none."""
        with self.transaction() as db:
            found = db.execute(
                "SELECT 1 FROM conversations WHERE id = ? AND owner = ?", (conversation_id, owner)
            ).fetchone()
            if found is None:
                return False
            db.execute("DELETE FROM messages WHERE conversation_id = ?", (conversation_id,))
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        with self._lock:  # the deleted pages were overwritten (secure_delete); now out of the WAL as well
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return True

    def list(self, limit: int = 50, *, owner: str) -> list[ConversationSummary]:
        """``owner``'s conversations that have messages, most recently active first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT c.id, c.title, c.created_at, c.updated_at, COUNT(m.id) AS n FROM conversations c "
                "JOIN messages m ON m.conversation_id = c.id WHERE c.owner = ? GROUP BY c.id "
                "ORDER BY c.updated_at DESC, c.rowid DESC LIMIT ?",
                (owner, limit),
            ).fetchall()
        return [_summary(r) for r in rows]

    def get(self, conversation_id: str, *, owner: str) -> ConversationSummary | None:
        with self._lock:
            r = self._db.execute(
                "SELECT c.id, c.title, c.created_at, c.updated_at, "
                "(SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) AS n "
                "FROM conversations c WHERE c.id = ? AND c.owner = ?",
                (conversation_id, owner),
            ).fetchone()
        return _summary(r) if r is not None else None

    def load(self, conversation_id: str, *, owner: str) -> builtins.list[Message]:
        """The messages of ``owner``'s conversation in order; KeyError for an unknown id (or another's)."""
        with self._lock:
            exists = self._db.execute(
                "SELECT 1 FROM conversations WHERE id = ? AND owner = ?", (conversation_id, owner)
            )
            if exists.fetchone() is None:
                raise KeyError(f"no conversation with id {conversation_id!r}")
            rows = self._db.execute(
                "SELECT role, content, answer, created_at FROM messages "
                "WHERE conversation_id = ? ORDER BY id",
                (conversation_id,),
            ).fetchall()
        return [
            Message(r["role"], r["content"], _json_or_none(r["answer"]), r["created_at"])
            for r in rows
        ]
