"""One owner for the vector files: start a ``chroma run`` server on a data dir and record its address
there (``chroma-server.json``), so that every process opening that data dir talks to it.

``scripts/run.sh`` uses it beside the page:

    python -m retrieval.chroma_server start   # prints "URL PID started|running"
    python -m retrieval.chroma_server stop PID

The server is started while holding the index's writer lock (``Store.write_lock``): an ingest that
opened embedded Chroma before the server existed finishes first, and every ingest after it finds the
record. ``NEWSQA_DATA_DIR`` (or ``--data-dir``) selects the data dir.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from retrieval.cli_common import settings_from_flags
from retrieval.settings import Settings
from retrieval.store import SERVER_RECORD, Store, heartbeat, local_server, record_pid

START_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(settings: Settings) -> tuple[str, int, bool]:
    """(url, pid, started): the server owning ``settings.data_dir`` — the recorded one if it runs,
    else a new ``chroma run --path DATA_DIR/chroma`` on 127.0.0.1 (``started`` True)."""
    data_dir = settings.data_dir.resolve()
    store = Store(settings)
    with store.write_lock(on_wait=lambda message: print(f"[chroma] {message}", file=sys.stderr, flush=True)):
        url = local_server(data_dir)
        if url:
            pid = record_pid(data_dir)
            assert pid is not None
            return url, pid, False
        chroma = Path(sys.executable).parent / "chroma"
        if not chroma.exists():
            raise RuntimeError(f"the chroma executable is missing next to {sys.executable}: run ./scripts/setup.sh")
        (data_dir / "chroma").mkdir(parents=True, exist_ok=True)
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        log = (data_dir / "chroma-server.log").open("ab")
        proc = subprocess.Popen(
            [str(chroma), "run", "--path", str(data_dir / "chroma"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not heartbeat(url, timeout=1.0):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"chroma run did not start; see {data_dir / 'chroma-server.log'}")
            time.sleep(0.2)
        record = data_dir / SERVER_RECORD
        partial = record.with_suffix(".tmp")
        partial.write_text(json.dumps({"url": url, "pid": proc.pid, "path": str(data_dir / "chroma")}))
        partial.replace(record)
        store.catalog.close()
        return url, proc.pid, True


def stop(settings: Settings, pid: int) -> None:
    """Stop the server ``pid`` and remove its record (a record naming another process is kept)."""
    data_dir = settings.data_dir.resolve()
    if record_pid(data_dir) == pid:
        (data_dir / SERVER_RECORD).unlink(missing_ok=True)
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m retrieval.chroma_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["start", "stop"])
    parser.add_argument("pid", nargs="?", type=int, help="stop: the server's process id")
    parser.add_argument("--data-dir", type=Path, help="the index folder (default: NEWSQA_DATA_DIR or ./.newsqa)")
    args = parser.parse_args(argv)
    settings = settings_from_flags(args.data_dir)
    if args.command == "start":
        try:
            url, pid, started = start(settings)
        except Exception as exc:
            print(f"[chroma] could not start a Chroma server: {exc}", file=sys.stderr)
            return 1
        print(url, pid, "started" if started else "running")
        return 0
    if args.pid is None:
        parser.error("stop needs the server's PID")
    stop(settings, args.pid)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
