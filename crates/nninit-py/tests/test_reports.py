"""explain, gain, theory, doctor and materialize against the command's --json."""

import json
import os
import stat

import pytest

import nninit
from conftest import cli_message

LLAMA = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
         "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2, "vocab_size": 100, "tie_word_embeddings": False}


@pytest.fixture
def llama(tmp_path):
    path = tmp_path / "llama.json"
    path.write_text(json.dumps(LLAMA))
    return path


def test_gain_equals_the_cli(cli):
    assert nninit.gain("relu") == cli.json("gain", "relu")
    assert nninit.gain("leaky_relu", param=0.2) == cli.json("gain", "leaky_relu", "--param", "0.2")


def test_explain_equals_the_cli(cli):
    assert nninit.explain("kaiming_normal", (64, 32, 3, 3), nonlinearity="relu", mode="fan_out") == \
        cli.json("explain", "kaiming_normal", "--shape", "64,32,3,3", "--nonlinearity", "relu", "--mode", "fan_out")
    assert nninit.explain("xavier_uniform", (3, 3, 8, 16), layout="jax", gain=2.0) == \
        cli.json("explain", "xavier_uniform", "--shape", "3,3,8,16", "--layout", "jax", "--gain", "2")
    assert nninit.explain("normal", (10,), std=0.5, fan_in=4, fan_out=5) == \
        cli.json("explain", "normal", "--shape", "10", "--std", "0.5", "--fan-in", "4", "--fan-out", "5")


def test_explain_plan_equals_the_cli(cli, llama):
    assert nninit.explain(preset="gpt2", scheme="hf") == cli.json("explain", "--preset", "gpt2", "--scheme", "hf")
    assert nninit.explain(config=str(llama), scheme="megatron", dtype="bf16") == \
        cli.json("explain", "--config", llama, "--scheme", "megatron", "--dtype", "bf16")


@pytest.mark.parametrize("kwargs,flags", [
    ({}, []),
    ({"sigma_w2": 1.5, "sigma_b2": 0.05, "depth": 30}, ["--sigma-w2", "1.5", "--sigma-b2", "0.05", "--depth", "30"]),
    ({"recommend": True, "depth": 50}, ["--recommend", "--depth", "50"]),
    ({"edge": True, "sigma_b2_max": 0.2}, ["--edge", "--sigma-b2-max", "0.2"]),
])
def test_theory_equals_the_cli(cli, kwargs, flags):
    assert nninit.theory("tanh", **kwargs) == cli.json("theory", "tanh", *flags)


def test_theory_errors_carry_the_cli_message(cli):
    with pytest.raises(ValueError) as err:
        nninit.theory("tanh", depth=0)
    assert str(err.value) == cli_message(cli("theory", "tanh", "--depth", "0", check=False))
    with pytest.raises(ValueError) as err:
        nninit.gain("nosuch")
    assert str(err.value) == cli_message(cli("gain", "nosuch", check=False))


def test_materialize_writes_the_cli_bytes(cli, tmp_path, llama):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    report = nninit.materialize(str(ours), config=str(llama), scheme="megatron", seed=2, max_shard_size="200KB")
    cli_report = cli.json("materialize", "--config", llama, "--scheme", "megatron", "--seed", 2,
                          "--max-shard-size", "200KB", "--out", theirs)
    assert sorted(os.listdir(ours)) == sorted(os.listdir(theirs))
    for name in os.listdir(ours):
        assert (ours / name).read_bytes() == (theirs / name).read_bytes(), name
    assert report.keys() == cli_report.keys()
    for key in ("model_class", "scheme", "seed", "dtype", "parameters", "total_size", "shards", "bytes_written"):
        assert report[key] == cli_report[key], key


def test_materialize_digest_none_writes_the_cli_bytes(cli, tmp_path, llama):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    nninit.materialize(str(ours), config=str(llama), scheme="hf", digest="none", progress=False)
    cli("materialize", "--config", llama, "--scheme", "hf", "--digest", "none", "--out", theirs)
    assert sorted(os.listdir(ours)) == sorted(os.listdir(theirs))
    for name in os.listdir(ours):
        assert (ours / name).read_bytes() == (theirs / name).read_bytes(), name
    manifest = json.loads((ours / "nninit-manifest.json").read_text())
    assert all("sha256" not in s for s in manifest["shards"])
    with pytest.raises(ValueError, match="expected sha256 or none"):
        nninit.materialize(str(tmp_path / "m"), config=str(llama), scheme="hf", digest="md5")
    assert not (tmp_path / "m").exists()


def test_doctor_equals_the_cli(cli, tmp_path):
    model = tmp_path / "gpt2"
    nninit.materialize(str(model), preset="gpt2", scheme="hf", seed=1, dtype="bf16", progress=False)
    ours = nninit.doctor(str(model), expect="hf")
    theirs = cli.json("doctor", model, "--expect", "hf", "--fail-on", "never")
    ours.pop("seconds"), theirs.pop("seconds")
    # The doctor's sums are split into pieces that do not depend on the threads and merged in
    # order, so the two reports are the same bits.
    assert ours == theirs
    assert ours["report"]["expected_followed"] is True


def test_doctor_missing_file_raises_os_error_with_the_cli_message(cli, tmp_path):
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(OSError) as err:
        nninit.doctor(str(missing))
    assert str(err.value) == cli_message(cli("doctor", missing, check=False))


def test_bad_config_raises_value_error_with_the_cli_message(cli, tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text('{"model_type": "llama", "hidden_size": -3}')
    with pytest.raises(ValueError) as err:
        nninit.explain(config=str(bad), scheme="hf")
    assert str(err.value) == cli_message(cli("explain", "--config", bad, "--scheme", "hf", check=False))
    with pytest.raises(OSError):
        nninit.explain(config=str(tmp_path / "missing.json"), scheme="hf")


def test_materialize_into_a_read_only_folder_leaves_nothing(tmp_path, llama):
    if os.geteuid() == 0:
        pytest.skip("running as root: a read-only folder is still writable")
    target = tmp_path / "ro"
    target.mkdir()
    target.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(OSError):
            nninit.materialize(str(target / "model"), config=str(llama), scheme="hf", progress=False)
        assert not list(target.iterdir())
    finally:
        target.chmod(stat.S_IRWXU)


def test_materialize_into_a_file_or_with_bad_arguments_leaves_nothing(tmp_path, llama):
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        nninit.materialize(str(afile), config=str(llama), scheme="hf")
    assert afile.read_text() == "x"
    out = tmp_path / "m"
    with pytest.raises(ValueError, match="unknown scheme"):
        nninit.materialize(str(out), config=str(llama), scheme="nosuch")
    with pytest.raises(ValueError):
        nninit.materialize(str(out), config=str(llama), scheme="hf", max_shard_size="lots")
    with pytest.raises(ValueError):
        nninit.materialize(str(out), config=str(llama), scheme="hf", rank=3, world_size=2)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "llama.json"]


def test_materialize_through_a_file_leaves_nothing(tmp_path, llama):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with pytest.raises(OSError):
        nninit.materialize(str(blocker / "model"), config=str(llama), scheme="hf", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "llama.json"]
