"""Sources (files, folders, JSON lines, PDFs, URLs, RSS/Atom feeds) → ``Article`` records.

Each loader yields ``Article`` or ``LoadError``; a broken record never stops the others.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import io
import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Any, BinaryIO
from urllib.parse import parse_qsl, urlencode, urljoin, urlparse, urlunparse

from retrieval.settings import ARTICLE_MAX_MB, PDF_MAX_MB
from retrieval.types import Article

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
JSON_SUFFIXES = {".json", ".jsonl", ".ndjson"}
FEED_SUFFIXES = {".rss", ".atom", ".xml"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES | FEED_SUFFIXES | PDF_SUFFIXES
MAX_BYTES = ARTICLE_MAX_MB * 1_000_000  # a single article file larger than this is refused, not read into memory
MAX_PDF_BYTES = PDF_MAX_MB * 1_000_000  # PDFs carry images; their text is read page by page
TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ref|cmpid|ocid|smid|partner)$", re.I)

# Re-exported for callers that think of articles as an ingest concept.
__all__ = ["Article", "LoadError", "UnsupportedFile", "canonical_url", "iter_source", "parse_date", "strip_tracking"]


@dataclass(frozen=True)
class LoadError:
    """A source (or one record of it) that could not be loaded, and why."""

    source: str
    reason: str


@dataclass(frozen=True)
class UnsupportedFile(LoadError):
    """A file in a folder SOURCE of a type the loaders do not read (``.docx``, a ``Makefile``), as opposed to
    a broken article file: a caller may count it as skipped rather than failed."""


def canonical_url(url: str) -> str:
    """Normalise a URL so the same article reached by two links gets one id."""
    url = url.strip()
    if not url:
        return ""
    parsed = urlparse(url)
    if not parsed.scheme or not parsed.netloc:
        return url
    query = urlencode([(k, v) for k, v in parse_qsl(parsed.query) if not TRACKING_PARAMS.match(k)])
    host = parsed.netloc.lower().removeprefix("www.")
    path = parsed.path.rstrip("/") or "/"
    scheme = "https" if parsed.scheme.lower() in ("http", "https") else parsed.scheme.lower()
    return urlunparse((scheme, host, path, "", query, ""))


def strip_tracking(url: str) -> str:
    """``url`` without its tracking parameters (``utm_source``, ``fbclid``…: :data:`TRACKING_PARAMS`), as the
    link an article cites; the rest of it is kept as written (unlike :func:`canonical_url`, the id)."""
    url = url.strip()
    parsed = urlparse(url)
    pairs = parse_qsl(parsed.query, keep_blank_values=True)
    if not parsed.netloc or not any(TRACKING_PARAMS.match(k) for k, _ in pairs):
        return url
    query = urlencode([(k, v) for k, v in pairs if not TRACKING_PARAMS.match(k)])
    return urlunparse(parsed._replace(query=query))


def outlet_from_url(url: str) -> str:
    host = urlparse(url).netloc.lower().removeprefix("www.")
    return host


_DATE_IN_TEXT = re.compile(r"\b(20\d\d|19\d\d)[/-](\d{1,2})[/-](\d{1,2})\b")
# Two defaults that differ in year, month and day: a part the text does not give comes out different.
_DEFAULTS = (datetime(1900, 1, 1), datetime(1901, 2, 2))
# The zone names of RFC 822 dates (RSS ``pubDate``); dateutil knows only UT/UTC/GMT/Z by itself.
_RFC822_ZONES = {name: offset * 3600 for name, offset in
                 (("EST", -5), ("EDT", -4), ("CST", -6), ("CDT", -5), ("MST", -7), ("MDT", -6), ("PST", -8),
                  ("PDT", -7))}


def parse_date(value: Any) -> str:
    """A date a text really gives (``2025/08/28``, ``Aug. 28, 2025``, RFC 822, epoch) → ISO 8601, "" if
    unknown. Year, month and day must all be given: "2026", "March 2026" or "Spring 2026" are "" (the
    article undated), never the 1st of January or March. A time with a zone is converted to UTC
    (``2026-12-01T00:30+14:00`` → ``2026-11-30T10:30:00+00:00``), so dates and their order are those of
    one clock; a time without one is kept as given."""
    if value is None or value == "" or isinstance(value, bool):
        return ""
    if isinstance(value, (int, float)):
        return _numeric_date(value)
    text = str(value).strip()
    if not text:
        return ""
    parsed = _full_date(text)
    if parsed is None:
        match = _DATE_IN_TEXT.search(text)
        if not match:
            return ""
        try:
            parsed = datetime(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return ""
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            return ""
    if parsed.year < 1950 or parsed.year > 2100:
        return ""
    if parsed.hour or parsed.minute or parsed.second:
        return parsed.isoformat(timespec="seconds")
    return parsed.date().isoformat()


def _numeric_date(value: float) -> str:
    """A date given as a number: an 8-digit ``YYYYMMDD`` (GDELT's ``20260502``), epoch milliseconds
    (JavaScript's ``Date.now()``, anything over 1e11: seconds would be past the year 5000), else epoch
    seconds; "" when it names no day from 1950 to 2100."""
    if value == int(value) and 19500101 <= value <= 21001231:
        digits = str(int(value))
        try:
            return datetime(int(digits[:4]), int(digits[4:6]), int(digits[6:])).date().isoformat()
        except ValueError:
            return ""
    seconds = float(value) / 1000 if abs(value) > 1e11 else float(value)
    try:
        day = datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return ""
    return day.date().isoformat() if 1950 <= day.year <= 2100 else ""


def _full_date(text: str) -> datetime | None:
    """``text`` read as a date when it gives year, month and day (parsed with two defaults that differ in
    each, the parses agree), else None."""
    import warnings

    from dateutil import parser as dateparser

    parses = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dateparser.UnknownTimezoneWarning)  # "CEST": kept as given
        for default in _DEFAULTS:
            try:
                parses.append(dateparser.parse(text, fuzzy=True, default=default, tzinfos=_RFC822_ZONES))
            except (ValueError, OverflowError, TypeError):
                return None
    first, second = parses
    return first if first == second else None


def _article_id(url: str, fallback_key: str) -> str:
    """Stable id: the canonical URL when known, else a key of the source (not of its content)."""
    canon = canonical_url(url)
    if canon:
        return canon
    return "src:" + hashlib.sha1(fallback_key.encode()).hexdigest()[:16]


def _content_id(title: str, published: str, text: str) -> str:
    """The id of a record that names neither an id nor a link (a JSON record, a feed entry): its title,
    date and the start of its text, so it keeps its id wherever it moves in its file (a newest-first dump
    gains a line on top each day) and two records are one article only when they say the same."""
    start = " ".join(text.split())[:500]
    return _article_id("", "record:" + "\x1f".join((" ".join(title.split()), published, start)))


def web_link(value: Any, base: str = "") -> str:
    """``value`` as an http(s) address an article can be cited by and keyed on, read against ``base`` when
    relative ("/news/1" in a feed of https://site.example/); "" when it is none ("/news/1" with no base,
    "tag:wire,4", a number). A bare host and path ("site.example/news/1") is taken as https."""
    if not isinstance(value, str) or not value.strip():
        return ""
    link = value.strip()
    if re.match(r"^[a-z0-9-]+(\.[a-z0-9-]+)+/", link, re.I) and not re.match(r"^[a-z][a-z0-9+.-]*:", link, re.I):
        link = "https://" + link
    if base and _is_web(base):
        link = urljoin(base, link)
    elif link.startswith("//"):
        link = "https:" + link
    return link if _is_web(link) else ""


def ids_from_path(path: str, fragment: str = "") -> set[str]:
    """The ids an article named by its file alone (no URL, no record id) gets from ``path`` read from
    here: a text or Markdown file, a PDF page (``fragment`` "page=N"), a JSON-lines record (``fragment``
    its line). `--sync` checks with it that a relative source recorded by an older version is the file it
    names from this folder, not another of the same name. (Records without an id or a link have been
    keyed on their content since session 16; the line-keyed ids are those such old records carry.)"""
    resolved = Path(path).resolve()
    keys = [f"file:{resolved}"] + ([f"file:{resolved}#{fragment}", f"{resolved}#{fragment}"] if fragment else [])
    return {_article_id("", key) for key in keys}


def _authors(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        names = (a.strip().strip("\"'").strip() for a in re.split(r",| and ", value))
        return tuple(a for a in names if a)
    if isinstance(value, dict):  # {"name": "Jane Roe"}
        value = [value]
    if isinstance(value, (list, tuple)):
        out = []
        for item in value:
            name = item.get("name") if isinstance(item, dict) else item
            name = "" if name is None else str(name).strip()  # {"name": 5} or null must not stop the record
            if name:
                out.append(name)
        return tuple(out)
    return (str(value),)


# The field names article records give a publication time and an outlet under, compared without case,
# "_", "-" or spaces (NewsAPI "publishedAt", RSS-to-JSON "pubDate", schema.org "datePublished").
PUBLISHED_FIELDS = ("published", "publishedat", "publisheddate", "publicationdate", "pubdate", "datepublished",
                    "date")
OUTLET_FIELDS = ("outlet", "source", "sourcename", "publisher", "sitename")
# NewsAPI cuts "content" and says how much it left out: "… [+2417 chars]".
_TRUNCATION_MARK = re.compile(r"\s*(?:…|\.\.\.)?\s*\[\+\d+ chars\]\s*$")


def _field(record: dict[str, Any], names: tuple[str, ...]) -> Any:
    """The first non-empty value of ``record`` under one of ``names`` (compared as :data:`PUBLISHED_FIELDS`)."""
    by_name: dict[str, Any] = {}
    for key, value in record.items():
        by_name.setdefault(re.sub(r"[\s_-]", "", str(key)).lower(), value)
    for name in names:
        value = by_name.get(name)
        if value not in (None, "", [], {}):
            return value
    return None


def _name(value: Any) -> str:
    """An outlet or publisher given as text, as an object (NewsAPI ``{"id": "bbc-news", "name": "BBC News"}``)
    or as a list of them: its name ("" when it has none)."""
    if isinstance(value, (list, tuple)):
        return next((name for name in map(_name, value) if name), "")
    if isinstance(value, dict):
        value = value.get("name") or value.get("title")
        return value.strip() if isinstance(value, str) else ""
    return "" if value is None else str(value).strip()


def record_to_article(record: dict[str, Any], source: str) -> Article:
    """A JSON article record (fields of shared/eval: id, url, title, published, authors, text; also the
    NewsAPI shape: publishedAt, source {"name"}, content or description). Its id: the record's ``id``,
    else its http(s) ``url``, else its content (:func:`_content_id`), never its place in the file."""
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    text = record.get("text") or record.get("body") or record.get("content") or record.get("description") or ""
    if not isinstance(text, str):
        raise ValueError("field 'text' is not a string")
    text = _TRUNCATION_MARK.sub("", text)
    if not text.strip():
        raise ValueError("the record has no text")
    if len(text) > MAX_BYTES:
        raise ValueError(f"its text is {len(text) / 1e6:.0f} million characters; articles over "
                         f"{MAX_BYTES / 1e6:.0f} MB are refused (split it into several records)")
    url = web_link(record.get("url")) or web_link(record.get("link"))
    title = _plain(record.get("title"))
    published = parse_date(_field(record, PUBLISHED_FIELDS))
    rid = record.get("id")
    if rid not in (None, ""):
        article_id = str(rid)
    else:
        article_id = canonical_url(url) if url else _content_id(title, published, text)
    return Article(
        id=article_id,
        title=title or _first_line(text),
        text=text,
        url=url,
        published=published,
        outlet=_name(_field(record, OUTLET_FIELDS)) or outlet_from_url(url),
        authors=_authors(record.get("authors") or record.get("author")),
        source=source,
    )


def _plain(value: Any) -> str:
    """A text field given as text (kept as written, but for the spaces around it), a list of texts
    (``["Dam", "opens"]``: "Dam opens", not "['Dam', 'opens']") or an object with a name."""
    if isinstance(value, (list, tuple)):
        return " ".join(filter(None, map(_plain, value)))
    if isinstance(value, dict):
        return _name(value)
    return "" if value is None else str(value).strip()


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:200]
    return ""


# Byte order marks, UTF-32 before UTF-16 (FF FE 00 00 also starts with the UTF-16 LE mark FF FE).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"), (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"), (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
# The legacy code pages news text comes in when it is not UTF-8, for the charset detector to choose
# from. Left to itself it also weighs ~90 rare ones and on a short text picks any of them (KOI8-R
# Russian read as Japanese cp932, a few stray bytes as Ukrainian cp1125).
LEGACY_ENCODINGS = (
    "cp1252", "cp1250", "cp1254", "cp1257",  # Latin: Western, Central European, Turkish, Baltic
    "cp1251", "koi8_r", "koi8_u", "cp866", "iso8859_5",  # Cyrillic
    "cp1253", "iso8859_7", "cp1255", "cp1256", "cp874",  # Greek, Hebrew, Arabic, Thai
    "gb18030", "big5", "cp932", "euc_jp", "cp949",  # Chinese, Japanese, Korean
)
_LATIN = {"cp1252", "cp1250", "cp1254", "cp1257"}
_CJK = {"gb18030", "big5", "cp932", "euc_jp", "cp949"}
MIN_LEGACY_EVIDENCE = 8  # non-ASCII bytes needed before a code page other than cp1252 is believed
# Latin-script text read in the wrong code page, or bytes that are no text at all, show as accented
# letters piling up (KOI8-R Russian read as cp1252 is "íÏÓË×Á") or as a symbol inside a word (Polish
# "żółw" read as cp1252 is "¿ó³w"). Apostrophes, dashes, the middle dot and the soft hyphen do sit
# inside words; ¹²³¼½¾ count as symbols, not letters.
_LETTER = r"[^\W\d_¹²³¼½¾]"
_ACCENTED = r"[^\W\d_\x00-\x7f¹²³¼½¾]"
_SYMBOL = r"(?:[^\x00-\x7f\w\s’‘´·–—\xad]|[¹²³¼½¾])"


def _garbled(run: int) -> re.Pattern[str]:
    """``run`` accented letters in a row, or a symbol inside a word. Every match starts at a non-ASCII
    character, so the search skips through ASCII text fast (a 20 MB file is read in a fraction of a second)."""
    piled_up = rf"(?<={_ACCENTED}){_ACCENTED}{{{run - 1}}}"
    in_word = rf"(?<={_LETTER}.)(?<={_SYMBOL})(?={_LETTER})"
    return re.compile(rf"[^\x00-\x7f](?:{piled_up}|{in_word})")


_GARBLED_LATIN = _garbled(5)  # Polish "żółć" has four in a row
_GARBLED_WESTERN = _garbled(3)  # French, German, Spanish, Dutch: two at most
_WRONG_CJK = re.compile("[\uff61-\uff9f\ue000-\uf8ff]")  # half-width katakana, private use: not news text
_BINARY = "binary file (NUL bytes), not an article: remove it or convert it to text"


def _read_text(path: Path) -> str:
    """The text of an article file (:func:`decode_text`)."""
    return decode_text(path.read_bytes())


def decode_text(data: bytes) -> str:
    """The text of an article file's bytes: UTF-8, the encoding its byte order mark names, or the legacy
    code page it reads as (:func:`_decode_legacy`); ValueError with the way out when none fits. Files on
    disk and the page's uploads (``ingest.uploads.check_upload``) are read alike."""
    if not data.strip():
        raise ValueError("the file is empty")
    text = None
    for bom, encoding, name in _BOMS:
        if data.startswith(bom):
            if encoding == "utf-8-sig":  # read as any UTF-8 below (a stray cp1252 byte repaired alike)
                data = data[len(bom):]
                break
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise ValueError(
                    f"invalid {name} at byte {exc.start} (the file starts with a {name} byte order mark): "
                    "re-save the file as UTF-8"
                ) from exc
            break
    if text is None and b"\x00" in data and (utf16 := _utf16_without_bom(data)):
        try:
            text = data.decode(utf16)
        except UnicodeDecodeError:
            text = None
    if text is None:
        if b"\x00" in data:  # anywhere: a text file holds none (UTF-16 does, and is read above)
            raise ValueError(_BINARY)
        text = _decode_unmarked(data)
    if "\x00" in text:  # UTF-16/32 text holding NUL characters is no article either
        raise ValueError(_BINARY)
    if not text.strip():
        raise ValueError("the file is empty")
    return text


def _decode_unmarked(data: bytes) -> str:
    """Bytes without a byte order mark: UTF-8, UTF-8 with a few cp1252 bytes, or a legacy code page."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if _mostly_utf8(data):  # a few cp1252 bytes pasted into UTF-8 text (a quote, an apostrophe)
            return _utf8_with_cp1252_bytes(data)
        legacy = _decode_legacy(data)
        if legacy is None:
            raise ValueError(
                f"invalid UTF-8 at byte {exc.start}, and no other text encoding reads it with confidence "
                "(unknown text encoding): re-save the file as UTF-8"
            ) from exc
        return legacy


def _utf8_with_cp1252_bytes(data: bytes) -> str:
    """UTF-8 text whose few invalid bytes are read as cp1252 each: “Friday” typed in an old editor
    keeps its quotes, and the rest of the file is not turned into mojibake ("cafÃ©") by a single
    code page, nor refused for one stray byte."""
    text = data.decode("utf-8", errors="surrogateescape")
    return re.sub("[\udc80-\udcff]",
                  lambda m: bytes([ord(m.group()) - 0xDC00]).decode("cp1252", errors="replace"), text)


def _mostly_utf8(data: bytes) -> bool:
    """More valid multi-byte UTF-8 characters than broken bytes: a UTF-8 file with a few bytes of
    another encoding pasted in, which any single code page would turn into mojibake ("cafÃ©")."""
    repaired = data.decode("utf-8", errors="replace")
    broken = repaired.count("\ufffd")
    return len(repaired) - len(repaired.encode("ascii", errors="ignore")) - broken > broken


def _decode_legacy(data: bytes) -> str | None:
    """Text that is not UTF-8, in the legacy code page it reads as (:func:`_legacy_encoding`); None when
    that is unclear."""
    encoding = _legacy_encoding(data)
    return data.decode(encoding) if encoding else None


def _legacy_encoding(data: bytes) -> str | None:
    """The legacy code page text that is not UTF-8 reads as; None when that is unclear.

    Taking cp1252 whenever it decodes (it decodes almost anything) turns KOI8-R or GBK into mojibake,
    so a charset detector ranks the code pages of :data:`LEGACY_ENCODINGS` by how the text reads. cp1252
    wins whenever it reads as well as the best; another code page needs evidence (enough non-ASCII bytes
    and, by script: Latin letters that form words, letters that fit a language of the alphabet, CJK
    without half-width katakana soup). When the detector is unsure, cp1252 is still taken for text that
    reads as Western (curly quotes or accents in ASCII text); anything else is left to the caller.
    """
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data, cp_isolation=list(LEGACY_ENCODINGS)))
    if matches:
        best = matches[0]
        level = [m for m in matches if abs(m.chaos - best.chaos) < 0.01 and abs(m.coherence - best.coherence) < 0.01]
        encoding = best.encoding
        if encoding in _LATIN and any("cp1252" in m.could_be_from_charset for m in level):
            encoding = "cp1252"
        evidence = len(data.translate(None, bytes(range(128))))  # the non-ASCII bytes
        if encoding == "cp1252" or (evidence >= MIN_LEGACY_EVIDENCE and best.chaos <= 0.1):
            try:  # the detector reads a large file in samples
                text = data.decode(encoding)
            except UnicodeDecodeError:
                text = ""
            if encoding in _LATIN:  # its language is judged mostly by its ASCII letters: look at the rest
                sure = not _GARBLED_LATIN.search(text)
            elif encoding in _CJK:
                sure = len(_WRONG_CJK.findall(text)) * 10 <= evidence  # KOI8-R as cp932 is half-width kana
            else:
                sure = best.coherence >= 0.1  # its letters fit a language of that alphabet
            if text and sure:
                return encoding
    try:
        western = data.decode("cp1252")
    except UnicodeDecodeError:
        return None
    return None if _GARBLED_WESTERN.search(western) else "cp1252"


def _unquoted(value: str) -> str:
    """A front-matter value without the quotes around it ('"Daily Post"'), never half of a pair a
    value holds ('Capitol "Daily"' stays whole)."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1].strip()
    return value


_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.S)
_TOML_FRONT = re.compile(r"\A\+\+\+\s*\n(.*?)\n\+\+\+\s*(?:\n|\Z)", re.S)
_UNCLOSED_FRONT = re.compile(r"\A(---|\+\+\+)[ \t]*\r?\n\s*[A-Za-z_][\w -]*\s*[:=]")


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    """The metadata block a text file starts with — YAML between ``---`` lines (Jekyll, Hugo, Obsidian) or
    TOML between ``+++`` lines (Hugo) — as fields (keys in lower case), and the text after it. A block
    opened and never closed is a ValueError, not text with the metadata in it."""
    toml = _TOML_FRONT.match(text)
    if toml:
        return _toml_fields(toml.group(1)), text[toml.end():]
    match = _FRONT.match(text)
    if not match:
        opened = _UNCLOSED_FRONT.match(text)
        if opened:
            raise ValueError(f"its front matter opened by {opened[1]!r} on line 1 is never closed: add a "
                             f"{opened[1]!r} line after the metadata")
        return {}, text
    fields: dict[str, Any] = {}
    key = ""
    for line in match.group(1).splitlines():
        stripped = line.strip()
        if stripped.startswith("- ") and key:  # a YAML block list ("authors:" then "- name" lines)
            item = _unquoted(stripped[2:].strip())
            fields[key] = f"{fields[key]}, {item}" if fields[key] else item
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = _unquoted(value.strip())
    return fields, text[match.end():]


def _toml_fields(block: str) -> dict[str, Any]:
    """TOML front matter's fields: text, lists of text, dates as ISO 8601. A block TOML cannot read is
    read line by line (``key = "value"``)."""
    import tomllib

    data: dict[str, Any]
    try:
        data = tomllib.loads(block)
    except tomllib.TOMLDecodeError:
        data = {}
        for line in block.splitlines():
            key, sep, text = line.partition("=")
            if sep and key.strip():
                data[key.strip()] = _unquoted(text.strip())
    fields: dict[str, Any] = {}
    for name, value in data.items():
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        elif isinstance(value, (list, tuple)):
            value = [str(v) for v in value]
        elif not isinstance(value, dict):
            value = str(value)
        fields[str(name).strip().lower()] = value
    return fields


def load_text_file(path: Path) -> Article:
    return text_to_article(_read_text(path), str(path), f"file:{path.resolve()}",
                           markdown=path.suffix.lower() in {".md", ".markdown"})


def text_to_article(raw: str, source: str, key: str, markdown: bool = False, url: str = "") -> Article:
    """A text or Markdown article (front matter read: :func:`_front_matter`); its id is the front matter's
    ``url``, else ``url`` (where it was fetched), else ``key``. A Markdown file's first-line title drops its
    heading marks ("# Zinc mine strike ends")."""
    fields, body = _front_matter(raw)
    if not body.strip():
        raise ValueError("the file has no article text")
    title = _plain(fields.get("title")) or _first_line(body)
    if markdown and not fields.get("title"):
        title = re.sub(r"^#{1,6}\s+|\s+#+\s*$", "", title).strip() or title
    link = web_link(fields.get("url")) or url
    authors = fields.get("authors", "")
    return Article(
        id=_article_id(link, key),
        title=title,
        text=body,
        url=link,
        published=parse_date(fields.get("published") or fields.get("date")),
        outlet=_plain(fields.get("outlet")) or outlet_from_url(link),
        authors=_authors(authors.strip("[]") if isinstance(authors, str) else authors),
        source=source,
    )


class _HeadLinks(HTMLParser):
    """The ``<link rel="canonical">`` and ``<meta property="og:url">`` of a page's head."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.canonical = ""
        self.og_url = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: (value or "").strip() for name, value in attrs}
        if tag == "link" and "canonical" in values.get("rel", "").lower().split() and not self.canonical:
            self.canonical = values.get("href", "")
        elif tag == "meta" and values.get("property", values.get("name", "")).lower() == "og:url" and not self.og_url:
            self.og_url = values.get("content", "")


def _page_canonical(html: str, url: str) -> str:
    """The address a page names as its own (``<link rel="canonical">``, else ``og:url``), relative ones read
    against ``url`` where it was fetched; "" when it names none that is http(s). One article reached by
    its plain link, a share link (``?CMP=share_btn_tw``) and as a saved file is then one article."""
    end = re.search(r"(?i)</head\s*>|<body[\s>]", html)
    parser = _HeadLinks()
    try:
        parser.feed(html[: end.start()] if end else html[:200_000])
        parser.close()
    except Exception:  # a page too broken to read links from keeps the address it was loaded from
        return ""
    for href in (parser.canonical, parser.og_url):
        absolute = urljoin(url, href) if href and url else href
        if _own_address(absolute, url):
            return strip_tracking(absolute)
    return ""


def _is_web(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme.lower() in ("http", "https") and bool(parsed.netloc)


def _own_address(candidate: str, fetched: str) -> bool:
    """Whether ``candidate``, an address a page names as its own, can be its id: an http(s) URL that is
    not the site's home page, unless the page was fetched from its home page. Many CMSs put the home page
    in every page's canonical or og:url; taken as the id, every story of the site would be one article."""
    if not _is_web(candidate):
        return False
    if urlparse(candidate).path.strip("/"):
        return True
    return bool(fetched) and _is_web(fetched) and not urlparse(fetched).path.strip("/")


def html_to_article(html: str, source: str, url: str = "") -> Article:
    import trafilatura
    from trafilatura.settings import set_date_params

    # Not htmldate's extensive search: it dates a page from any year in it ("Copyright 2026", "Last
    # updated: March 2026" → 1 January), where an undated article is what parse_date promises.
    extracted = trafilatura.bare_extraction(
        html, url=url or None, include_comments=False, include_tables=False, with_metadata=True,
        date_extraction_params=set_date_params(extensive=False),
    )
    if extracted is None:
        raise ValueError("no article text found in the HTML")
    data = extracted if isinstance(extracted, dict) else extracted.as_dict()
    text = (data.get("text") or "").strip()
    if not text:
        raise ValueError("no article text found in the HTML")
    named = str(data.get("url") or "")  # trafilatura's reading of the page's own address
    page_url = _page_canonical(html, url) or strip_tracking(url or (named if _own_address(named, "") else ""))
    return Article(
        id=_article_id(page_url, f"file:{source}"),
        title=(data.get("title") or _first_line(text)).strip(),
        text=text,
        url=page_url,
        published=parse_date(data.get("date")),
        outlet=(data.get("sitename") or outlet_from_url(page_url) or "").strip(),
        authors=_authors(data.get("author")),
        source=source,
    )


def load_html_file(path: Path) -> Article:
    return html_to_article(_read_text(path), str(path))


_TOO_DEEP = "JSON nested too deeply to read (hundreds of levels of [ or {): not an article record"


MAX_LINE_BYTES = 4 * MAX_BYTES  # a JSON-lines line longer than this is refused unread (its text would be too)
_SAMPLE_BYTES = 1_000_000  # of a JSON-lines file's non-UTF-8 lines, to work out their encoding from


def iter_jsonl(path: Path) -> Iterator[Article | LoadError]:
    with path.open("rb") as handle:
        yield from jsonl_records(handle, str(path))


def jsonl_records(handle: BinaryIO, where: str) -> Iterator[Article | LoadError]:
    """One article record per line of a JSON-lines file open in ``handle`` (seekable), with the source
    "<where>#<line>"; a bad line is named by its number and the other lines still load. The file's encoding
    is worked out once for all its lines (:func:`_jsonl_encoding`): a byte order mark, UTF-16, a legacy
    code page are read as in any other text file."""
    try:
        encoding = _jsonl_encoding(handle)
    except ValueError as exc:
        yield LoadError(where, str(exc))
        return
    lines = 0
    for lineno, line in _numbered_lines(handle, encoding):
        if isinstance(line, LoadError):
            yield LoadError(where, line.reason)
            lines += 1
            continue
        if not line.strip():
            continue
        lines += 1
        yield _one_record(where, f"line {lineno}", partial(_jsonl_article, line, encoding, f"{where}#{lineno}"))
    if not lines:
        yield LoadError(where, "the file is empty")


def _jsonl_encoding(handle: BinaryIO) -> str:
    """How a JSON-lines file's lines are decoded: the codec its byte order mark names, "utf-16-le"/"-be"
    for UTF-16 without one, "utf-8" (after a UTF-8 byte order mark too, which is skipped), "utf-8+cp1252"
    for UTF-8 with a few stray cp1252 bytes (:func:`_mostly_utf8`), else the legacy code page the lines
    that are not UTF-8 read as (:func:`_legacy_encoding`), "" when none reads them with confidence.
    ValueError for a binary file. Leaves ``handle`` where its first line starts."""
    head = handle.read(4)
    handle.seek(0)
    for bom, encoding, _ in _BOMS:
        if head.startswith(bom):
            if encoding == "utf-8-sig":
                handle.seek(len(bom))
                break
            return encoding  # Python's utf-16 and utf-32 codecs read the mark
    start = handle.tell()
    sample = handle.read(_SAMPLE_BYTES)
    handle.seek(start)
    if b"\x00" in sample:
        encoding = _utf16_without_bom(sample)
        if not encoding:
            raise ValueError(_BINARY)
        return encoding
    failing = bytearray()
    for line in iter(partial(handle.readline, MAX_LINE_BYTES), b""):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            failing += line
            if len(failing) >= _SAMPLE_BYTES:
                break
    handle.seek(start)
    if not failing:
        return "utf-8"
    if _mostly_utf8(bytes(failing)):
        return "utf-8+cp1252"
    return _legacy_encoding(bytes(failing)) or ""


def _utf16_without_bom(data: bytes) -> str:
    """"utf-16-le" or "utf-16-be" for UTF-16 text without a byte order mark (every other byte NUL, as
    ASCII text in it is), "" for bytes that are not."""
    pairs = data[: len(data) // 2 * 2][:8192]
    if len(pairs) < 4:
        return ""
    odd, even = pairs[1::2].count(0), pairs[0::2].count(0)
    half = len(pairs) // 2
    if odd >= 0.7 * half and even <= 0.05 * half:
        return "utf-16-le"
    if even >= 0.7 * half and odd <= 0.05 * half:
        return "utf-16-be"
    return ""


def _numbered_lines(handle: BinaryIO, encoding: str) -> Iterator[tuple[int, bytes | str | LoadError]]:
    """The lines of ``handle`` with their numbers: bytes, or text for UTF-16/32 (whose newlines are two or
    four bytes); a line over :data:`MAX_LINE_BYTES` is a LoadError, skipped unread."""
    source: IO[Any] = handle
    if encoding.startswith(("utf-16", "utf-32")):
        source = io.TextIOWrapper(handle, encoding=encoding, newline="\n")
    lineno = 0
    while True:
        try:
            line = source.readline(MAX_LINE_BYTES)
        except UnicodeDecodeError as exc:
            yield lineno + 1, LoadError("", f"line {lineno + 1} and after: not readable as {encoding.upper()} "
                                        f"({exc.reason}): re-save the file as UTF-8")
            return
        if not line:
            return
        lineno += 1
        if len(line) >= MAX_LINE_BYTES and line[-1:] not in (b"\n", "\n"):
            while (rest := source.readline(MAX_LINE_BYTES)) and rest[-1:] not in (b"\n", "\n"):
                pass
            yield lineno, LoadError("", f"line {lineno}: over {MAX_LINE_BYTES / 1e6:.0f} MB, a record longer than "
                                    f"articles may be ({MAX_BYTES / 1e6:.0f} MB; split it into several records)")
            continue
        yield lineno, line


def _decode_line(line: bytes | str, encoding: str) -> str:
    """One JSON-lines line as text, in its file's encoding (:func:`_jsonl_encoding`)."""
    if isinstance(line, str):
        return line
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as exc:
        if encoding == "utf-8+cp1252":
            return _utf8_with_cp1252_bytes(line)
        if encoding in ("", "utf-8"):
            raise ValueError(f"invalid UTF-8 at byte {exc.start}, and no other text encoding reads the file's "
                             "lines with confidence: re-save the file as UTF-8") from exc
        try:
            return line.decode(encoding)
        except UnicodeDecodeError as again:
            raise ValueError(f"invalid {encoding} at byte {again.start} (the encoding the file's other lines are "
                             "read in): re-save the file as UTF-8") from again


def _jsonl_article(line: bytes | str, encoding: str, source: str) -> Article:
    return record_to_article(json.loads(_decode_line(line, encoding)), source)


def _one_record(where: str, label: str, read: Callable[[], Article]) -> Article | LoadError:
    """The article ``read()`` makes of one record of a dump, or why it cannot, named by ``label``
    ("line 3", "record 0"): a bad record never stops the others."""
    try:
        return read()
    except json.JSONDecodeError as exc:
        return LoadError(where, f"{label}: broken JSON ({exc.msg}, column {exc.colno})")
    except ValueError as exc:
        return LoadError(where, f"{label}: {exc}")
    except RecursionError:
        return LoadError(where, f"{label}: {_TOO_DEEP}")
    except Exception as exc:  # a record shaped in a way no check foresaw: name it, keep the others
        return LoadError(where, f"{label}: unreadable record ({type(exc).__name__}: {exc})")


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return {int: "a number", float: "a number", str: "a string", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__)


def _json_records(data: Any) -> list[Any]:
    """The records of a .json file: a list of them, ``{"articles": [...]}``, or one record object.
    ValueError when the file holds none, so a ``42`` or ``[]`` is reported instead of skipped."""
    none = "the file holds no article records"
    if isinstance(data, dict):
        if "articles" not in data:
            return [data]
        records = data["articles"]
        if not isinstance(records, list):
            raise ValueError(f"{none}: \"articles\" is {_json_kind(records)}, expected a list of article objects")
        if not records:
            raise ValueError(f"{none} (\"articles\" is an empty list)")
        return records
    if isinstance(data, list):
        if not data:
            raise ValueError(f"{none} (an empty list)")
        return data
    raise ValueError(f"{none}: it holds {_json_kind(data)}, expected an article object or a list of them")


def iter_json(path: Path) -> Iterator[Article | LoadError]:
    yield from json_records(_read_text(path), str(path))


def json_records(text: str, where: str) -> Iterator[Article | LoadError]:
    """The article records of a .json file's ``text`` (source "<where>#<index>"); a bad record is named by
    its index and the others load."""
    try:
        records = _json_records(json.loads(text))
    except json.JSONDecodeError as exc:
        yield LoadError(where, f"broken JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")
        return
    except RecursionError:
        yield LoadError(where, _TOO_DEEP)
        return
    for index, record in enumerate(records):
        yield _one_record(where, f"record {index}", partial(record_to_article, record, f"{where}#{index}"))


# Words of a feed's host that name no outlet ("feeds.reuters.com", "rss.example.co.uk").
_HOST_WORDS = {"www", "feeds", "feed", "rss", "news", "com", "net", "org"}
# Where a feed's title joins the outlet to a section: "Reuters: UK News", "BBC News - Home", "World | Site".
_TITLE_PARTS = re.compile(r"\s*(?::|\||>|»)\s+|\s+[-–—]\s+|\s+\|")


def feed_outlet(title: str, link: str, source: str) -> str:
    """The outlet a feed's title names, not the whole title: "Reuters: UK News" is Reuters. Of the parts the
    title joins (": ", " - ", " | ", " > "), the one the site's address spells ("Reuters" for reuters.com,
    "The Guardian" for theguardian.com), else the first; the host (of ``link``, the site, else of ``source``)
    when the feed has no title."""
    title = " ".join(title.split())
    host = outlet_from_url(link) or outlet_from_url(source)
    if not title:
        return host
    parts = [part.strip() for part in _TITLE_PARTS.split(title) if part.strip()]
    if len(parts) < 2:
        return title
    labels = [label for label in re.split(r"[.-]", host) if len(label) >= 3 and label not in _HOST_WORDS]
    compact_host = re.sub(r"[^0-9a-z]", "", host)
    for part in parts:
        key = re.sub(r"[\W_]", "", part.casefold())
        if len(key) >= 3 and (key in compact_host or any(label in key for label in labels)):
            return part
    return parts[0]


def feed_to_articles(content: bytes | str, source: str) -> Iterator[Article | LoadError]:
    """The entries of an RSS or Atom feed (``source`` a file or the feed's URL). An item's link, when
    relative ("/news/1"), is read against the site the feed names (its ``<link>``), else the feed's URL;
    one that is still no http(s) address (a relative link in a feed file that names no site, a ``tag:``
    guid) is neither cited nor the id, which then comes from the item's guid, else its content."""
    import feedparser

    parsed = feedparser.parse(content)
    if parsed.bozo and not parsed.entries:
        yield LoadError(source, f"not a readable RSS/Atom feed ({parsed.get('bozo_exception', 'parse error')})")
        return
    if not parsed.get("version") and not parsed.entries:
        yield LoadError(source, f"not an RSS/Atom feed: XML of another kind{_xml_root(content)}, which is not "
                        "read (convert the articles to .txt, .html or .jsonl records)")
        return
    site = str(parsed.feed.get("link") or "")
    base = urljoin(source, site) if is_url(source) else site
    base = base if _is_web(base) else source if is_url(source) else ""
    outlet = feed_outlet(str(parsed.feed.get("title") or ""), site if _is_web(site) else base, source)
    for index, entry in enumerate(parsed.entries):
        guid = str(entry.get("id") or "")
        given = str(entry.get("link") or "")
        # feedparser copies a guid without isPermaLink="false" into the link: "55" is no path on the site
        from_guid = bool(entry.get("guidislink")) and given == guid
        link = strip_tracking(web_link(given) if from_guid else web_link(given, base))  # the id drops them too
        item_source = entry.get("source")
        item_outlet = feed_outlet(str(item_source.get("title") or ""), str(item_source.get("href") or ""), "") \
            if isinstance(item_source, dict) else ""
        body = ""
        if entry.get("content"):
            body = entry["content"][0].get("value", "")
        body = body or entry.get("summary", "")
        text = _html_fragment_text(body)
        if not text.strip():
            yield LoadError(f"{source}#{index}", "feed entry has no text")
            continue
        title = str(entry.get("title", "")).strip()
        published = parse_date(entry.get("published") or entry.get("updated"))
        if link:
            article_id = canonical_url(link)
        elif guid and from_guid and re.match(r"^[a-z][a-z0-9+.-]*:", guid, re.I):
            article_id = guid  # a guid that is a URI of its own ("tag:wire,2026:4"): one id in every feed
        elif guid:
            article_id = _article_id("", f"{source}#{guid}")
        else:
            article_id = _content_id(title, published, text)
        yield Article(
            id=article_id,
            title=title or _first_line(text),
            text=text,
            url=link,
            published=published,
            outlet=item_outlet or outlet,
            authors=_authors(entry.get("authors") or entry.get("author")),
            source=f"{source}#{index}",
        )


def _xml_root(content: bytes | str) -> str:
    """" (root element <article>)" for an XML document, "" when none is found."""
    head = content[:4096] if isinstance(content, str) else content[:4096].decode("utf-8", errors="replace")
    head = re.sub(r"(?s)<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", "", head)
    match = re.search(r"<([A-Za-z_][\w:.-]*)", head)
    return f" (root element <{match[1]}>)" if match else ""


def _html_fragment_text(fragment: str) -> str:
    if "<" not in fragment:
        return fragment
    from html import unescape

    text = re.sub(r"(?is)<(script|style).*?</\1>", " ", fragment)
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</li>|</h\d>", "\n", text)
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"[ \t]+", " ", unescape(text)).strip()


# --- PDF ---------------------------------------------------------------------------------------------
# A PDF is indexed page by page: page N becomes one Article titled "<title> (p. N)", with the source
# "<path>#page=N" (the fragment PDF viewers open at). Every citation then names its page through the
# title it already shows (app, ``ask``, ``--json``) with no change outside this loader, and the
# catalog's character offsets stay offsets into one page's text. A sentence that runs over a page
# break is kept whole on the page where it starts (the page one would cite).

_PAGE_NUMBER = re.compile(r"^\s*[-–]?\s*(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?\s*[-–]?\s*$", re.I)
_SENTENCE_END = re.compile(r"[.!?…:;][\"'”’)\]]*$")
_FIRST_SENTENCE = re.compile(r"[.!?…][\"'”’)\]]*(?=\s|$)")
_JUNK_TITLE = re.compile(
    r"^(untitled\b.*|microsoft (word|powerpoint|excel) - .*|document\d*|slide \d+|"
    r".*\.(docx?|pdf|indd|tex|odt|rtf|pptx?))$", re.I,
)
NO_TEXT_LAYER = ("no text layer: the PDF holds only images (a scan?); run OCR on it (e.g. `ocrmypdf in.pdf out.pdf`) "
                 "and ingest the result")


def _digitless(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.split()).lower())


