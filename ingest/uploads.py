"""What a browser upload must pass before it is saved or ingested: :func:`check_upload` (one file) and
:class:`UploadLedger` (each owner's bytes in the last hour, SQLite at ``Settings.upload_ledger_path``);
where an accepted one is saved (:func:`save_uploads`: a folder per owner), and the whole upload
(:func:`ingest_uploads`: check, charge, save, ingest, and the charge taken back for a file the ingest refused).

A refused file is reported with its name and the reason and nothing else happens to it: it is not
written to disk, not ingested, and does not count against the budget; nor does a file that passed these
checks but whose ingest put nothing in the index. Checks, cheapest first: type by
extension, size per file (NEWSQA_UPLOAD_MAX_MB, and the loaders' own limit per type:
``ingest.loaders.size_limit``), compressed or archive content (zip, gzip, bzip2, xz, 7z, zstd, rar — a
zip bomb never reaches a decompressor), PDF magic, then for text formats: text the loaders cannot read
(NUL bytes, an unknown encoding: ``ingest.loaders.decode_text``), control characters, the longest line.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.loaders import SUPPORTED, size_limit, size_refusal
from retrieval.access import LOCAL_OWNER
from retrieval.settings import Settings
from retrieval.sqlite import SQLiteDB

if TYPE_CHECKING:
    from ingest.pipeline import Progress
    from retrieval.store import Store

# Every type the loaders read, with its dot (Streamlit reads a bare "text" as any text/* file).
UPLOAD_TYPES = sorted(SUPPORTED)
HOUR_S = 3600.0
MB = 1_000_000

# Leading bytes of compressed or archive formats, none of which is an article.
_MAGIC = [
    (b"PK\x03\x04", "a zip archive"), (b"PK\x05\x06", "a zip archive"), (b"PK\x07\x08", "a zip archive"),
    (b"\x1f\x8b", "gzip-compressed"), (b"BZh", "bzip2-compressed"), (b"\xfd7zXZ\x00", "xz-compressed"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"), (b"\x28\xb5\x2f\xfd", "zstd-compressed"),
    (b"Rar!\x1a\x07", "a RAR archive"), (b"\x04\x22\x4d\x18", "lz4-compressed"),
]
_CONTROL = frozenset(range(32)) - {9, 10, 12, 13}  # tab, line feed, form feed, carriage return allowed
CONTROL_SHARE = 0.01  # more control characters than this share of the text: not an article


def _mb(n: float) -> str:
    return f"{n / MB:.1f} MB"


def size_text(settings: Settings) -> str:
    """The largest file an upload may be, in words for the upload form: NEWSQA_UPLOAD_MAX_MB, and the
    loaders' own limit per kind of file where that is lower."""
    cap = settings.upload_max_mb * MB
    lower = [f"{kind} {limit // MB} MB" for kind, suffix in (("text, HTML and feed files", ".txt"), ("PDFs", ".pdf"))
             if (limit := size_limit(suffix)) is not None and limit < cap]
    return f"Up to {settings.upload_max_mb} MB per file" + (f" ({'; '.join(lower)})" if lower else "")


def check_upload(name: str, data: bytes, settings: Settings) -> str | None:
    """Why the uploaded file ``name`` with content ``data`` is refused, or None when it may be ingested."""
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_TYPES:
        return f"the type {suffix or '(none)'} is not an article format ({', '.join(UPLOAD_TYPES)})"
    limit = settings.upload_max_mb * MB
    if len(data) > limit:
        return f"it is {_mb(len(data))}; the limit per file is {settings.upload_max_mb} MB (NEWSQA_UPLOAD_MAX_MB)"
    article_limit = size_limit(suffix)  # the loaders' own: a file they refuse is not saved or charged
    if article_limit is not None and len(data) > article_limit:
        return f"it is {_mb(len(data))}; {size_refusal(article_limit)}"
    head = data[:8]
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return f"it is {what}, not an article; upload the article files themselves"
    if suffix == ".pdf":
        if b"%PDF-" not in data[:1024]:
            return "it has the .pdf extension but is not a PDF (no %PDF- header)"
        return None
    from ingest.loaders import decode_text  # the loaders' own reading: what passes here, they can read

    if not data.strip():
        return "the file is empty"
    try:
        text = decode_text(data)
    except ValueError as exc:
        return f"it is not readable text: {exc}"
    if text:
        controls = sum(text.count(chr(c)) for c in _CONTROL)
        if controls > CONTROL_SHARE * len(text):
            return f"it is not text ({controls} control characters in {len(text)})"
    longest = max((len(line) for line in text.splitlines()), default=0)
    if longest > settings.upload_max_line_chars:
        return (
            f"it has a line of {longest:,} characters; the limit is {settings.upload_max_line_chars:,} "
            "(NEWSQA_UPLOAD_MAX_LINE_CHARS)"
        )
    return None


def _upload_name(name: str) -> str:
    """The file name an upload is saved under: the browser's name without any folder, unusual characters
    replaced (a name is never a path)."""
    base = re.sub(r"[^\w.\- ]", "_", Path(name).name).strip(" .") or "upload"
    return base[:150]


