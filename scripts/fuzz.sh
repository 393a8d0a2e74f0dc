#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for SECONDS each (default 30) with cargo-fuzz on the nightly
# toolchain, and exits non-zero when any target crashes (the crashing input is then in
# fuzz/artifacts/<target>/). Without a nightly toolchain it says so and exits 0: libFuzzer's
# instrumentation needs nightly, and the targets still compile on stable (.ci/run checks that).
#
#   scripts/fuzz.sh            # 30 s per target
#   scripts/fuzz.sh 3600       # an hour per target
#   FUZZ_TARGETS="config_json rule_parser" scripts/fuzz.sh 600
#   FUZZ_SEED=0 scripts/fuzz.sh 600   # libFuzzer's own random seed (default 1: a run is
#                                     # repeatable from the same corpus, so CI is too)
#
# cargo-fuzz is installed, pinned, into target/cargo-fuzz when missing, so a clean clone needs
# nothing else. Each target's corpus grows in fuzz/corpus/<target> (ignored by git) and starts
# from the seeds named below, which are the project's own valid inputs.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

seconds=${1:-30}
case "$seconds" in
  '' | *[!0-9]* | 0) echo "usage: scripts/fuzz.sh [SECONDS > 0]" >&2; exit 2 ;;
esac

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "fuzz: skipped: no nightly toolchain (cargo-fuzz needs one: rustup toolchain install nightly)"
  exit 0
fi

cargo_fuzz_version=0.13.2
tools="$root/target/cargo-fuzz"
if [ "$("$tools/bin/cargo-fuzz" --version 2>/dev/null)" != "cargo-fuzz $cargo_fuzz_version" ]; then
  echo "fuzz: installing cargo-fuzz $cargo_fuzz_version into $tools"
  cargo +nightly install cargo-fuzz --version "$cargo_fuzz_version" --locked --root "$tools" --quiet || exit 1
fi
export PATH="$tools/bin:$PATH"

# Seeds per target: folders of valid inputs the fuzzer mutates.
seeds() {
  case "$1" in
    config_json) echo crates/nninit/src/arch/presets ;;
    experiment_toml) echo experiments ;;
    torch_modules | rule_parser) echo "fuzz/seeds/$1" ;;
  esac
}

targets=${FUZZ_TARGETS:-$(cargo +nightly fuzz list)}
failed=""
for t in $targets; do
  corpus="fuzz/corpus/$t"
  mkdir -p "$corpus"
  echo "== fuzz $t for ${seconds} s"
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: a run over 2 GB is a size
  # check that is missing. Both count as crashes.
  # shellcheck disable=SC2046
  if ! cargo +nightly fuzz run "$t" "$corpus" $(seeds "$t") -- \
    -max_total_time="$seconds" -seed="${FUZZ_SEED:-1}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1; then
    failed="$failed $t"
  fi
done

if [ -n "$failed" ]; then
  echo "fuzz: crashes in:$failed (inputs in fuzz/artifacts/<target>/; reproduce with cargo +nightly fuzz run <target> <file>)"
  exit 1
fi
echo "fuzz: no crash in: $(echo $targets)"
