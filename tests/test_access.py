"""Who may use the page (``retrieval.access``), whose conversations are whose (``retrieval.conversations``)
and which uploads get in (``ingest.uploads``): real settings, real SQLite files in tmp_path."""

from __future__ import annotations

import gzip
import io
import sqlite3
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import pytest

from ingest.uploads import UploadLedger, check_upload
from retrieval.access import AccessError, is_loopback, policy, read_password_file
from retrieval.conversations import LOCAL_OWNER, Conversations
from retrieval.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "correct-horse-battery-staple-42"


# --- access policy ---------------------------------------------------------------------------------
def test_local_by_default_and_exposed_refused_without_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    local = policy(Settings())
    assert (local.mode, local.host, local.exposed, local.uploads, local.owner) == (
        "local", "127.0.0.1", False, True, "local"
    )
    monkeypatch.setenv("NEWSQA_HOST", "0.0.0.0")
    with pytest.raises(AccessError) as refused:
        policy(Settings())
    message = str(refused.value)
    for name in ("NEWSQA_HOST=0.0.0.0", "NEWSQA_ACCESS_TOKEN", "NEWSQA_PASSWORD_FILE", "NEWSQA_NO_AUTH"):
        assert name in message

    monkeypatch.setenv("NEWSQA_NO_AUTH", "1")
    opened = policy(Settings())
    assert (opened.mode, opened.uploads, opened.owner) == ("open", False, "public")  # uploads off by default
    assert "NO access control" in opened.describe()
    monkeypatch.setenv("NEWSQA_UPLOADS", "on")
    assert policy(Settings()).uploads


def test_token_mode_checks_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSQA_HOST", "0.0.0.0")
    monkeypatch.setenv("NEWSQA_ACCESS_TOKEN", "short")
    with pytest.raises(AccessError, match="NEWSQA_ACCESS_TOKEN is 5 characters long; use at least 16"):
        policy(Settings())
    monkeypatch.setenv("NEWSQA_ACCESS_TOKEN", TOKEN)
    access = policy(Settings())
    assert (access.mode, access.uploads, access.owner, access.signs_in) == ("token", False, None, True)
    assert access.owner_for_secret(TOKEN) == "token"
    assert access.owner_for_secret(f" {TOKEN}\n") == "token"
    assert access.owner_for_secret(TOKEN[:-1]) is None
    assert access.owner_for_secret("") is None
    assert TOKEN not in repr(access) and TOKEN not in repr(Settings())
    monkeypatch.setenv("NEWSQA_OIDC", "1")
    with pytest.raises(AccessError, match="NEWSQA_ACCESS_TOKEN and NEWSQA_OIDC are both set"):
        policy(Settings())


def test_password_file_gives_per_user_owners(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    users = tmp_path / "users.txt"
    users.write_text("# name:secret\nalice:alice-secret-0123456789\n\nbob : bob-secret-0123456789xyz\n")
    assert read_password_file(users) == {"alice": "alice-secret-0123456789", "bob": "bob-secret-0123456789xyz"}
    monkeypatch.setenv("NEWSQA_HOST", "0.0.0.0")
    monkeypatch.setenv("NEWSQA_PASSWORD_FILE", str(users))
    access = policy(Settings())
    assert (access.mode, access.uploads) == ("users", True)
    assert access.owner_for_secret("alice-secret-0123456789") == "user:alice"
    assert access.owner_for_secret("bob-secret-0123456789xyz") == "user:bob"
    assert access.owner_for_secret("alice") is None

    for text, expected in [
        ("alice\n", "line 1 is not 'name:secret'"),
        ("alice:tooshort\n", "the secret of 'alice'"),
        ("a:same-secret-0123456789\nb:same-secret-0123456789\n", "line 2: the secret of 'b' is also another user's"),
        ("a:one-secret-0123456789\na:two-secret-0123456789\n", "the name 'a' appears twice"),
        ("# nobody\n", "holds no 'name:secret' line"),
    ]:
        users.write_text(text)
        with pytest.raises(AccessError, match=expected):
            policy(Settings())
    with pytest.raises(AccessError, match="cannot be read"):
        read_password_file(tmp_path / "missing.txt")


def test_loopback_addresses() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.5", "myhost", ""))


def test_access_check_command_for_run_sh(tmp_path: Path) -> None:
    """``python -m retrieval.access check``: what scripts/run.sh runs before it starts anything."""
    base = {"PATH": "/usr/bin:/bin", "NEWSQA_DATA_DIR": str(tmp_path / "data")}

    def check(**env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "retrieval.access", "check"], cwd=ROOT, env=base | env,
                              capture_output=True, text=True, timeout=60)

    ok = check()
    assert ok.returncode == 0, ok.stderr
    first, mode = ok.stdout.splitlines()
    assert first == "127.0.0.1 8501 20"
    assert mode == "listening on 127.0.0.1 (this machine only); no sign-in; uploads on"
    refused = check(NEWSQA_HOST="0.0.0.0")
    assert refused.returncode == 2 and refused.stdout == ""
    assert "newsqa refuses to start: NEWSQA_HOST=0.0.0.0" in refused.stderr and "NEWSQA_ACCESS_TOKEN" in refused.stderr
    exposed = check(NEWSQA_HOST="0.0.0.0", NEWSQA_ACCESS_TOKEN=TOKEN, NEWSQA_PORT="8600")
    assert exposed.returncode == 0, exposed.stderr
    assert exposed.stdout.splitlines()[0] == "0.0.0.0 8600 20"
    assert "reachable from other machines" in exposed.stdout and TOKEN not in exposed.stdout


