"""A browser upload as a whole (``ingest.uploads.ingest_uploads``: check, charge, save, ingest) on a real
index (Chroma and catalog in tmp_path, the fake embedder), and the one size limit of an upload."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import article_text
from pydantic import ValidationError

from ingest.loaders import MAX_PDF_BYTES
from ingest.uploads import UploadLedger, ingest_uploads, upload_folder
from retrieval.settings import Settings, describe_invalid
from retrieval.store import Store

OWNER = "user:alice"


def test_an_upload_limit_over_what_the_ingest_reads_is_refused_naming_the_variable() -> None:
    """NEWSQA_UPLOAD_MAX_MB could be set up to 1000 while no loader reads an article file over 200 MB (a PDF):
    such an upload was admitted by the form and then refused."""
    assert Settings(upload_max_mb=MAX_PDF_BYTES // 1_000_000).upload_max_mb == 200
    with pytest.raises(ValidationError) as caught:
        Settings(upload_max_mb=500)
    said = describe_invalid(caught.value)
    assert said.startswith("NEWSQA_UPLOAD_MAX_MB='500': is more than the ingest reads from one article file "
                           "(200 MB, a PDF; text, HTML and feed files 20 MB): give at most 200"), said
    assert said.endswith("(default: 20)."), said


def test_a_file_the_ingest_refuses_is_not_charged_to_the_hourly_budget(fake_store: Store) -> None:
    """Files that pass the upload checks but whose ingest puts nothing in the index (not JSON, no record
    with text) were charged to the owner's hourly budget all the same; a file read (wholly or in part) is."""
    settings = fake_store.settings
    good = article_text(1).encode()
    partly = (json.dumps({"id": "r1", "title": "Harbour plan", "text": article_text(2)}) + "\n"
              + json.dumps({"id": "r2", "title": "No text"}) + "\n").encode()
    broken = b'{"id": "r3", "title": "cut off'
    textless = (json.dumps({"id": "r4", "title": "No text"}) + "\n").encode()
    files = [("good.txt", good), ("partly.jsonl", partly), ("broken.json", broken), ("textless.jsonl", textless)]
    ledger = UploadLedger(settings.upload_ledger_path)
    report = ingest_uploads(settings, OWNER, files, store=fake_store, ledger=ledger)
    assert report["added"] == 2 and report["files"] == [name for name, _ in files]
    failed = {Path(f["source"].split("#")[0]).name for f in report["failed"]}
    assert failed == {"partly.jsonl", "broken.json", "textless.jsonl"}, report["failed"]
    assert ledger.used(OWNER) == len(good) + len(partly)  # the refused two cost nothing
    assert sorted(p.name for p in upload_folder(settings, OWNER).iterdir()) == sorted(n for n, _ in files)
    # The same file again is read (unchanged) and charged again; a refused one is still free.
    again = ingest_uploads(settings, OWNER, [("good.txt", good), ("broken.json", broken)], store=fake_store,
                           ledger=ledger)
    assert again["unchanged"] == 1 and len(again["failed"]) == 1
    assert ledger.used(OWNER) == 2 * len(good) + len(partly)
    ledger.close()


def test_a_file_refused_before_the_ingest_is_reported_and_nothing_is_saved(fake_store: Store) -> None:
    settings = fake_store.settings.model_copy(update={"upload_hour_mb": 1})
    ledger = UploadLedger(settings.upload_ledger_path)
    report = ingest_uploads(settings, OWNER, [("notes.exe", b"MZ"), ("big.txt", b"word word\n" * 120_000)],
                            store=fake_store, ledger=ledger)
    assert (report["added"], [f["source"] for f in report["failed"]]) == (0, ["notes.exe", "big.txt"])
    assert "hourly upload budget" in report["failed"][1]["reason"]
    assert ledger.used(OWNER) == 0 and not upload_folder(settings, OWNER).exists()
    ledger.close()


def test_an_upload_whose_ingest_fails_costs_nothing(fake_store: Store) -> None:
    """An index built with another embedding model: the ingest refuses to write (IndexMismatchError), and
    the upload was charged all the same."""
    from retrieval.store import IndexMismatchError

    fake_store.catalog.set_meta("embedding_model", "another-model")
    ledger = UploadLedger(fake_store.settings.upload_ledger_path)
    with pytest.raises(IndexMismatchError):
        ingest_uploads(fake_store.settings, OWNER, [("good.txt", article_text(1).encode())], store=fake_store,
                       ledger=ledger)
    assert ledger.used(OWNER) == 0
    ledger.close()
