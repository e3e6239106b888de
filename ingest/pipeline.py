"""``ingest(sources, settings) -> IngestReport``: load, clean, chunk, embed and write, incrementally.

An article is re-embedded only when its cleaned text, metadata or the chunking settings changed
(a content hash per article id, kept in the catalog). What a run may replace or delete:

- a file read whole (no error): its articles this run did not see are deleted (a page cut from a PDF,
  a record removed from a dump), with or without ``sync``;
- a new id with the content of an article whose file is gone: a rename (the old id is deleted);
- an unchanged article read from another source: its new source is recorded (``sync`` of the old
  folder then keeps it);
- a feed entry never replaces an article read from its page or a file with a longer text (it only
  fills in missing metadata);
- an article read from a file the page saved for an upload (``data_dir/uploads/``, one folder per owner)
  replaces only articles recorded from that same folder: never the operator's, nor another user's;
- ``sync``: also the articles of the SOURCES' files or records that are gone;
- ``rebuild``: everything, but only once the SOURCES were read (none missing, something read).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any

from ingest.chunking import Headings, chunk_article, clean_article
from ingest.loaders import (
    FEED_SUFFIXES,
    LoadError,
    UnsupportedFile,
    ids_from_path,
    is_url,
    iter_source,
    recorded_path,
)
from retrieval.settings import Settings
from retrieval.store import Store
from retrieval.types import Article, Chunk

CHUNKER_VERSION = "2"  # bump when chunk boundaries change: every article is re-embedded
EMBED_BATCH_CHUNKS = 512  # chunks encoded per model call (the model batches them by 32 inside)
SPOOL_MEMORY_BYTES = 32_000_000  # articles to embed kept in memory up to this, then in a temporary file

Progress = Callable[[int, int, str], None]  # (done, total, message)
SHOW_DUPLICATES = 10  # repeated records a report names (the CLI's summary, the page's upload report)


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: list[LoadError] = field(default_factory=list)
    duplicates: int = 0  # records repeating an id already seen in this run (first one kept)
    # (source, id, the source that gave the id first) of each of them
    duplicate_sources: list[tuple[str, str, str]] = field(default_factory=list)
    skipped: list[LoadError] = field(default_factory=list)  # files of a folder of a type no loader reads
    renamed: int = 0  # articles found again under a new file name (their old id deleted, not doubled)
    gone: dict[str, int] = field(default_factory=dict)  # without sync: folder -> its articles whose file is gone
    kept_on_failure: int = 0  # with sync: articles not deleted because their source failed to load
    chunks: int = 0  # chunks embedded in this run
    seconds: float = 0.0
    dry_run: bool = False
    chroma: str = ""  # the Chroma server written to ("" for embedded Chroma in the data dir)
    stopped: str = ""  # why the run changed nothing at all (a --rebuild refused); "" when it ran

    @property
    def ok(self) -> bool:
        return not self.failed and not self.stopped

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` shape of DESIGN.md (counts of articles) plus a few extra keys."""
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "failed": [asdict(f) for f in self.failed],
            "duplicates": self.duplicates,
            "duplicate_sources": [{"source": s, "id": i, "first": f} for s, i, f in self.duplicate_sources],
            "skipped": [asdict(f) for f in self.skipped],
            "renamed": self.renamed,
            "gone": dict(self.gone),
            "kept_on_failure": self.kept_on_failure,
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
            "dry_run": self.dry_run,
            "chroma": self.chroma,
        } | ({"error": self.stopped} if self.stopped else {})


