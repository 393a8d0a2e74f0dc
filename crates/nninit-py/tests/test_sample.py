"""nninit.sample against `nninit sample`: same bits, slices, out=, errors."""

import numpy as np
import pytest

import nninit
from conftest import cli_message

CASES = [
    ("normal", (64, 32), {"std": 0.02}, []),
    ("kaiming_normal", (16, 8, 3, 3), {"nonlinearity": "leaky_relu", "param": 0.2, "mode": "fan_out"},
     ["--nonlinearity", "leaky_relu", "--param", "0.2", "--mode", "fan_out"]),
    ("xavier_uniform", (3, 3, 16, 32), {"layout": "jax"}, ["--layout", "jax"]),
    ("trunc_normal", (100,), {"std": 0.5, "a": -1.0, "b": 1.0}, ["--std", "0.5", "-a", "-1", "-b", "1"]),
    ("orthogonal", (20, 30), {"gain": 1.5}, ["--gain", "1.5"]),
    ("uniform", (7, 5), {"low": -0.1, "high": 0.3}, ["--low", "-0.1", "--high", "0.3"]),
]


def _cli_args(params, flags):
    if flags:
        return flags
    return [a for k, v in params.items() for a in (f"--{k}", str(v))]


def _kwargs(params):
    return {k: v for k, v in params.items()}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rule,shape,params,flags", CASES)
def test_values_equal_the_cli(cli, tmp_path, rule, shape, params, flags, dtype):
    path = tmp_path / "t.npy"
    cli("sample", rule, "--shape", ",".join(map(str, shape)), "--seed", 7, "--name", "w",
        "--dtype", dtype, "--out", path, *_cli_args(params, flags))
    got = nninit.sample(rule, shape, seed=7, name="w", dtype=dtype, **_kwargs(params))
    want = np.load(path)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("rule,shape,params,flags", [CASES[0], CASES[1], CASES[4], CASES[5]])
def test_torch_stream_equals_the_cli(cli, tmp_path, rule, shape, params, flags):
    path = tmp_path / "t.npy"
    cli("sample", rule, "--shape", ",".join(map(str, shape)), "--seed", 3, "--name", "w", "--rng", "torch",
        "--out", path, *_cli_args(params, flags))
    got = nninit.sample(rule, shape, seed=3, name="w", rng="torch", **_kwargs(params))
    assert got.tobytes() == np.load(path).tobytes()


def test_f16_equals_the_cli(cli, tmp_path):
    path = tmp_path / "t.npy"
    cli("sample", "normal", "--shape", "33,9", "--seed", 1, "--name", "h", "--dtype", "f16", "--out", path)
    got = nninit.sample("normal", (33, 9), seed=1, name="h", dtype="float16")
    assert got.dtype == np.float16 and got.tobytes() == np.load(path).tobytes()


def test_slice_equals_the_cli_slice(cli, tmp_path):
    path = tmp_path / "t.npy"
    cli("sample", "normal", "--shape", "100,10", "--seed", 5, "--name", "s", "--slice", "123:456", "--out", path)
    got = nninit.sample("normal", (100, 10), seed=5, name="s", slice=(123, 456))
    assert got.tobytes() == np.load(path).tobytes()


@pytest.mark.parametrize("rng", ["philox", "torch"])
@pytest.mark.parametrize("rule,params", [("normal", {"std": 2.0}), ("kaiming_uniform", {}), ("orthogonal", {})])
def test_slice_equals_the_same_elements_of_the_whole(rule, params, rng):
    whole = nninit.sample(rule, (40, 25), seed=11, name="x", rng=rng, **params).ravel()
    for start, end in [(0, 1), (17, 301), (999, 1000), (0, 1000)]:
        part = nninit.sample(rule, (40, 25), seed=11, name="x", rng=rng, slice=(start, end), **params)
        assert part.tobytes() == whole[start:end].tobytes()
    assert nninit.sample(rule, (40, 25), seed=11, name="x", rng=rng, slice=slice(5, 9), **params).tobytes() \
        == whole[5:9].tobytes()


@pytest.mark.parametrize("dtype,np_dtype", [("float32", np.float32), ("float64", np.float64),
                                            ("float16", np.float16), ("bfloat16", np.uint16)])
def test_out_fills_in_place(dtype, np_dtype):
    out = np.full((64, 48), 7, dtype=np_dtype)
    address = out.__array_interface__["data"][0]
    got = nninit.sample("xavier_normal", (64, 48), seed=2, name="o", dtype=dtype, out=out)
    assert got is out
    assert out.__array_interface__["data"][0] == address
    assert out.tobytes() == nninit.sample("xavier_normal", (64, 48), seed=2, name="o", dtype=dtype).tobytes()
    assert not np.all(out == 7)