def _running_lines(pages: list[list[str]]) -> set[str]:
    """Running headers and footers: a line (digits aside) among the first or last two lines of at
    least half of the pages (and of 3 or more)."""
    if len(pages) < 3:
        return set()
    counts: dict[str, int] = {}
    for lines in pages:
        nonblank = [line for line in lines if line.strip()]
        for key in {_digitless(line) for line in nonblank[:2] + nonblank[-2:]}:
            counts[key] = counts.get(key, 0) + 1
    need = max(3, (len(pages) + 1) // 2)
    return {key for key, n in counts.items() if n >= need}


def _reflow(lines: list[str]) -> str:
    """A page's hard-wrapped lines → paragraphs (blank line between), end-of-line hyphens undone.

    A line ends its paragraph when it is short (under 3/4 of a full line) and ends a sentence, or
    is very short and unpunctuated before a capital (a heading); otherwise the next line joins it.
    """
    lines = [" ".join(line.split()) for line in lines]
    widths = sorted(len(line) for line in lines if line)
    if not widths:
        return ""
    full = widths[int(len(widths) * 0.8)] if len(widths) >= 5 else widths[-1]
    paragraphs: list[str] = []
    current = last = ""
    for line in lines:
        if not line:
            if current:
                paragraphs.append(current)
            current = last = ""
            continue
        if current:
            ends = bool(_SENTENCE_END.search(last))
            heading = not ends and len(last) < 0.6 * full and line[0].isupper()
            if len(last) < 0.75 * full and (ends or heading):
                paragraphs.append(current)
                current = ""
        if not current:
            current = line
        elif current.endswith("-") and current[-2:-1].isalpha() and line[0].islower():
            current = current[:-1] + line  # "inter-" + "national"
        else:
            current = f"{current} {line}"
        last = line
    if current:
        paragraphs.append(current)
    return "\n\n".join(paragraphs)


def _carry_over(pages: list[str]) -> list[str]:
    """A sentence running over a page break moves whole to the page where it starts."""
    out = list(pages)
    for i in range(len(out) - 1):
        head, following = out[i].rstrip(), out[i + 1].lstrip()
        if not head or not following or _SENTENCE_END.search(head) or not following[0].islower():
            continue
        first, sep, rest = following.partition("\n\n")
        match = _FIRST_SENTENCE.search(first)
        cut = match.end() if match else len(first)
        joined = head[:-1] if head.endswith("-") and head[-2:-1].isalpha() else f"{head} "
        out[i] = joined + first[:cut]
        out[i + 1] = (first[cut:].strip() + (f"\n\n{rest}" if sep else "")).strip()
    return out


def _pdf_title(meta_title: Any, text: str) -> str:
    title = " ".join(str(meta_title or "").split())
    if title and not _JUNK_TITLE.match(title):
        return title[:200]
    return _first_line(text)


def iter_pdf(path: Path) -> Iterator[Article | LoadError]:
    """Each page of a PDF file that has text as one ``Article`` (see above); a PDF without a text layer,
    a damaged or a password-protected one is a named ``LoadError``."""
    yield from pdf_articles(str(path), str(path), f"file:{path.resolve()}")


def pdf_articles(pdf: str | IO[bytes], where: str, key: str, url: str = "") -> Iterator[Article | LoadError]:
    """The pages of the PDF ``pdf`` (a path or a binary stream) as articles with sources "<where>#page=N",
    ids from ``key`` and the page; cited as ``url``#page=N when the PDF came from ``url``."""
    try:
        import pypdf
    except ImportError:  # pragma: no cover - part of the default install
        yield LoadError(where, "reading PDFs needs pypdf: pip install 'pypdf>=5'")
        return
    import warnings

    texts: list[str] = []
    errors: list[LoadError] = []
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.ERROR)  # a damaged but readable file logs a warning per broken object
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                reader = pypdf.PdfReader(pdf, strict=False)
                if reader.is_encrypted:
                    try:
                        unlocked = bool(reader.decrypt(""))
                    except Exception as exc:  # e.g. AES without the `cryptography` package
                        unlocked, why = False, f" ({type(exc).__name__}: {exc})"
                    else:
                        why = ""
                    if not unlocked:
                        yield LoadError(where, f"encrypted PDF{why}: save a copy without a password or "
                                        "encryption and ingest that")
                        return
                meta = reader.metadata
                meta_title, meta_author = (meta.title, meta.author) if meta else (None, None)
                pages = list(reader.pages)
            except Exception as exc:  # pypdf raises many types on a damaged file
                yield LoadError(where, f"not a readable PDF ({type(exc).__name__}: {exc}): the file is "
                                "damaged or not a PDF")
                return
            if not pages:
                yield LoadError(where, "the PDF has no pages (damaged?)")
                return
            for number, page in enumerate(pages, start=1):
                try:
                    texts.append((page.extract_text() or "").replace("\xad", ""))
                except Exception as exc:
                    texts.append("")
                    errors.append(LoadError(f"{where}#page={number}",
                                            f"page {number} could not be read ({type(exc).__name__}: {exc})"))
    finally:
        logger.setLevel(level)
    yield from errors
    raw = [text.replace("\r\n", "\n").replace("\r", "\n").split("\n") for text in texts]
    running = _running_lines(raw)
    cleaned = [
        _reflow([line for line in lines if not _PAGE_NUMBER.match(line) and _digitless(line) not in running])
        for lines in raw
    ]
    if sum(ch.isalpha() for text in cleaned for ch in text) < 20:
        if not errors:
            yield LoadError(where, NO_TEXT_LAYER)
        return
    cleaned = _carry_over(cleaned)
    title = _pdf_title(meta_title, next((t for t in cleaned if t.strip()), ""))
    authors = _authors(str(meta_author)) if meta_author else ()
    for number, text in enumerate(cleaned, start=1):
        if not re.search(r"[^\W\d_]{2}", text):
            continue  # a page without words: a figure, a blank page
        yield Article(
            id=_article_id("", f"{key}#page={number}"),
            title=f"{title} (p. {number})",
            text=text,
            authors=authors,
            url=f"{url}#page={number}" if url else "",
            outlet=outlet_from_url(url),
            source=f"{where}#page={number}",
        )


