"""Cleaning and chunking, on the bundled article, with the real tokenizer (256 word-piece window)."""

from __future__ import annotations

import itertools
import re
import shutil
import textwrap
from collections.abc import Iterator

import pytest
from conftest import ROOT, close_store

from ingest.chunking import chunk_article, clean_article, clean_text
from ingest.loaders import iter_source
from ingest.pipeline import ingest
from retrieval.settings import Settings
from retrieval.store import Embedder, Store
from retrieval.text import line_sentences, split_sentences
from retrieval.types import Article, Chunk

BUNDLED = ROOT / "corpus" / "us-allies-intelligence-sharing-trump-russia.txt"
WINDOW = 256  # all-MiniLM-L6-v2's window, [CLS] and [SEP] included
FIRST_INTERVIEW = "Trump’s Russia Policy: Is it Fracturing US Intelligence Alliances? An Exclusive Interview"
SECOND_INTERVIEW = "Is Trump’s Russia Policy Shattering US Intelligence Alliances? An Exclusive Interview"
NEWS_SECTIONS = [
    "Allied Concerns and Potential Repercussions",
    "White House Response",
    "Reactions from Key Allies",
    "Shifting Priorities and Resource Allocation",
    "Concerns Over Aid to Ukraine",
    "Cybersecurity Considerations",
    "Conclusion",
]


@pytest.fixture(scope="module")
def raw_article() -> Article:
    item = next(iter_source(str(BUNDLED)))
    assert isinstance(item, Article), item
    return item


@pytest.fixture(scope="module")
def cleaned(raw_article: Article) -> Article:
    return clean_article(raw_article)[0]


@pytest.fixture(scope="module")
def chunks(raw_article: Article, embedder: Embedder) -> list[Chunk]:
    article, headings = clean_article(raw_article)
    return chunk_article(article, headings, embedder.count_tokens, max_tokens=180, overlap_sentences=1)


