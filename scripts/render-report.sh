#!/usr/bin/env bash
# Renders an nninit lab report.html to a PNG with headless Chromium, to look at the page as a reader would.
#
#   scripts/render-report.sh path/to/report.html out.png [width] [height]
#
# Needs `chromium` (Debian: apt-get install -y chromium) or `chromium-browser` / `google-chrome` on PATH.
# The page is self-contained, so no network is needed.
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: $0 report.html out.png [width=1200] [height=3000]" >&2
    exit 2
fi
html=$1
out=$2
width=${3:-1200}
height=${4:-3000}

if [[ ! -f $html ]]; then
    echo "render-report: no such file: $html" >&2
    exit 2
fi

browser=""
for candidate in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$candidate" >/dev/null 2>&1; then
        browser=$candidate
        break
    fi
done
if [[ -z $browser ]]; then
    echo "render-report: no Chromium found; install it (Debian: apt-get install -y chromium)" >&2
    exit 2
fi

abs_html=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
abs_out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

# --no-sandbox: containers and CI usually run as root, where Chromium's sandbox refuses to start.
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
    --screenshot="$abs_out" --window-size="$width,$height" "file://$abs_html" >/dev/null 2>&1

if [[ ! -s $abs_out ]]; then
    echo "render-report: $browser wrote no screenshot" >&2
    exit 1
fi
echo "$abs_out"
