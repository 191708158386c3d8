#!/usr/bin/env bash
# Render a published tree's pages with headless Chromium, at a phone's width (420 px)
# and a desktop's (1280 px), to look at them: the front page, a year page and a record
# page (the first record with a graph snapshot, else the first record).
#
# Usage: tools/check-pages.sh [TREE [SHOTS]]
#   TREE   a tree written by `pith publish` (default: a fresh registry in a temporary
#          directory, issued from examples/ with a development key, one record given a
#          graph snapshot whose title holds HTML, then published)
#   SHOTS  where the PNGs go (default: ./page-shots)
# HEIGHT (default 900) sets the window height: HEIGHT=3000 shows a whole record page.
#
# Needs Debian's `chromium` (apt-get install chromium). The script prints the PNG
# paths; open them and check that nothing is cut off or needs sideways scrolling at
# 420 px, that the title, authors and arXiv link show, and that the escaped title
# reads as text (no script ran, no markup leaked).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
pith=${PITH:-$here/.venv/bin/pith}
tree=${1:-}
shots=${2:-page-shots}
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$chromium" ]; then
    echo "check-pages: chromium not found (apt-get install chromium)" >&2
    exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -z "$tree" ]; then
    export PITH_HOME=$work/home PITH_KEY_PASSPHRASE=check-pages-only
    "$pith" -q keys generate check-pages --signer "file:$work/check-pages.p8" >/dev/null 2>&1
    "$pith" -q issue "$here/examples/arxivraw-listrecords.xml" "$here/examples/snapshot-sample.jsonl" \
        --now 2026-05-17T00:00:00Z >/dev/null 2>&1
    number=$("$pith" resolve 0704.0001 | "$here/.venv/bin/python" -c \
        'import json, sys; print(json.load(sys.stdin)["unique"])')
    cat >"$work/snapshot.json" <<'JSON'
{"graph_snapshot": {"paper": {"title": "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies <script>alert('not escaped')</script>", "authors_text": "C. Bal\u00e1zs, E. L. Berger, P. M. Nadolsky, C.-P. Yuan"}}, "verdict_id": null}
JSON
    "$pith" -q event add "$number" --type graph_snapshot --payload "$work/snapshot.json" \
        --now 2026-05-17T00:00:00Z >/dev/null
    tree=$work/site
    "$pith" -q publish "$tree" --base-url https://pith.example --now 2026-05-17T00:00:00Z
fi

tree=$(cd "$tree" && pwd)
record=$(grep -l 'class=authors' "$tree"/pith/*/index.html 2>/dev/null | head -n 1 || true)
record=${record:-$(ls "$tree"/pith/*/index.html | head -n 1)}
year=$(grep -o -m 1 'pith:[0-9]\{4\}' "$record" | head -n 1 | cut -d: -f2)
year=$tree/years/$year/
mkdir -p "$shots"
shots=$(cd "$shots" && pwd)
for width in 420 1280; do
    for page in front:"$tree/index.html" year:"${year}index.html" record:"$record"; do
        name=${page%%:*}
        file=${page#*:}
        out=$shots/$name-$width.png
        "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
            --disable-component-update --disable-sync --no-first-run \
            --user-data-dir="$(mktemp -d -p "$work")" --hide-scrollbars \
            --screenshot="$out" --window-size="$width,${HEIGHT:-900}" "file://$file" 2>/dev/null
        echo "$out"
    done
done