def check_offsets(article: Article, chunks: list[Chunk]) -> None:
    assert chunks, "no chunks"
    for n, chunk in enumerate(chunks):
        assert chunk.ord == n
        assert chunk.article_id == article.id
        assert 0 <= chunk.start < chunk.end <= len(article.text)
        assert article.text[chunk.start:chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip()


def rebuilt(text: str, chunks: list[Chunk]) -> str:
    """The text the chunks cover, in order, each overlap counted once."""
    parts, end = [], 0
    for chunk in chunks:
        assert chunk.end > end, "a chunk adds nothing new"
        parts.append(text[max(chunk.start, end):chunk.end])
        end = chunk.end
    return " ".join(parts)


def check_window(chunks: list[Chunk], embedder: Embedder, limit: int) -> list[int]:
    counts = embedder.count_tokens([c.text for c in chunks])
    assert max(counts) <= limit, counts
    assert max(counts) + 2 <= WINDOW  # room for [CLS] and [SEP]
    return counts


# --- cleaning ------------------------------------------------------------------------------------
def test_table_of_contents_block_is_removed(raw_article: Article, cleaned: Article) -> None:
    assert "Table of Contents" in raw_article.text  # the fixture is what we think it is
    assert "Table of Contents" not in cleaned.text
    assert not re.search(r"(?m)^- (White House Response|Conclusion|Cybersecurity Considerations)$", cleaned.text)
    # The headings themselves stay, once each, as lines of the body.
    for heading in NEWS_SECTIONS:
        assert cleaned.text.count(f"\n{heading}\n") == 1, heading
    assert "Brian Hughes" in cleaned.text and "Multilateral Diplomacy" in cleaned.text


def test_boilerplate_lines_are_dropped_and_headings_found() -> None:
    text = (
        "Mayor Opens New Bridge\n"
        "Advertisement\n"
        "Share on Facebook\n"
        "The new bridge over the Mill River opened on Saturday after two years of building work.\n"
        "Traffic and Delays\n"
        "Advertisement\n"
        "Commuters said the first morning went smoothly, although buses ran a few minutes late.\n"
        "Read more: Ten bridges you must see\n"
        "© 2026 Mill Valley News. All rights reserved.\n"
    )
    cleaned, headings = clean_text(text, title="Mayor Opens New Bridge")
    assert "Advertisement" not in cleaned and "Share on" not in cleaned
    assert "Read more" not in cleaned and "©" not in cleaned
    assert [h[2] for h in headings] == ["Mayor Opens New Bridge", "Traffic and Delays"]
    for start, end, name in headings:
        assert cleaned[start:end] == name


# --- chunks of the bundled article -----------------------------------------------------------------
def test_offsets_are_exact(cleaned: Article, chunks: list[Chunk]) -> None:
    check_offsets(cleaned, chunks)
    # Every body sentence is in some chunk: the chunks cover the text but the heading lines.
    covered = [False] * len(cleaned.text)
    for chunk in chunks:
        covered[chunk.start:chunk.end] = [True] * (chunk.end - chunk.start)
    missing = "".join(ch if not hit else "\n" for ch, hit in zip(cleaned.text, covered, strict=True))
    leftovers = {line.strip() for line in missing.split("\n") if line.strip()}
    assert leftovers <= {cleaned.title, *NEWS_SECTIONS, FIRST_INTERVIEW, SECOND_INTERVIEW}, leftovers


def test_every_chunk_fits_the_window_with_the_real_tokenizer(chunks: list[Chunk], embedder: Embedder) -> None:
    counts = check_window(chunks, embedder, limit=180)
    assert sum(counts) / len(counts) > 90  # and chunks are not needlessly tiny
    assert embedder.max_tokens == WINDOW


def test_section_headings_land_in_chunk_metadata(chunks: list[Chunk]) -> None:
    sections = {c.section for c in chunks}
    assert set(NEWS_SECTIONS) <= sections
    assert {FIRST_INTERVIEW, SECOND_INTERVIEW} <= sections
    hughes = [c for c in chunks if "Brian Hughes" in c.text]
    assert hughes and all(c.section == "White House Response" for c in hughes)
    hegseth = [c for c in chunks if "Pete Hegseth" in c.text]
    assert hegseth and all(c.section == "Cybersecurity Considerations" for c in hegseth)
    reed = [c for c in chunks if "Dr. Reed" in c.text]
    assert reed and all(c.section == SECOND_INTERVIEW for c in reed)
    # A chunk never spans a section change: headings are not inside chunk texts.
    for chunk in chunks:
        for heading in NEWS_SECTIONS:
            assert f"\n{heading}\n" not in chunk.text


def test_chunk_ids_are_stable_and_unique(raw_article: Article, chunks: list[Chunk], embedder: Embedder) -> None:
    again_article, headings = clean_article(next(iter_source(str(BUNDLED))))  # type: ignore[arg-type]
    again = chunk_article(again_article, headings, embedder.count_tokens, 180, 1)
    assert [(c.id, c.start, c.end, c.section) for c in again] == [(c.id, c.start, c.end, c.section) for c in chunks]
    assert len({c.id for c in chunks}) == len(chunks)
    assert all(re.fullmatch(r"[0-9a-f]{16}-\d{4}", c.id) for c in chunks)
    # Another article id gives other chunk ids for the same text.
    renamed = chunk_article(
        Article(**{**again_article.__dict__, "id": "https://example.org/elsewhere"}),
        headings, embedder.count_tokens, 180, 1,
    )
    assert not {c.id for c in renamed} & {c.id for c in chunks}


def test_sentences_are_not_split_at_titles_or_initialisms(
    cleaned: Article, chunks: list[Chunk], embedder: Embedder
) -> None:
    # Chunk boundaries fall between sentences; none right after "Dr." or "U.S.".
    for chunk in chunks:
        before = cleaned.text[max(0, chunk.start - 6):chunk.start]
        assert not re.search(r"\b(Dr|U\.S|Mr)\.\s*$", before), (before, chunk.text[:40])
        assert not re.search(r"\b(Dr|U\.S|Mr)\.$", chunk.text), chunk.text[-40:]
    # The sentence splitter itself: abbreviations stay inside their sentences.
    text = (
        "Dr. Reed met U.S. officials in Washington on Monday. Mr. Hughes said the talks went well. "
        "The U.K. and the U.S. will meet again at 9 a.m. next week. Prof. Lin agreed."
    )
    assert [text[s:e] for s, e in line_sentences(text)] == [
        "Dr. Reed met U.S. officials in Washington on Monday.",
        "Mr. Hughes said the talks went well.",
        "The U.K. and the U.S. will meet again at 9 a.m. next week.",
        "Prof. Lin agreed.",
    ]
    # Answers' citation check splits the same way; a short line without a period stays a line.
    two_lines = "Headline without a period\nDr. Reed spoke. Canada agreed."
    assert [two_lines[s:e] for s, e in split_sentences(two_lines)] == [
        "Headline without a period", "Dr. Reed spoke.", "Canada agreed.",
    ]


def test_a_quotation_of_several_sentences_is_one_sentence() -> None:
    """An answer or a citation never shows a quote opened and not closed: the sentences of one
    quotation stay with the sentence that opens it. A quote that does not close in its paragraph (it
    runs on into the next one, as news quotes do) or runs past MAX_QUOTED keeps its sentences apart."""
    text = ("A British government spokesperson stated: “The US is the UK’s closest ally. Any suggestion "
            "otherwise is untrue.” The talks resume on Monday. He said \"We go. We stay.\" Then he left.")
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "A British government spokesperson stated: “The US is the UK’s closest ally. Any suggestion otherwise "
        "is untrue.”",
        "The talks resume on Monday.",
        "He said \"We go. We stay.\"",
        "Then he left.",
    ]
    runs_on = "“We will rebuild. It will take years.\n\n“But we start today,” she said."
    assert [runs_on[s:e] for s, e in split_sentences(runs_on)] == [
        "“We will rebuild.", "It will take years.", "“But we start today,” she said."]
    long_quote = "“" + " ".join(f"Sentence number {i} of a very long statement." for i in range(20)) + "” Done."
    assert len(split_sentences(long_quote)) == 21
    # An inch mark is no quotation: two screen sizes do not join their sentences.
    screens = 'The store sold a 65" screen. Then it sold a 55" screen. Prices fell.'
    assert len(split_sentences(screens)) == 3
    # The chunker's units are unchanged: it splits on every sentence end (line_sentences).
    assert len(line_sentences(text)) == 6


