#!/usr/bin/env bash
# The Python package's whole test suite, in the current Python environment: installs the package
# from this checkout (`pip install ./crates/nninit-py`) and pytest, builds the `nninit` command the
# tests compare against, and runs every test. Those needing torch or transformers run where they are
# installed and are skipped, with the reason printed, where they are not (`.ci/run` runs the suite
# with numpy only).
#
# Usage: scripts/test-python.sh   (PYTHON=... to choose the interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
cargo build --locked -q -p nninit-cli
"$PY" -m pip install --quiet ./crates/nninit-py pytest
"$PY" -c 'import importlib.metadata as m
for p in ("numpy", "torch", "transformers"):
    try: print(p, m.version(p))
    except m.PackageNotFoundError: print(p, "not installed")'
NNINIT_BIN="$PWD/target/debug/nninit" "$PY" -m pytest -q -rs -p no:cacheprovider crates/nninit-py/tests