class _Refused(Exception):
    """A download stopped, and why (the whole reason for a LoadError)."""


@dataclass
class _Download:
    body: IO[bytes]  # the bytes, spooled to disk past MAX_BYTES (a PDF may be larger)
    size: int
    mime: str  # "text/html", "" when the server gives none
    charset: str  # the header's, "" when it gives none
    url: str  # where it came from, after redirects


def _download(url: str, timeout: float) -> _Download:
    """GET ``url`` within ``timeout`` seconds in all (httpx's own timeout is per read: a server sending a
    byte a second would never time out) and at most MAX_BYTES (MAX_PDF_BYTES for a PDF), by its
    Content-Length first, then counted as it arrives."""
    import tempfile
    import time

    import httpx

    deadline = time.monotonic() + timeout
    too_slow = f"timed out after {timeout:g}s (raise NEWSQA_REQUEST_TIMEOUT or retry later)"
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True,
                          headers={"User-Agent": "newsqa/0.1 (+ingest)"}) as response:
            if response.is_error:
                raise _Refused(f"HTTP {response.status_code}")
            ctype = response.headers.get("content-type", "")
            mime = ctype.split(";")[0].strip().lower()
            charset = response.charset_encoding or ""
            limit = MAX_PDF_BYTES if mime == "application/pdf" else MAX_BYTES
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > limit:
                raise _Refused(_too_big(int(length), limit))
            body = tempfile.SpooledTemporaryFile(max_size=MAX_BYTES)  # noqa: SIM115 - the caller closes it
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    body.close()
                    raise _Refused(_too_big(size, limit, more=True))
                if time.monotonic() > deadline:
                    body.close()
                    raise _Refused(f"{too_slow}: the download was still running")
                body.write(chunk)
            body.seek(0)
            return _Download(body, size, mime, charset, str(response.url))
    except httpx.TimeoutException as exc:
        raise _Refused(too_slow) from exc
    except httpx.HTTPError as exc:
        raise _Refused(f"could not fetch: {exc.__class__.__name__}: {exc}") from exc