def test_streamlit_config_is_safe_by_default() -> None:
    """No tracebacks in the page, XSRF protection on, loopback only, uploads capped at the setting's default."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"
    assert config["client"]["toolbarMode"] == "viewer"
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"]["address"] == "127.0.0.1"
    assert config["server"]["maxUploadSize"] == Settings.model_fields["upload_max_mb"].default
    run_sh = (ROOT / "scripts" / "run.sh").read_text()
    assert "--server.address 0.0.0.0" not in run_sh
    assert "retrieval.access check" in run_sh and '--server.maxUploadSize "$max_upload_mb"' in run_sh


# --- conversations by owner ------------------------------------------------------------------------
def test_two_owners_conversations_do_not_mix(tmp_path: Path) -> None:
    store = Conversations(tmp_path / "conversations.sqlite3")
    alice = store.create(owner="user:alice")
    store.append(alice, "user", "Alice asks about tomatoes", owner="user:alice")
    bob = store.create(owner="user:bob")
    store.append(bob, "user", "Bob asks about ferries", owner="user:bob")

    assert [c.title for c in store.list(owner="user:alice")] == ["Alice asks about tomatoes"]
    assert [c.title for c in store.list(owner="user:bob")] == ["Bob asks about ferries"]
    assert store.list(owner=LOCAL_OWNER) == []  # the local user has none
    with pytest.raises(KeyError):
        store.load(alice, owner="user:bob")  # another's conversation is as unknown as a missing one
    with pytest.raises(KeyError):
        store.append(alice, "user", "Bob writes into Alice's", owner="user:bob")
    assert store.get(alice, owner="user:bob") is None
    store.rename(alice, "renamed by bob", owner="user:bob")
    assert not store.delete(alice, owner="user:bob")
    assert [m.content for m in store.load(alice, owner="user:alice")] == ["Alice asks about tomatoes"]
    assert store.get(alice, owner="user:alice").title == "Alice asks about tomatoes"  # type: ignore[union-attr]


def test_delete_removes_the_text_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "conversations.sqlite3"
    store = Conversations(path)
    secret = "Zyxwv private question about my landlord"
    keep = store.create(owner=LOCAL_OWNER)
    store.append(keep, "user", "A question that stays", owner=LOCAL_OWNER)
    gone = store.create(owner=LOCAL_OWNER)
    store.append(gone, "user", secret, owner=LOCAL_OWNER)
    store.append(gone, "assistant", "An answer quoting " + secret, {"text": secret}, owner=LOCAL_OWNER)
    assert store.delete(gone, owner=LOCAL_OWNER)
    assert [c.id for c in store.list(owner=LOCAL_OWNER)] == [keep]
    with pytest.raises(KeyError):
        store.load(gone, owner=LOCAL_OWNER)
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("conversations"))
    assert secret.encode() not in on_disk
    assert b"A question that stays" in on_disk
    store.close()


def test_old_database_is_migrated_to_the_local_owner(tmp_path: Path) -> None:
    path = tmp_path / "conversations.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE conversations (id TEXT PRIMARY KEY, title TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL, updated_at REAL NOT NULL);
        CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant')), content TEXT NOT NULL, answer TEXT,
            created_at REAL NOT NULL);
        INSERT INTO conversations VALUES ('old1', 'Saved before owners', 1.0, 2.0);
        INSERT INTO messages(conversation_id, role, content, created_at) VALUES ('old1', 'user', 'Old q', 1.0);
        """
    )
    db.commit()
    db.close()
    store = Conversations(path)
    assert [c.id for c in store.list(owner=LOCAL_OWNER)] == ["old1"]  # the local user's
    assert store.list(owner="token") == []
    assert [m.content for m in store.load("old1", owner=LOCAL_OWNER)] == ["Old q"]
    store.close()
    Conversations(path).close()  # a second open finds the column and leaves it