def test_out_with_a_slice():
    out = np.zeros(10, dtype=np.float32)
    nninit.sample("normal", (20, 20), seed=0, name="z", slice=(50, 60), out=out)
    assert out.tobytes() == nninit.sample("normal", (20, 20), seed=0, name="z").ravel()[50:60].tobytes()


def test_bfloat16_bits_are_the_top_half_of_f32_rounded():
    bits = nninit.sample("normal", (1000,), seed=0, name="b", dtype="bfloat16")
    assert bits.dtype == np.uint16
    values = (bits.astype(np.uint32) << 16).view(np.float32)
    f32 = nninit.sample("normal", (1000,), seed=0, name="b")
    assert np.all(np.abs(values - f32) <= np.abs(f32) * 2.0**-8)


@pytest.mark.parametrize("out,fragment", [
    (np.zeros((3, 3), dtype=np.float64), "dtype float64"),
    (np.zeros((3, 4), dtype=np.float32), "holds 12 elements"),
    (np.zeros((6, 6), dtype=np.float32)[::2, ::2], "C-contiguous"),
])
def test_bad_out_raises_value_error(out, fragment):
    with pytest.raises(ValueError, match=fragment):
        nninit.sample("normal", (3, 3), seed=0, name="w", out=out)


def test_read_only_out_raises_value_error():
    out = np.zeros((3, 3), dtype=np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="not writeable"):
        nninit.sample("normal", (3, 3), seed=0, name="w", out=out)


@pytest.mark.parametrize("rule,shape,kwargs,flags", [
    ("nosuch", (3, 3), {}, []),
    ("normal", (3, 3), {"std": -1.0}, ["--std", "-1"]),
    ("normal", (3, 0), {}, []),
    ("kaiming_normal", (3, 3), {"nonlinearity": "nosuch"}, ["--nonlinearity", "nosuch"]),
    ("kaiming_normal", (3, 3), {"mode": "sideways"}, ["--mode", "sideways"]),
    ("uniform", (3, 3), {"low": 1.0, "high": 0.0}, ["--low", "1", "--high", "0"]),
    ("kaiming_normal", (10,), {}, []),
    ("orthogonal", (4,), {}, []),
])
def test_errors_raise_value_error_with_the_cli_message(cli, tmp_path, rule, shape, kwargs, flags):
    proc = cli("sample", rule, "--shape", ",".join(map(str, shape)), "--name", "w", "--out", tmp_path / "e.npy",
               *flags, check=False)
    with pytest.raises(ValueError) as err:
        nninit.sample(rule, shape, seed=0, name="w", **kwargs)
    message = cli_message(proc)
    if message.startswith("invalid --shape: "):
        message = message[len("invalid --shape: "):]
    assert str(err.value) == message
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("kwargs,fragment", [
    ({"slice": (5, 3)}, "invalid slice 5:3"),
    ({"slice": (0, 10)}, "invalid slice 0:10 for a tensor of 9 elements"),
    ({"dtype": "int64"}, "unknown dtype"),
    ({"rng": "torch", "dtype": "bfloat16"}, "f32 and f64"),
    ({"rng": "mersenne"}, "unknown rng"),
    ({"seed": -1}, "invalid seed"),
    ({"param": 0.1}, "param="),
    ({"layout": "sideways"}, "layout"),
    ({"frobnicate": 1}, "unknown initializer parameter `frobnicate`"),
])
def test_bad_arguments_raise_value_error(kwargs, fragment):
    args = {"seed": 0, "name": "w", **kwargs}
    with pytest.raises(ValueError, match=fragment):
        nninit.sample("normal", (3, 3), **args)


def test_every_function_has_a_docstring():
    for name in nninit.__all__:
        obj = getattr(nninit, name)
        if callable(obj):
            assert obj.__doc__ and len(obj.__doc__) > 40, name


@pytest.mark.parametrize("kwargs", [{"fan_in": -1, "fan_out": 3}, {"fan_in": 2.5, "fan_out": 3}])
def test_negative_or_fractional_counts_raise_value_error(kwargs):
    with pytest.raises(ValueError, match="fan_in"):
        nninit.sample("normal", (3,), seed=0, name="b", **kwargs)
    with pytest.raises(ValueError, match="rank"):
        nninit.materialize("unused", preset="gpt2", scheme="hf", rank=-1)


def test_huge_shapes_raise_value_error_before_allocating():
    with pytest.raises(ValueError, match="more elements than fit in 64 bits"):
        nninit.sample("normal", (2**40, 2**40), seed=0, name="w")
    with pytest.raises(ValueError, match="out of range"):
        nninit.sample("orthogonal", (100000, 100000), seed=0, name="w")