def _too_big(size: int, limit: int, more: bool = False) -> str:
    return (f"the page is {'over ' if more else ''}{size / 1e6:.0f} MB; articles over {limit / 1e6:.0f} MB are "
            "refused (download it and split it, or save it as .jsonl records)")


_FEED_TYPES = ("rss", "atom", "rdf")
_JSON_LINES_TYPES = ("ndjson", "jsonl", "jsonlines", "json-seq")


def load_url(url: str, timeout: float) -> Iterator[Article | LoadError]:
    """A page, a feed, a PDF, a text or a JSON file over HTTP(S), told apart by content type and content;
    anything else (an image, a zip) is named as what it is."""
    try:
        got = _download(url, timeout)
    except _Refused as exc:
        yield LoadError(url, str(exc))
        return
    with got.body:
        try:
            yield from _url_articles(url, got)
        except (OSError, ValueError) as exc:
            yield LoadError(url, str(exc))


def _url_articles(url: str, got: _Download) -> Iterator[Article | LoadError]:
    head = got.body.read(600)
    got.body.seek(0)
    sniff = head.lstrip().lower()
    mime = got.mime
    suffix = Path(urlparse(got.url).path).suffix.lower()
    if mime == "application/pdf" or head.startswith(b"%PDF-"):
        yield from pdf_articles(got.body, url, "url:" + canonical_url(got.url), url=strip_tracking(got.url))
        return
    if got.size > MAX_BYTES:  # only a PDF may be larger
        yield LoadError(url, _too_big(got.size, MAX_BYTES))
        return
    data = got.body.read()
    is_feed = any(t in mime for t in _FEED_TYPES) or any(t in sniff for t in (b"<rss", b"<feed", b"<rdf:rdf"))
    is_html = "html" in mime or b"<html" in sniff or sniff.startswith(b"<!doctype html")
    if is_feed or ("xml" in mime and not is_html) or (not mime and sniff.startswith(b"<?xml") and not is_html):
        yield from feed_to_articles(data, url)
    elif "json" in mime or (suffix in JSON_SUFFIXES and mime in ("", "text/plain", "application/octet-stream")):
        if any(t in mime for t in _JSON_LINES_TYPES) or suffix in {".jsonl", ".ndjson"}:
            yield from jsonl_records(io.BytesIO(data), url)
        else:
            yield from json_records(decode_text(data), url)
    elif is_html or not mime:
        yield html_to_article(decode_page(data, got.charset), url, url=got.url)
    elif mime.startswith("text/"):
        yield text_to_article(decode_page(data, got.charset), url, "url:" + canonical_url(got.url),
                              markdown="markdown" in mime or suffix in {".md", ".markdown"},
                              url=strip_tracking(got.url))
    else:
        yield LoadError(url, f"the URL serves {mime}, not an article page (articles are read from HTML pages, "
                        "RSS/Atom feeds, PDF, plain text and JSON)")


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)