# --- uploads ---------------------------------------------------------------------------------------
ARTICLE = b"---\ntitle: Ferries\n---\nThe ferries leave at nine in the morning, the harbour office said.\n"


def _zip(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def test_check_upload_refuses_what_is_not_an_article() -> None:
    settings = Settings(upload_max_mb=1, upload_max_line_chars=5000)
    assert check_upload("ferries.md", ARTICLE, settings) is None
    assert check_upload("accents.txt", "Café déjà vu — « news »\n".encode("cp1252"), settings) is None
    assert check_upload("doc.pdf", b"%PDF-1.7\n" + b"\x00\x01" * 100, settings) is None
    # Whatever the loaders can read passes (they read it the same way): KOI8-R Russian, UTF-16 with its BOM.
    russian = "Москва: цены на хлеб выросли на 12 процентов за год, сообщили в городской администрации.\n"
    assert check_upload("moscow.txt", russian.encode("koi8-r"), settings) is None
    assert check_upload("moscow16.txt", russian.encode("utf-16"), settings) is None

    bomb = _zip("bomb.txt", b"0" * 5_000_000)  # 5 MB of zeros in a few kB
    assert len(bomb) < 20_000
    cases = {
        ("big.txt", b"word " * 250_000): "it is 1.2 MB; the limit per file is 1 MB (NEWSQA_UPLOAD_MAX_MB)",
        ("bomb.md", bomb): "it is a zip archive, not an article",
        ("bomb.json", gzip.compress(b"[" + b"0," * 1_000_000 + b"0]")): "it is gzip-compressed",
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"): "binary file (NUL bytes)",
        ("blob.txt", b"Prices " + bytes([0xD5, 0xE6, 0xFE, 0xC7, 0xDD, 0xF3, 0xE2, 0xD9]) + b" rose."):
            "unknown text encoding",
        ("fake.pdf", b"just text pretending\n"): "not a PDF (no %PDF- header)",
        ("one-line.html", b"<p>" + b"x" * 6000 + b"</p>"): "it has a line of 6,007 characters; the limit is 5,000",
        ("noise.txt", bytes(range(1, 32)) * 20 + b"some text"): "it is not text (",
        ("tool.exe", b"MZ\x90\x00"): "the type .exe is not an article format",
        ("README", b"text"): "the type (none) is not an article format",
    }
    for (name, data), expected in cases.items():
        reason = check_upload(name, data, settings)
        assert reason is not None and expected in reason, (name, reason)


def test_hourly_budget_per_owner(tmp_path: Path) -> None:
    settings = Settings(upload_max_mb=1, upload_hour_mb=1)
    ledger = UploadLedger(tmp_path / "uploads.sqlite3")
    part = b"An article line of text.\n" * 24_000  # 600 kB
    now = time.time()
    accepted, refused = ledger.admit("user:alice", [("a.txt", part), ("b.txt", part)], settings, now=now)
    assert [n for n, _ in accepted] == ["a.txt"]
    assert [r.name for r in refused] == ["b.txt"]
    assert "0.6 MB of the hourly upload budget of 1 MB is used (NEWSQA_UPLOAD_HOUR_MB)" in refused[0].reason
    # A refused file (binary) costs nothing; another owner has a budget of its own.
    _, refused = ledger.admit("user:alice", [("x.txt", b"\x00" * 10)], settings, now=now + 1)
    assert ledger.used("user:alice", now=now + 2) == len(part)
    accepted, _ = ledger.admit("user:bob", [("b.txt", part)], settings, now=now + 2)
    assert len(accepted) == 1
    # An hour later the budget is free again, and it survives a restart (a new ledger on the same file).
    ledger.close()
    again = UploadLedger(tmp_path / "uploads.sqlite3")
    assert again.used("user:alice", now=now + 10) == len(part)
    accepted, refused = again.admit("user:alice", [("b.txt", part)], settings, now=now + 3601)
    assert len(accepted) == 1 and not refused


def test_an_upload_the_loaders_would_refuse_for_size_is_refused_before_it_costs(tmp_path: Path) -> None:
    """NEWSQA_UPLOAD_MAX_MB=50 admitted a 21 MB .txt that the loaders then refuse (their 20 MB): the file
    was charged to the hourly budget and saved first. Now the upload check applies the loaders' own limit."""
    from ingest.loaders import iter_file

    settings = Settings(upload_max_mb=50, upload_hour_mb=100)
    line = b"The council met on Monday and approved the harbour plan, officials said.\n"
    data = line * (21_000_000 // len(line) + 1)
    saved = tmp_path / "report.txt"
    saved.write_bytes(data)
    [loaded] = list(iter_file(saved))
    said = "articles over 20 MB are refused (split it or save it as .jsonl records)"
    assert said in getattr(loaded, "reason", ""), loaded
    reason = check_upload("report.txt", data, settings)
    assert reason == f"it is 21.0 MB; {said}", reason
    ledger = UploadLedger(tmp_path / "uploads.sqlite3")
    accepted, refused = ledger.admit("user:alice", [("report.txt", data)], settings)
    assert not accepted and [r.reason for r in refused] == [reason]
    assert ledger.used("user:alice") == 0  # nothing charged
    # JSON lines are read record by record, whatever the file's size: the upload limit alone holds.
    record = b'{"id": "r%d", "title": "Harbour plan", "text": "The council approved the harbour plan."}\n'
    records = b"".join(record % i for i in range(21_000_000 // len(record) + 1))
    assert check_upload("dump.jsonl", records, settings) is None
    ledger.close()


def test_the_upload_form_says_the_loaders_lower_limit() -> None:
    from ingest.uploads import size_text

    assert size_text(Settings(upload_max_mb=10)) == "Up to 10 MB per file"
    assert size_text(Settings(upload_max_mb=50)) == "Up to 50 MB per file (text, HTML and feed files 20 MB)"
    assert size_text(Settings(upload_max_mb=200)) == "Up to 200 MB per file (text, HTML and feed files 20 MB)"


def test_every_type_the_loaders_read_may_be_uploaded() -> None:
    """The form offered "an RSS/Atom feed" but refused feed.rss (only .xml was on the upload list)."""
    from ingest.loaders import SUPPORTED
    from ingest.uploads import UPLOAD_TYPES

    assert set(UPLOAD_TYPES) == SUPPORTED
    feed = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><title>Harbour plan</title>'
            b"<description>The council approved the harbour plan.</description></item></channel></rss>")
    for name in ("feed.rss", "feed.atom", "notes.markdown", "dump.ndjson", "page.xhtml", "feed.xml"):
        assert check_upload(name, feed, Settings()) is None, name


def test_every_conversation_call_names_its_owner(tmp_path: Path) -> None:
    """``owner`` defaulted to the local user: a caller forgetting it on a signed-in page read and wrote the
    operator's conversations. Now it is a required keyword."""
    store = Conversations(tmp_path / "conversations.sqlite3")
    cid = store.create(owner=LOCAL_OWNER)
    calls = {
        "create": lambda: store.create(),  # type: ignore[call-arg]
        "append": lambda: store.append(cid, "user", "A question"),  # type: ignore[call-arg]
        "rename": lambda: store.rename(cid, "A title"),  # type: ignore[call-arg]
        "list": lambda: store.list(),  # type: ignore[call-arg]
        "get": lambda: store.get(cid),  # type: ignore[call-arg]
        "load": lambda: store.load(cid),  # type: ignore[call-arg]
        "delete": lambda: store.delete(cid),  # type: ignore[call-arg]
    }
    for name, call in calls.items():
        with pytest.raises(TypeError, match="owner"):
            call()
        assert store.get(cid, owner=LOCAL_OWNER) is not None, name
    store.close()


def test_uploads_are_saved_in_a_folder_per_owner(tmp_path: Path) -> None:
    """``save_uploads`` (it was the page's own code): the local user's files in ``uploads/``, each other
    owner's in ``uploads/<readable name>-<hash>/``; a browser's file name is never a path."""
    from ingest.uploads import save_uploads

    settings = Settings(data_dir=tmp_path / "data")
    uploads = settings.data_dir / "uploads"
    mine = save_uploads(settings, LOCAL_OWNER, [("notes.md", b"mine"), ("../../escape.txt", b"up")])
    assert mine == [uploads / "notes.md", uploads / "escape.txt"]
    alice = save_uploads(settings, "user:alice", [("notes.md", b"alice's")])
    evil = save_uploads(settings, "user:alice/../..", [("notes.md", b"not alice's")])
    assert alice[0].parent.parent == evil[0].parent.parent == uploads
    assert alice[0].parent.name.startswith("user_alice-") and alice[0].parent != evil[0].parent
    assert [p.read_bytes() for p in (mine[0], alice[0], evil[0])] == [b"mine", b"alice's", b"not alice's"]
    assert save_uploads(settings, LOCAL_OWNER, [("...", b"x"), ("a<b>:c?.md", b"y")]) == [
        uploads / "upload", uploads / "a_b__c_.md"
    ]
