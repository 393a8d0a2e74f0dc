"""Shared fixtures: the `nninit` command the values are compared with."""

import json
import os
import subprocess

import pytest


@pytest.fixture(scope="session")
def cli():
    """Runs the `nninit` binary named by NNINIT_BIN; skips (with the reason) when it is not set."""
    path = os.environ.get("NNINIT_BIN")
    if not path or not os.path.exists(path):
        pytest.skip("NNINIT_BIN is not set to the built `nninit` binary (e.g. target/debug/nninit)")

    def run(*args, check=True):
        proc = subprocess.run([path, *map(str, args)], capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise AssertionError(f"nninit {' '.join(map(str, args))} failed: {proc.stderr}")
        return proc

    run.json = lambda *args: json.loads(run(*args, "--json").stdout)
    return run


def cli_message(proc):
    """The one-line message of a failed command, without its `nninit: ` prefix."""
    assert proc.returncode == 2, proc
    line = proc.stderr.strip()
    assert line.startswith("nninit: "), line
    return line[len("nninit: "):]