def content_hash(article: Article, settings: Settings) -> str:
    payload = json.dumps(
        [
            CHUNKER_VERSION, settings.chunk_tokens, settings.chunk_overlap_sentences,
            article.title, article.url, article.published, article.outlet, list(article.authors), article.text,
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _source_root(source: str) -> str:
    return source.split("#", 1)[0]


def _absolute(source: str) -> str:
    """A source as recorded since session 13 (``loaders.recorded_path``); a URL as is."""
    return source if is_url(source) else str(recorded_path(source))


class _RelativeSources:
    """Articles recorded, before session 13, under a path as typed (relative to the folder that ingest
    ran in, which was not recorded). Read again from the same file, such an article gets its source
    recorded absolute; one whose id came from the relative path (an HTML page without a URL) and whose
    content is the same is replaced by itself under its new id, not doubled. Nothing else is ever
    deleted on such a match: a file of the same name elsewhere is another article.

    "The same file": the relative path as seen from here, else the relative path the absolute source
    ends with ("news/page.html" for /home/me/project/news/page.html) — each only if just one article
    was recorded under it."""

    def __init__(self, known: dict[str, tuple[str | None, str, str]]) -> None:
        self.ids: dict[str, list[str]] = {}  # relative source, normalised -> ids recorded under it
        for aid, (_, _, src) in known.items():
            if src and not is_url(src) and not os.path.isabs(src):
                self.ids.setdefault(self._key(src), []).append(aid)

    @staticmethod
    def _key(source: str) -> str:
        root, hash_, rest = source.partition("#")
        return os.path.normpath(root) + hash_ + rest

    def old_id(self, source: str) -> str | None:
        """The id of the one article recorded under a relative spelling of ``source`` (absolute)."""
        if not self.ids or is_url(source):
            return None
        root, hash_, rest = source.partition("#")
        found = self.ids.get(self._key(os.path.relpath(root) + hash_ + rest), [])
        if not found:
            parts = Path(root).parts[1:]
            found = [i for k in range(1, len(parts) + 1)
                     for i in self.ids.get(os.path.join(*parts[-k:]) + hash_ + rest, [])]
        return found[0] if len(found) == 1 else None


class _SyncScope:
    """What ``--sync`` may delete: articles read from one of the SOURCES of this run — a given file (or
    its records and pages), a file under a given folder (not under a hidden one), or a given URL — and
    nothing else. An article ingested from another folder, or uploaded on the page, stays however
    ``--sync`` is run. Sources are recorded absolute; one recorded as typed by older code (relative) is
    read from the folder the sync runs in, and only when the article's id shows it was that very file
    (``loaders.ids_from_path``); else it is kept."""

    def __init__(self, sources: Iterable[str]) -> None:
        self.urls = {_source_root(s) for s in sources if is_url(s)}
        # Absolute, links not resolved: a file under a linked subfolder is under the folder given.
        self.paths = [recorded_path(s) for s in sources if not is_url(s)]

    def holds(self, source: str, article_id: str) -> bool:
        root = _source_root(source)
        if is_url(root):
            return root in self.urls
        path = recorded_path(root)
        if not os.path.isabs(root) and article_id not in ids_from_path(root, source.partition("#")[2]):
            # Recorded as typed before session 13, perhaps in another folder: unless its id names the file
            # this path is from here, it is not taken for one deleted from SOURCES.
            return False
        # Under a given folder, but not in a hidden folder a folder source never reads (the default index
        # .newsqa holds the page's uploads: `ingest . --sync` must not take them for deleted files).
        return any(path == p or (path.is_relative_to(p) and not any(
            part.startswith(".") for part in path.relative_to(p).parts)) for p in self.paths)


class _Spool:
    """The articles to embed, in the order read, pickled into a temporary file (in memory up to
    ``SPOOL_MEMORY_BYTES``, then on disk beside the index): a first ingest of a large dump holds one
    batch of texts in memory, not the whole dump (docs/results.md, "Ingest at 16×, session 9").
    The file has no name on disk, so a killed run leaves nothing behind. Iterate once; ``with`` closes it."""

    def __init__(self, folder: Path | None) -> None:
        self._folder = str(folder) if folder else None
        self._file: IO[bytes] | None = None
        self.count = 0

    def append(self, item: tuple[Article, Headings, str, bool]) -> None:
        if self._file is None:
            self._file = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed by __exit__
                max_size=SPOOL_MEMORY_BYTES, dir=self._folder, prefix="ingest-todo-"
            )
        pickle.dump(item, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self.count += 1

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[tuple[Article, Headings, str, bool]]:
        if self._file is None:
            return
        self._file.seek(0)
        for _ in range(self.count):
            yield pickle.load(self._file)  # our own records, written just above

    def __enter__(self) -> _Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _is_feed_entry(source: str) -> bool:
    """Whether an article's recorded source names a feed entry (``loaders.feed_to_articles``: the feed's
    URL or file, "#", the entry's position), as opposed to a page, a file, a PDF page or a dump record."""
    root, _, fragment = source.partition("#")
    return fragment.isdigit() and (is_url(root) or Path(root).suffix.lower() in FEED_SUFFIXES)


def _with_feed_metadata(stored: Any, entry: Article) -> Article | None:
    """The article as stored (a catalog row: read from its page or a file), with the metadata it lacks
    taken from a feed entry of it (date, outlet, authors); None when the entry adds nothing."""
    fills: dict[str, Any] = {}
    if not stored["published"] and entry.published:
        fills["published"] = entry.published
    if not stored["outlet"] and entry.outlet:
        fills["outlet"] = entry.outlet
    authors = tuple(json.loads(stored["authors"] or "[]"))
    if not authors and entry.authors:
        fills["authors"] = entry.authors
    if not fills:
        return None
    return Article(**{"id": stored["id"], "title": stored["title"], "text": stored["text"], "url": stored["url"],
                      "published": stored["published"], "outlet": stored["outlet"], "authors": authors,
                      "source": stored["source"], **fills})


def _file_root(source: str) -> str | None:
    """The file an article was recorded from (absolute, as recorded since session 13), or None for a URL,
    a source recorded relative by older code, or none."""
    root = _source_root(source)
    return root if root and not is_url(root) and os.path.isabs(root) else None


def ingest(
    sources: Iterable[str],
    settings: Settings,
    *,
    store: Store | None = None,
    sync: bool = False,
    dry_run: bool = False,
    rebuild: bool = False,
    progress: Progress | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> IngestReport:
    """Bring the index in step with ``sources``. Never raises for bad input: it is reported.

    Writers take turns (``Store.write_lock``): while another ingest (another process, or the page's
    upload) holds the index, this one waits and says so through ``on_wait`` (default: ``progress``).
    A dry run writes nothing and does not wait.

    An upload (a file in the data dir's ``uploads/`` folder, or in an owner's folder in it, where the
    page saves them) never replaces nor renames an article recorded from anywhere but that same folder:
    one that differs is reported as failed ("already indexed from …; not replaced").
    """
    store = store or Store(settings)
    if on_wait is None and progress is not None:
        on_wait = partial(progress, 0, 0)
    sources = list(sources)
    # The spool is closed (its temporary file deleted) however the run ends: an error while reading or
    # writing leaves no file behind, not only a run that reached the embedding step.
    if dry_run:
        with _Spool(None) as todo:
            return _ingest(todo, sources, settings, store, sync, dry_run, rebuild, progress)
    with store.write_lock(on_wait), _Spool(settings.data_dir) as todo:
        return _ingest(todo, sources, settings, store, sync, dry_run, rebuild, progress)


def _ingest(
    todo: _Spool,
    sources: list[str],
    settings: Settings,
    store: Store,
    sync: bool,
    dry_run: bool,
    rebuild: bool,
    progress: Progress | None,
) -> IngestReport:
    """One run in its three steps: read and decide (nothing written), plan the deletions, embed and write."""
    started = time.perf_counter()
    run = _Run(todo, settings, store, dry_run=dry_run, rebuild=rebuild and not dry_run, progress=progress)
    report = run.report
    run.read(sources)
    if run.rebuild and run.unread:  # a typo, an unmounted disk, a feed that is down: its articles would be lost
        report.stopped = (f"--rebuild refused: no article could be read from {', '.join(run.unread)}; the index "
                          f"was left as it was ({len(run.indexed)} articles, nothing dropped). Fix or leave out "
                          "that SOURCE and run again.")
    else:
        to_delete = run.deletions(sources, sync)
        if dry_run:
            report.deleted = len(to_delete)
        else:
            run.write(to_delete)
    report.seconds = time.perf_counter() - started
    return report


class _Run:
    """The state of one ingest run: what the index holds, what this run read, and what it decided.

    ``read`` decides each article at once (unchanged, or spooled to embed) and writes nothing; ``deletions``
    says what the run may delete; ``write`` embeds, writes, then deletes. A run killed at any point leaves
    the index consistent: nothing is deleted before what replaces it is written.
    """

    def __init__(self, todo: _Spool, settings: Settings, store: Store, *, dry_run: bool, rebuild: bool,
                 progress: Progress | None) -> None:
        self.todo, self.settings, self.store = todo, settings, store
        self.dry_run, self.rebuild, self.progress = dry_run, rebuild, progress
        self.report = IngestReport(dry_run=dry_run, chroma=store.chroma_url or "")
        if not dry_run and not rebuild:  # a rebuild claims the index for this model once it has reset it
            store.check_model()
        if rebuild:  # a Chroma server that is down stops the run now, before the reading and before any drop
            store.client.heartbeat()
        # A dry run against a data dir that does not exist yet must not create it (nor the catalog).
        fresh = dry_run and not settings.catalog_path.exists()
        self.indexed = {} if fresh else store.catalog.states()
        self.known = {} if rebuild else self.indexed  # a rebuild writes everything again
        # Redone even when unchanged: written with no chunk by older code, or without their vectors in the
        # collection now in use (a switch to a Chroma server or back; a collection dropped).
        self.redo = (store.catalog.chunkless() | store.unembedded()) if self.known else set()
        self.relative = _RelativeSources(self.known)
        self.resourced: dict[str, str] = {}  # article id -> its source, recorded absolute from now on
        self.renamed: set[str] = set()  # ids read again under another id (_RelativeSources, a renamed file)
        self.uploads = recorded_path(str(settings.data_dir / "uploads"))
        self.seen: dict[str, str] = {}  # article id -> the source that gave it first in this run
        self.digests: dict[str, Path | None] = {}  # content hash of each article read -> its upload folder
        self.unread: list[str] = []  # SOURCES that gave no article at all
        self.read_roots: set[str] = set()  # files read in this run (absolute)
        self.failed_roots: set[str] = set()
        self.missing_source = False  # a SOURCE path that does not exist: what it held is unknown

    def upload_folder(self, root: str | None) -> Path | None:
        """The owner's folder of an uploaded file (``ingest.uploads.upload_folder``), None for any other file or
        a URL."""
        parent = Path(root).parent if root else None
        return parent if parent is not None and self.uploads in (parent, parent.parent) else None

    @staticmethod
    def may_replace(folder: Path | None, source: str) -> bool:
        """Whether an article read from ``folder``'s uploads (None: not an upload) may replace one recorded
        from ``source``: an upload only its owner's earlier uploads."""
        root = _file_root(source)
        return folder is None or (root is not None and Path(root).parent == folder)

    def read(self, sources: list[str]) -> None:
        """1. Read everything (cheap next to embedding) so the progress bar has a total, and decide at once:
        unchanged (only its id is kept, for sync), or to embed (spooled: memory holds one batch at a time).
        Feed entries are decided last: a page (or file) of this run gives the article, its feed's teaser is
        then a duplicate, whatever the order of SOURCES."""
        report = self.report
        entries: list[Article] = []  # feed entries (short), decided after everything else
        for source in sources:
            if not is_url(source) and not Path(source).exists():
                self.missing_source = True
            if self.progress:
                self.progress(0, 0, f"reading {source}")
            before = len(self.seen) + report.duplicates + len(entries)
            for item in iter_source(source, timeout=self.settings.request_timeout):
                root = _file_root(item.source)
                if root:
                    self.read_roots.add(root)
                if isinstance(item, LoadError):
                    if isinstance(item, UnsupportedFile):
                        report.skipped.append(item)  # a folder's .css, .js, .png: no article, nothing failed
                        continue
                    report.failed.append(item)
                    self.failed_roots.add(_absolute(_source_root(item.source)))
                elif _is_feed_entry(item.source):
                    entries.append(item)
                else:
                    self.decide(item)
            if len(self.seen) + report.duplicates + len(entries) == before:
                self.unread.append(source)
        for entry in entries:
            self.decide(entry)

    def decide(self, item: Article) -> None:
        """2. Decide one article read: a duplicate of this run, refused, unchanged, or spooled to embed."""
        report, known = self.report, self.known
        root = _file_root(item.source)
        if item.id in self.seen:
            report.duplicates += 1
            report.duplicate_sources.append((item.source, item.id, self.seen[item.id]))
            return
        cleaned, headings = clean_article(item)
        if not cleaned.text.strip():
            report.failed.append(LoadError(item.source, "no article text left after cleaning"))
            self.failed_roots.add(_absolute(_source_root(item.source)))
            return
        self.seen[item.id] = item.source
        digest = content_hash(cleaned, self.settings)
        folder = self.upload_folder(root)
        self.digests[digest] = None if folder is None else self.digests.get(digest, folder)
        previous = known.get(item.id)
        if previous is not None and not self.may_replace(folder, previous[2]):
            if previous[0] != digest:  # another user's, or the operator's: an upload never replaces it
                where = previous[2] if is_url(previous[2]) else Path(_source_root(previous[2])).name
                report.failed.append(LoadError(item.source, f"already indexed from {where}; not replaced "
                                               "(an upload replaces only your own uploads)"))
            else:
                report.unchanged += 1
            return
        if (previous is not None and previous[0] != digest and previous[1] == "done" and previous[2]
                and _is_feed_entry(item.source) and not _is_feed_entry(previous[2])):
            # The feed's teaser of an article read from its page (or a file): the longer text stays.
            stored = self.store.catalog.article(item.id)
            if stored is not None and len(stored["text"]) > len(cleaned.text):
                filled = _with_feed_metadata(stored, cleaned)
                if filled is None:
                    report.unchanged += 1
                    return
                cleaned, headings = clean_article(filled)
                digest = content_hash(cleaned, self.settings)
        old_id = self.relative.old_id(item.source)
        if old_id == item.id:
            self.resourced[item.id] = item.source
        elif old_id is not None and known[old_id][0] == digest:
            self.renamed.add(old_id)  # the same content under the id its relative path gave it
        if previous and previous[0] == digest and previous[1] == "done" and item.id not in self.redo:
            if previous[2] != cleaned.source:  # read from another file or dump now: recorded there
                self.resourced[item.id] = cleaned.source
            report.unchanged += 1
            return
        existed = (previous is not None and previous[0] is not None) or old_id in self.renamed
        if self.dry_run:
            report.updated += 1 if existed else 0
            report.added += 0 if existed else 1
        else:
            self.todo.append((cleaned, headings, digest, existed))

    def deletions(self, sources: list[str], sync: bool) -> dict[str, None]:
        """3. The articles this run deletes (in order), and the renames it found; nothing is deleted yet.

        A file read whole (no error) keeps only the articles this run read from it: a page cut from a PDF,
        a record removed from a dump. Feeds are left out: their entries scroll off, they are not retracted.
        An article whose file is gone and whose content this run read under another id (a new file name gave
        it a new id) was renamed: its old id is deleted, not left as a second copy. With sync, also the known
        articles of SOURCES not seen, unless their source failed to load; a SOURCE that does not exist at all
        (a typo, an unmounted disk) stops every sync deletion, as rsync does.
        """
        report, known, seen, renamed = self.report, self.known, self.seen, self.renamed
        to_delete: dict[str, None] = {}
        unseen = [aid for aid in known if aid not in seen and aid not in renamed]
        for article_id in unseen:  # set lookups first: every article of the index may be unseen
            known_hash, _, source = known[article_id]
            root = _source_root(source)
            if root in self.read_roots:  # files only (absolute)
                if root not in self.failed_roots and Path(root).suffix.lower() not in FEED_SUFFIXES:
                    to_delete[article_id] = None
            elif (known_hash in self.digests and _file_root(source)
                  and self.may_replace(self.digests[known_hash], source) and not os.path.lexists(root)):
                renamed.add(article_id)
                report.renamed += 1
        unseen = [aid for aid in unseen if aid not in renamed]
        if sync:
            given = _SyncScope(sources)
            for article_id in unseen:
                source = known[article_id][2]
                if article_id in to_delete or not given.holds(source, article_id):
                    continue  # still there, or from elsewhere (another folder, the page's uploads): not ours
                if self.missing_source or _absolute(_source_root(source)) in self.failed_roots:
                    report.kept_on_failure += 1
                    continue
                to_delete[article_id] = None
        elif not self.missing_source:
            self._count_gone(sources, unseen)
        if self.rebuild:  # what was indexed and is not written again
            report.deleted = sum(1 for aid in self.indexed if aid not in seen)
        return to_delete

    def _count_gone(self, sources: list[str], unseen: list[str]) -> None:
        """Said, not done: files gone from a folder SOURCE (``sync`` deletes their articles)."""
        folders = {os.path.join(str(recorded_path(s)), ""): s for s in sources if not is_url(s) and Path(s).is_dir()}
        for article_id in unseen if folders else ():
            root = _source_root(self.known[article_id][2])
            if root in self.read_roots:
                continue
            for prefix, typed in folders.items():  # absolute: no URL, nor a source recorded relative
                # Under the folder, not in a hidden folder a folder source never reads (.newsqa/uploads).
                if root.startswith(prefix) and not any(p.startswith(".") for p in Path(root[len(prefix):]).parts):
                    self.report.gone[typed] = self.report.gone.get(typed, 0) + 1
                    break

    def write(self, to_delete: dict[str, None]) -> None:
        """4. Embed and write, in batches of whole articles; then delete what was replaced or is gone."""
        store, settings, report, progress = self.store, self.settings, self.report, self.progress
        if self.rebuild:
            store.reset()
            store.check_model()
        store.catalog.set_sources(self.resourced)
        total = len(self.todo)
        done = 0
        embedder = store.embedder
        batch: list[tuple[Article, list[Chunk], str, bool]] = []
        batch_chunks = 0

        def flush() -> None:
            nonlocal batch, batch_chunks, done
            if not batch:
                return
            texts = [c.text for _, chunks, _, _ in batch for c in chunks]
            vectors = embedder.encode(texts)
            offset = 0
            for article, chunks, digest, existed in batch:
                vecs = vectors[offset:offset + len(chunks)]
                offset += len(chunks)
                store.write_article(article, chunks, vecs, digest)
                report.chunks += len(chunks)
                if existed:
                    report.updated += 1
                else:
                    report.added += 1
                done += 1
            if progress:
                progress(done, total, f"{report.chunks} chunks embedded")
            batch, batch_chunks = [], 0

        if progress:
            progress(0, total, "embedding")
        for article, headings, digest, existed in self.todo:
            chunks = chunk_article(
                article, headings, embedder.count_tokens, settings.chunk_tokens, settings.chunk_overlap_sentences
            )
            if not chunks:  # nothing a search could find: reported, never counted as added
                report.failed.append(LoadError(article.source, "no text to index (only headings) after cleaning"))
                continue
            batch.append((article, chunks, digest, existed))
            batch_chunks += len(chunks)
            if batch_chunks >= EMBED_BATCH_CHUNKS:
                flush()
        flush()

        for article_id in self.renamed - self.seen.keys():  # after its new id is written: a kill redoes this
            store.delete_article(article_id)
        for article_id in to_delete:
            store.delete_article(article_id)
            report.deleted += 1
        # The keyword engine catches up with what was written (all of it, the first time; nothing when
        # nothing changed): until then searches use the catalog's own keyword index.
        store.sync_keywords(progress)