def decode_page(data: bytes, declared: str = "") -> str:
    """A fetched page's bytes as text: in the charset the server ``declared``, else the one the page's
    ``<meta charset>`` names, else read as a file is (:func:`decode_text`: UTF-8, else the code page it
    reads as). A charset that does not decode the bytes is passed over; ISO-8859-1 is read as cp1252, as
    browsers do; bytes that are valid UTF-8 with non-ASCII text are UTF-8 whatever single-byte charset is
    declared (Latin-1 text is next to never valid UTF-8; a template's stale declaration often is wrong)."""
    if not any(data.startswith(bom) for bom, _, _ in _BOMS):
        match = None if declared else _META_CHARSET.search(data[:4096])
        name = declared or (match[1].decode("ascii", errors="ignore") if match else "")
        try:
            encoding = codecs.lookup(name).name if name else ""
        except LookupError:
            encoding = ""
        if encoding in ("latin-1", "iso8859-1", "ascii"):
            encoding = "cp1252"
        if encoding and encoding != "utf-8":
            try:
                data.decode("utf-8")
                utf8 = not data.isascii()
            except UnicodeDecodeError:
                utf8 = False
            if not utf8:
                try:
                    return data.decode(encoding)
                except UnicodeDecodeError:
                    pass
    return decode_text(data)