def test_overlap_repeats_the_last_sentence_of_the_previous_chunk(cleaned: Article, chunks: list[Chunk]) -> None:
    overlapping = [(a, b) for a, b in itertools.pairwise(chunks)
                   if a.section == b.section and b.start < a.end]
    assert len(overlapping) >= 5
    for a, b in overlapping:
        assert a.text.endswith(cleaned.text[b.start:a.end])


# --- windows for awkward text ----------------------------------------------------------------------
def test_long_paragraph_without_punctuation_fits_the_window(embedder: Embedder) -> None:
    words = [
        "intelligence", "sharing", "among", "allies", "continues", "to", "be", "discussed", "by", "officials",
        "and", "analysts", "in", "several", "capitals", "while", "the", "talks", "go", "on",
    ]
    text = " ".join(words * 60)  # 1,200 words, no sentence end
    article = Article(id="nopunct", title="", text=text)
    chunks = chunk_article(article, [], embedder.count_tokens, max_tokens=180, overlap_sentences=1)
    check_offsets(article, chunks)
    check_window(chunks, embedder, limit=180)
    assert len(chunks) >= 6
    assert rebuilt(text, chunks).split() == text.split()  # nothing lost, nothing reordered


@pytest.mark.parametrize(
    "text",
    [
        # Plain words, then dense codes: an average-per-word cut would overflow the window.
        " ".join(["the"] * 200 + [f"x{n:04d}q{n * 7919 % 10007:05d}z{n % 97:02d}kv" for n in range(200)]),
        # CJK text has no spaces: one "word" of 900 word pieces.
        "这是一个很长的中文段落没有空格" * 60,
        # A single URL far over the window.
        "See https://example.org/" + "/".join(f"segment{n}?id={n * 31}" for n in range(150)) + " for details",
    ],
    ids=["dense-codes", "cjk", "long-url"],
)
def test_oversized_runs_are_cut_to_fit_the_window(embedder: Embedder, text: str) -> None:
    article = Article(id="dense", title="", text=text)
    chunks = chunk_article(article, [], embedder.count_tokens, max_tokens=180, overlap_sentences=1)
    check_offsets(article, chunks)
    check_window(chunks, embedder, limit=180)
    assert rebuilt(text, chunks).replace(" ", "") == text.replace(" ", "")


