"""Server mode: ingest into a real ``chroma run`` server (NEWSQA_CHROMA_URL), incrementally."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import article_text, check_index, close_store, closed_port, wait_for, write_articles

from ingest.pipeline import ingest
from retrieval.settings import Settings
from retrieval.store import Embedder, Store

CHROMA = Path(sys.executable).parent / "chroma"


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    if not CHROMA.exists():
        pytest.fail(f"the chroma executable is missing next to {sys.executable}: reinstall chromadb")
    port = closed_port()
    log = (tmp_path / "chroma.log").open("w")
    proc = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(tmp_path / "chroma-server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    (tmp_path / "chroma-server.pid").write_text(str(proc.pid))

    def up() -> bool:
        if proc.poll() is not None:
            return True
        try:
            return httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        assert wait_for(up, timeout=60, interval=0.2) and proc.poll() is None, (tmp_path / "chroma.log").read_text()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.mark.slow
def test_ingest_into_a_chroma_server(tmp_path: Path, chroma_server: str, embedder: Embedder) -> None:
    settings = Settings(data_dir=tmp_path / "data", chroma_url=chroma_server)
    store = Store(settings, embedder=embedder)
    paths = write_articles(tmp_path / "news", 4)
    report = ingest([str(tmp_path / "news")], settings, store=store)
    assert (report.added, report.failed) == (4, [])
    by_article = check_index(store)
    assert store.collection.count() == report.chunks == sum(len(v) for v in by_article.values())
    assert not settings.chroma_dir.exists(), "server mode wrote an embedded Chroma"
    assert (tmp_path / "chroma-server").is_dir()

    again = ingest([str(tmp_path / "news")], settings, store=store)
    assert (again.unchanged, again.chunks) == (4, 0)

    paths[0].write_text(article_text(0).replace("Residents", "Axolotlmere residents"))
    paths[1].unlink()
    third = ingest([str(tmp_path / "news")], settings, store=store, sync=True)
    assert (third.updated, third.deleted, third.unchanged) == (1, 1, 2)
    check_index(store)
    assert store.collection.get(where_document={"$contains": "Axolotlmere"})["ids"]

    # A second client (another app machine) sees the same vectors through the server.
    other = Store(settings, embedder=embedder)
    assert other.collection.count() == store.collection.count()
    close_store(store)
    close_store(other)


@pytest.mark.slow
def test_two_indexes_on_one_server_never_share_a_collection(
    tmp_path: Path, chroma_server: str, embedder: Embedder
) -> None:
    """Two data dirs on one server wrote into one collection: the second's ingest mixed its vectors in,
    its --rebuild dropped the first's (437 → 65 vectors), and the first, re-ingested, called everything
    unchanged. Now the collection names its catalog; the other index is stopped with a clear error."""
    from retrieval.store import IndexMismatchError

    first = Settings(data_dir=tmp_path / "first", chroma_url=chroma_server)
    store = Store(first, embedder=embedder)
    report = ingest([str(p) for p in write_articles(tmp_path / "news", 3)], first, store=store)
    before = store.collection.count()
    assert report.added == 3 and before == report.chunks

    second = Settings(data_dir=tmp_path / "second", chroma_url=chroma_server)
    other = Store(second, embedder=embedder)
    for rebuild in (False, True):
        with pytest.raises(IndexMismatchError, match=r"belongs to another index.*NEWSQA_COLLECTION"):
            ingest([str(tmp_path / "news")], second, store=other, rebuild=rebuild)
    assert store.collection.count() == before
    check_index(store)

    own = Settings(data_dir=tmp_path / "second", chroma_url=chroma_server, collection="second-index")
    mine = Store(own, embedder=embedder)  # a first build with --rebuild: no collection yet to check or drop
    assert ingest([str(tmp_path / "news")], own, store=mine, rebuild=True).added == 3
    assert store.collection.count() == before and mine.collection.count() == before
    for opened in (store, other, mine):
        close_store(opened)


@pytest.mark.slow
def test_a_chroma_server_under_a_path_is_reached_there(tmp_path: Path, chroma_server: str, embedder: Embedder) -> None:
    """`NEWSQA_CHROMA_URL=http://host/chroma` (a server behind a proxy) lost its path: every call went to
    http://host/api/… and failed with 404."""
    import threading
    import urllib.error
    import urllib.request
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Proxy(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            if not self.path.startswith("/chroma/"):
                self.send_error(404)
                return
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            request = urllib.request.Request(chroma_server + self.path[len("/chroma"):], data=body,
                                             method=self.command, headers=headers)
            try:
                with urllib.request.urlopen(request) as response:
                    code, data, kind = response.status, response.read(), response.headers.get("Content-Type")
            except urllib.error.HTTPError as exc:
                code, data, kind = exc.code, exc.read(), exc.headers.get("Content-Type")
            self.send_response(code)
            self.send_header("Content-Type", kind or "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

        def log_message(self, format: str, *args: object) -> None:
            pass

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        settings = Settings(data_dir=tmp_path / "data", chroma_url=f"http://127.0.0.1:{proxy.server_port}/chroma/")
        store = Store(settings, embedder=embedder)
        report = ingest([str(p) for p in write_articles(tmp_path / "news", 2)], settings, store=store)
        assert report.added == 2 and store.stats()["vectors"] == report.chunks > 0
        close_store(store)
    finally:
        proxy.shutdown()
        proxy.server_close()