def is_url(source: str) -> bool:
    """Whether a SOURCE (or a recorded article source) is a web address rather than a path."""
    return re.match(r"^https?://", source, re.I) is not None


def recorded_path(source: str) -> Path:
    """A path SOURCE as its articles record it: absolute, links not resolved. An article's source, and
    the id of one named by its path alone, must not depend on the folder an ingest runs in: `--sync`
    compares sources, and `ingest x.html` from two folders must not give one page two ids."""
    return Path(os.path.abspath(source))


def iter_source(source: str, timeout: float = 30.0) -> Iterator[Article | LoadError]:
    """Every article of one source (file, folder, URL or feed); errors are yielded, not raised."""
    if is_url(source):
        yield from load_url(source, timeout)
        return
    path = Path(source)
    if not path.exists():
        hint = " (a web address? give it with https://)" if re.match(r"^(www\.|[\w-]+(\.[\w-]+)+/)", source) else ""
        yield LoadError(source, _link_problem(path) or f"no such file or folder{hint}")
        return
    path = recorded_path(source)
    if path.is_dir():
        for file in _folder_files(path):
            if file.name.lower() in {"readme.md", "readme.txt", "license", "license.txt"}:
                continue  # a folder's own documentation is not an article
            problem = _link_problem(file)
            if problem:
                yield LoadError(str(file), problem)
            elif file.suffix.lower() in SUPPORTED:
                yield from iter_file(file)
            else:
                yield UnsupportedFile(str(file), f"unsupported file type {file.suffix or '(none)'!r}: "
                                f"use one of {', '.join(sorted(SUPPORTED))}")
        return
    yield from iter_file(path)