def upload_folder(settings: Settings, owner: str) -> Path:
    """``data_dir/uploads`` for the local user, ``data_dir/uploads/<readable owner>-<hash>`` for each other
    owner (so one user's ``notes.md`` never replaces another's)."""
    folder = settings.data_dir / "uploads"
    if owner != LOCAL_OWNER:  # a readable name, and a hash so that two owners never share a folder
        digest = hashlib.sha256(owner.encode()).hexdigest()[:10]
        readable = re.sub(r"[^\w.@-]", "_", owner)[:60]
        folder = folder / f"{readable}-{digest}"
    return folder


def save_uploads(settings: Settings, owner: str, accepted: list[tuple[str, bytes]]) -> list[Path]:
    """Write the ``accepted`` uploads ((name, content), as :meth:`UploadLedger.admit` gives them) into
    ``owner``'s :func:`upload_folder`; their paths, to ingest. A file of the same name replaces the owner's
    earlier one, so its article is updated."""
    folder = upload_folder(settings, owner)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in accepted:
        path = folder / _upload_name(name)
        path.write_bytes(data)
        paths.append(path)
    return paths


@dataclass(frozen=True)
class Refused:
    name: str
    reason: str


LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    owner TEXT NOT NULL,
    at REAL NOT NULL,
    bytes INTEGER NOT NULL,
    name TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_owner_at ON uploads(owner, at);
"""


class UploadLedger(SQLiteDB):
    """Bytes each owner uploaded, so the hourly budget holds across sessions and restarts."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, LEDGER_SCHEMA, busy_timeout_s=30)

    def used(self, owner: str, now: float | None = None) -> int:
        """Bytes ``owner`` uploaded in the hour before ``now``."""
        since = (time.time() if now is None else now) - HOUR_S
        rows = self._query("SELECT COALESCE(SUM(bytes), 0) AS n FROM uploads WHERE owner = ? AND at > ?",
                           (owner, since))
        return int(rows[0]["n"])

    def refund(self, owner: str, name: str, size: int) -> None:
        """Take back the charge :meth:`admit` made for ``owner``'s latest upload ``name`` of ``size`` bytes
        (the ingest refused it: nothing of it is in the index)."""
        with self.transaction() as db:
            db.execute("DELETE FROM uploads WHERE rowid = (SELECT rowid FROM uploads WHERE owner = ? AND name = ? "
                       "AND bytes = ? ORDER BY at DESC LIMIT 1)", (owner, name, size))

    def admit(
        self, owner: str, files: list[tuple[str, bytes]], settings: Settings, now: float | None = None
    ) -> tuple[list[tuple[str, bytes]], list[Refused]]:
        """The files that pass :func:`check_upload` and fit ``owner``'s hourly budget (recorded as used),
        and the refused ones with their reasons. Budget check and record are one transaction."""
        now = time.time() if now is None else now
        budget = settings.upload_hour_mb * MB
        accepted: list[tuple[str, bytes]] = []
        refused: list[Refused] = []
        with self.transaction() as db:
            db.execute("DELETE FROM uploads WHERE at <= ?", (now - HOUR_S,))  # older than the window
            row = db.execute("SELECT COALESCE(SUM(bytes), 0) AS n FROM uploads WHERE owner = ?", (owner,)).fetchone()
            used = int(row["n"])
            for name, data in files:
                reason = check_upload(name, data, settings)
                if reason is None and used + len(data) > budget:
                    reason = (
                        f"it is {_mb(len(data))} and {_mb(used)} of the hourly upload budget of "
                        f"{settings.upload_hour_mb} MB is used (NEWSQA_UPLOAD_HOUR_MB); try again later"
                    )
                if reason is not None:
                    refused.append(Refused(name, reason))
                    continue
                used += len(data)
                db.execute("INSERT INTO uploads(owner, at, bytes, name) VALUES (?, ?, ?, ?)",
                           (owner, now, len(data), name))
                accepted.append((name, data))
        return accepted, refused


def ingest_uploads(
    settings: Settings, owner: str, files: list[tuple[str, bytes]], *, store: Store, ledger: UploadLedger,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The page's upload, whole: ``files`` ((name, content)) checked and charged (``ledger.admit``), the
    accepted ones saved (:func:`save_uploads`) and ingested as ``python -m ingest`` does, and the charge
    taken back for each file the ingest refused (nothing of it is in the index: no article text, every
    record failed, already indexed from elsewhere), or for all of them when the ingest failed (raised).
    The ingest report's JSON, with the refused files among ``failed`` and the uploaded names in ``files``."""
    from ingest.loaders import recorded_path
    from ingest.pipeline import IngestReport, ingest

    accepted, refused = ledger.admit(owner, files, settings)
    report = IngestReport()
    if accepted:
        paths = save_uploads(settings, owner, accepted)
        try:
            report = ingest([str(path) for path in paths], settings, store=store, progress=progress)
        except Exception:  # e.g. an index of another embedding model, a disk full: nothing was read
            for name, data in accepted:
                ledger.refund(owner, name, len(data))
            raise
        for (name, data), path in zip(accepted, paths, strict=True):
            if not store.catalog.has_source(str(recorded_path(str(path)))):
                ledger.refund(owner, name, len(data))
    result = report.to_json()
    result["failed"] = [{"source": r.name, "reason": r.reason} for r in refused] + result["failed"]
    result["files"] = [name for name, _ in files]
    return result
