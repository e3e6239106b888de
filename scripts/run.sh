#!/usr/bin/env bash
# Set up the environment, ingest the bundled corpus/ if the index is empty, and start the app.
#   scripts/run.sh              then open http://localhost:8501
#   scripts/run.sh --embedded   the page opens Chroma's files itself (no Chroma server beside it)
#   NEWSQA_HOST=0.0.0.0 NEWSQA_ACCESS_TOKEN=... scripts/run.sh   reachable from the network, with sign-in
#
# The page listens on 127.0.0.1 unless NEWSQA_HOST says otherwise; an exposed host without
# NEWSQA_ACCESS_TOKEN / NEWSQA_PASSWORD_FILE / NEWSQA_OIDC (or an explicit NEWSQA_NO_AUTH=1) is refused
# before anything starts (retrieval/access.py).
#
# By default the vector files get one owner: a `chroma run` server on 127.0.0.1 beside the page, its
# address recorded in the data dir (chroma-server.json), so that `python -m ingest` and
# `python -m retrieval ask` in another terminal talk to the same server while the page runs
# (docs/architecture.md, "One live index"). With NEWSQA_CHROMA_URL set, that server is used instead.
set -euo pipefail

server_mode=1
for arg in "$@"; do
    case "$arg" in
        --embedded) server_mode=0 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "usage: scripts/run.sh [--embedded]" >&2; exit 2 ;;
    esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

"$ROOT/scripts/setup.sh"

VPY="$ROOT/.venv/bin/python"

# Who may use the page: refused here, before the ingest and the servers, when exposed without a secret.
access="$("$VPY" -m retrieval.access check)" || exit 2
read -r host port max_upload_mb <<<"$(head -n 1 <<<"$access")"
mode_line="$(tail -n 1 <<<"$access")"

# Number of articles in the index; 0 when the index is empty or not created yet (then `stats` exits 1 with
# {"error": "No index at …"}: its exit status must not add a second "0" under pipefail).
articles="$( { "$VPY" -m retrieval stats --json 2>/dev/null || true; } \
    | "$VPY" -c 'import json, sys; print(int(json.load(sys.stdin).get("articles", 0)))' 2>/dev/null || echo 0)"

if [[ "$articles" == "0" ]]; then
    echo "[run] the index is empty: ingesting corpus/"
    # Every file in corpus/ except README files (corpus/README.md documents the folder; it is no article).
    mapfile -d '' sources < <(find corpus -type f ! -iname 'README*' ! -name '.*' -print0 | sort -z)
    if (( ${#sources[@]} )); then
        "$VPY" -m ingest "${sources[@]}"
    else
        echo "[run] corpus/ holds no articles; ingest some with: .venv/bin/python -m ingest PATH_OR_URL"
    fi
else
    echo "[run] the index holds $articles article(s); skipping ingest (add more with: .venv/bin/python -m ingest PATH_OR_URL)"
fi

server_pid=""
if [[ -z "${NEWSQA_CHROMA_URL:-}" && "$server_mode" == "1" ]]; then
    # Started under the index's writer lock: an ingest already running finishes first.
    read -r chroma_url chroma_pid chroma_state < <("$VPY" -m retrieval.chroma_server start) \
        || { echo "[run] could not start a Chroma server (see above); use scripts/run.sh --embedded" >&2; exit 1; }
    if [[ "$chroma_state" == "started" ]]; then
        server_pid="$chroma_pid"
        echo "[run] Chroma server $chroma_url (pid $chroma_pid) owns the vectors; ingest and ask use it too"
    else
        echo "[run] using the Chroma server already running for this index: $chroma_url (pid $chroma_pid)"
    fi
fi

streamlit_pid=""
cleanup() {
    trap - EXIT INT TERM
    if [[ -n "$streamlit_pid" ]] && kill "$streamlit_pid" 2>/dev/null; then
        for _ in $(seq 60); do kill -0 "$streamlit_pid" 2>/dev/null || break; sleep 0.5; done
        kill -9 "$streamlit_pid" 2>/dev/null || true
    fi
    [[ -n "$server_pid" ]] && "$VPY" -m retrieval.chroma_server stop "$server_pid"
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

shown_host="$host"
[[ "$host" == "0.0.0.0" || "$host" == "::" ]] && shown_host="$(hostname)"
[[ "$host" == 127.* || "$host" == "::1" ]] && shown_host="localhost"
echo "newsqa is running on http://$shown_host:$port ($mode_line)"
"$ROOT/.venv/bin/streamlit" run app.py \
    --server.port "$port" --server.address "$host" --server.headless true \
    --server.enableXsrfProtection true --server.maxUploadSize "$max_upload_mb" \
    --browser.gatherUsageStats false &
streamlit_pid=$!
# Whichever stops first (the page, or the server it depends on) stops the other.
while kill -0 "$streamlit_pid" 2>/dev/null; do
    if [[ -n "$server_pid" ]] && ! kill -0 "$server_pid" 2>/dev/null; then
        echo "[run] the Chroma server stopped; stopping the page" >&2
        exit 1
    fi
    sleep 2
done
