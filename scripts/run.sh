#!/usr/bin/env bash
# Set up the environment, ingest the bundled corpus/ if the index is empty, and start the app.
#   scripts/run.sh    then open http://localhost:8501
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

"$ROOT/scripts/setup.sh"

VPY="$ROOT/.venv/bin/python"

# Number of articles in the index; 0 when the index is empty or not created yet.
articles="$("$VPY" -m retrieval stats --json 2>/dev/null \
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

echo "newsqa is running on http://localhost:8501"
exec "$ROOT/.venv/bin/streamlit" run app.py \
    --server.port 8501 --server.address 0.0.0.0 --server.headless true \
    --browser.gatherUsageStats false