def _folder_files(folder: Path) -> list[Path]:
    """Every entry of ``folder`` that is not a folder, recursively and sorted: linked subfolders are
    followed (each real folder once, so a link back up is no loop), hidden files and everything under
    hidden folders (.git, the default index .newsqa) are skipped. Broken links, pipes and sockets are
    listed too: they are what the user put there, and are reported rather than skipped. The "<stem>_files"
    folder of a page saved complete (:func:`_saved_page_assets`) is skipped: its frames are ads, not articles."""
    seen: set[tuple[int, int]] = set()
    files: list[Path] = []
    for root, dirs, names in os.walk(folder, followlinks=True):
        try:
            info = os.stat(root)
        except OSError:
            dirs[:] = []
            continue
        if (info.st_dev, info.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not _saved_page_assets(Path(root), d, names))
        files.extend(Path(root) / n for n in names if not n.startswith("."))
    return sorted(files)


# The folder a browser's "Save Page As… (complete)" puts next to "<stem>.html": "<stem>_files" (Chrome,
# Firefox, Edge, Safari), or its localised name in older Firefox and Internet Explorer.
_ASSET_FOLDER = re.compile(r"^(?P<stem>.+?)(?:_files|-Dateien|_archivos|_fichiers|_arquivos|_bestanden|-filer|_file)$")