# --- chunks through the pipeline: catalog and Chroma agree -------------------------------------------------
@pytest.fixture(scope="module", params=[250, 180], ids=["default-chunks", "180-piece-chunks"])
def ingested(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
             embedder: Embedder) -> Iterator[Store]:
    folder = tmp_path_factory.mktemp("bundled")
    (folder / "corpus").mkdir()
    shutil.copy(BUNDLED, folder / "corpus" / BUNDLED.name)
    store = Store(Settings(data_dir=folder / "data", chunk_tokens=request.param), embedder=embedder)
    report = ingest([str(folder / "corpus")], store.settings, store=store)
    assert report.ok and report.added == 1, report
    yield store
    close_store(store)


def stored_chunks(store: Store) -> list[dict[str, object]]:
    rows = store.catalog._query("SELECT id, ord, section, text FROM chunks ORDER BY ord")
    return [dict(r) for r in rows]


def test_stored_chunks_match_chroma(ingested: Store) -> None:
    rows = stored_chunks(ingested)
    got = ingested.collection.get(ids=[r["id"] for r in rows], include=["documents", "metadatas"])
    by_id = dict(zip(got["ids"], zip(got["documents"], got["metadatas"], strict=True), strict=True))
    for row in rows:
        document, meta = by_id[row["id"]]
        assert document == row["text"]
        assert meta["section"] == row["section"] and meta["ord"] == row["ord"]


# --- sentences as a reader sees them ---------------------------------------------------------------
WRAPPED = """Harbour council adds evening ferries

The harbour council approved three extra evening ferry
crossings to Marrow Island from April, councillor
Ines Varga said on Monday. The last evening crossing
leaves at 19:40, and the service will cost 40,000 euros
a year.

Key changes
- three evening crossings, from
  April
- a later last ferry
- Tickets stay at 4 euros.

“We listened to the islanders,” Varga said. “They asked
for a later boat and now they have one.”
"""


def test_hard_wrapped_lines_join_into_sentences_but_lists_and_headings_stay_apart() -> None:
    assert [" ".join(WRAPPED[s:e].split()) for s, e in split_sentences(WRAPPED)] == [
        "Harbour council adds evening ferries",
        "The harbour council approved three extra evening ferry crossings to Marrow Island from April, "
        "councillor Ines Varga said on Monday.",
        "The last evening crossing leaves at 19:40, and the service will cost 40,000 euros a year.",
        "Key changes",
        "- three evening crossings, from April",
        "- a later last ferry",
        "- Tickets stay at 4 euros.",
        "“We listened to the islanders,” Varga said.",
        "“They asked for a later boat and now they have one.”",
    ]
    # One paragraph a line (scraped pages): every line is its own paragraph, as before.
    lines = "Allies weigh options\nThe UK said it will keep sharing.\nCanada agreed on Monday"
    assert [lines[s:e] for s, e in split_sentences(lines)] == [
        "Allies weigh options", "The UK said it will keep sharing.", "Canada agreed on Monday",
    ]
    # A lower-case line carries on the sentence of the line before, wrapped or not.
    assert len(split_sentences("The talks, which began in March\nand ended on Friday, failed.")) == 1


def test_chunks_of_a_hard_wrapped_article_start_and_end_on_sentences(embedder: Embedder) -> None:
    paragraphs = [
        f"In week {i} the harbour council approved {i + 2} extra evening ferry crossings to Marrow Island "
        f"from April, councillor Ines Varga said on day {i}. The last crossing of week {i} leaves at 19:{i:02d}, "
        f"and the service will cost {i * 1000 + 40000} euros a year, paid by the port authority of district {i}."
        for i in range(1, 9)
    ]
    text = "\n\n".join(textwrap.fill(p, width=60) for p in paragraphs)
    assert max(len(line) for line in text.splitlines()) <= 60 and text.count("\n") > 30
    article = Article(id="wrapped", title="Harbour council adds evening ferries", text=text)
    cleaned, headings = clean_article(article)
    chunks = chunk_article(cleaned, headings, embedder.count_tokens, max_tokens=60, overlap_sentences=1)
    check_offsets(cleaned, chunks)
    starts = {s for s, _ in split_sentences(cleaned.text)}
    ends = {e for _, e in split_sentences(cleaned.text)}
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.start in starts and chunk.end in ends, chunk.text
    assert not any(c.text.startswith("crossings to Marrow") or c.text.startswith("Ines Varga") for c in chunks)
