#!/usr/bin/env bash
# A/B test of a change to the fill kernels: builds the `ceiling` probe from HEAD and from
# HEAD with PATCH applied, then runs the two binaries in alternation ROUNDS times and
# prints each run's normal f32 fill on a cache-resident buffer, then the best rate of each.
# The rates (M values/s) are what to compare: the cycles per value beside them use a clock
# measured separately, which a busy host disturbs more.
#
#   scripts/kernel-ab.sh my-kernel-change.patch [rounds=8]   (a patch made with `git diff`)
#
# Alternating matters on a shared machine: its speed moves by tens of percent from one
# minute to the next, so two builds timed one after the other are not comparable. The
# best of several alternating runs is the least disturbed figure of each.
#
# The work happens in a temporary clone of HEAD (your working tree is not touched, and
# uncommitted changes are not included); it is deleted at the end. x86-64 with AVX2 only.
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: $0 PATCH [rounds=8]" >&2
    exit 2
fi
patch=$(realpath "$1")
rounds=${2:-8}
if [[ ! -f $patch ]]; then
    echo "kernel-ab: no such patch: $1" >&2
    exit 2
fi
if ! [[ $rounds =~ ^[1-9][0-9]*$ ]]; then
    echo "kernel-ab: rounds must be a positive integer, got '$rounds'" >&2
    exit 2
fi

root=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$root" "$work/src"
cd "$work/src"
git apply --check "$patch" || { echo "kernel-ab: the patch does not apply to HEAD" >&2; exit 2; }

build() {
    cargo build --release -q -p nninit-benches --bin ceiling
    cp target/release/ceiling "$work/$1"
}
echo "building HEAD ($(git rev-parse --short HEAD))..." >&2
build base
git apply "$patch"
echo "building HEAD + $(basename "$patch")..." >&2
build patched

best() { sort -n | tail -1; }
: > "$work/base.txt"
: > "$work/patched.txt"
for ((i = 1; i <= rounds; i++)); do
    for variant in base patched; do
        line=$("$work/$variant" | grep 'normal f32')
        rate=$(sed -E 's/.*\(([0-9.]+) M\/s\).*/\1/' <<< "$line")
        echo "$rate" >> "$work/$variant.txt"
        printf 'round %d  %-8s %s\n' "$i" "$variant" "$line"
    done
done
printf 'best normal f32 fill, M values/s: base %s, patched %s\n' \
    "$(best < "$work/base.txt")" "$(best < "$work/patched.txt")"