def _saved_page_assets(root: Path, folder: str, files: list[str]) -> bool:
    """Whether ``folder`` (in ``root``, beside ``files``) holds a saved page's scripts, styles, images and
    frames: its name is "<stem>_files" and "<stem>.html" (or .htm, .xhtml) is beside it."""
    match = _ASSET_FOLDER.match(folder)
    return match is not None and any(f"{match['stem']}{suffix}" in files for suffix in HTML_SUFFIXES)


def _link_problem(path: Path) -> str | None:
    """Why ``path`` is a symbolic link that cannot be followed, or None (it can, or it is no link)."""
    try:
        path.stat()
    except OSError as exc:
        if not path.is_symlink():
            return "symbolic link loop in the path" if exc.errno == errno.ELOOP else None
        target = os.readlink(path)
        if exc.errno == errno.ELOOP:
            return f"symbolic link loop: the links from its target {target} never reach a file; fix or remove it"
        missing = exc.errno in (errno.ENOENT, errno.ENOTDIR)
        return (f"broken symbolic link: its target {target} "
                f"{'does not exist' if missing else f'cannot be reached ({exc.strerror})'}; fix or remove the link")
    return None


def size_limit(suffix: str) -> int | None:
    """The largest file of type ``suffix`` (".txt", any case) :func:`iter_file` reads, in bytes: MAX_BYTES, or
    MAX_PDF_BYTES for a PDF; None for JSON and JSON lines, whose records are held to MAX_BYTES one by one.
    Browser uploads are held to it as well (``ingest.uploads.check_upload``), before they are saved."""
    suffix = suffix.lower()
    if suffix in JSON_SUFFIXES:
        return None
    return MAX_PDF_BYTES if suffix in PDF_SUFFIXES else MAX_BYTES


def size_refusal(limit: int) -> str:
    """Why a file over :func:`size_limit` is refused, and the way out."""
    return f"articles over {limit / 1e6:.0f} MB are refused (split it or save it as .jsonl records)"


def iter_file(path: Path) -> Iterator[Article | LoadError]:
    suffix = path.suffix.lower()
    if path.exists() and not path.is_file():  # reading a pipe would wait forever for a writer
        yield LoadError(str(path), "not a regular file (a pipe, socket or device): give the article files themselves")
        return
    try:
        size = path.stat().st_size
        limit = size_limit(suffix)
        if limit is not None and size > limit:
            yield LoadError(str(path), f"file is {size / 1e6:.0f} MB; {size_refusal(limit)}")
            return
        if suffix in PDF_SUFFIXES:
            yield from iter_pdf(path)
        elif suffix in {".jsonl", ".ndjson"}:
            yield from iter_jsonl(path)
        elif suffix == ".json":
            yield from iter_json(path)
        elif suffix in HTML_SUFFIXES:
            yield load_html_file(path)
        elif suffix in FEED_SUFFIXES:
            yield from feed_to_articles(path.read_bytes(), str(path))
        else:
            yield load_text_file(path)
    except (OSError, ValueError) as exc:
        yield LoadError(str(path), str(exc))
    except Exception as exc:  # a parser's unforeseen failure on a strange file: name the file, load the rest
        yield LoadError(str(path), f"could not be read ({type(exc).__name__}: {exc})")
