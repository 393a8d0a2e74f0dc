"""nninit.torch: torch.nn.init's functions on nninit's streams (skipped without torch)."""

import numpy as np
import pytest

import nninit

try:
    import torch
except ImportError:
    torch = None

pytestmark = pytest.mark.skipif(torch is None, reason="PyTorch is not installed (pip install torch to run these)")

if torch is not None:
    import nninit.torch as nt

CALLS = [
    ("normal_", {"mean": 0.5, "std": 0.02}, "normal", {"mean": 0.5, "std": 0.02}),
    ("uniform_", {"a": -0.1, "b": 0.2}, "uniform", {"low": -0.1, "high": 0.2}),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}, "kaiming_normal",
     {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_uniform_", {"a": 0.1}, "kaiming_uniform", {"nonlinearity": "leaky_relu", "param": 0.1}),
    ("xavier_normal_", {"gain": 2.0}, "xavier_normal", {"gain": 2.0}),
    ("xavier_uniform_", {}, "xavier_uniform", {}),
    ("trunc_normal_", {"std": 0.5, "a": -1.0, "b": 1.0}, "truncated_normal",
     {"std": 0.5, "low": -1.0, "high": 1.0}),
    ("orthogonal_", {"gain": 1.5}, "orthogonal", {"gain": 1.5}),
]


@pytest.mark.parametrize("fn,kwargs,rule,params", CALLS)
def test_cpu_tensor_is_filled_in_place_with_samples_values(fn, kwargs, rule, params):
    t = torch.empty(48, 32, 3)
    ptr = t.data_ptr()
    assert getattr(nt, fn)(t, **kwargs, seed=4, name="w") is t
    assert t.data_ptr() == ptr
    want = nninit.sample(rule, (48, 32, 3), seed=4, name="w", **params)
    assert t.numpy().tobytes() == want.tobytes()


@pytest.mark.parametrize("fn,kwargs,rule,params", CALLS)
def test_torch_stream_gives_torch_nn_inits_values(fn, kwargs, rule, params):
    t = torch.empty(40, 24)
    getattr(nt, fn)(t, **kwargs, seed=9, name="ignored", rng="torch")
    torch.manual_seed(9)
    ref = getattr(torch.nn.init, fn)(torch.empty(40, 24), **kwargs)
    if fn == "orthogonal_":
        # The library documents orthogonal_ to about 1e-6 (its QR is not LAPACK's); the rest bit for bit.
        assert torch.allclose(t, ref, rtol=0, atol=1e-5), fn
    else:
        assert torch.equal(t, ref), fn


def test_non_contiguous_and_bf16_tensors_go_through_one_host_buffer():
    base = torch.zeros(32, 16)
    t = base.t()
    assert not t.is_contiguous()
    nt.normal_(t, std=0.1, seed=1, name="n")
    assert t.contiguous().numpy().tobytes() == nninit.sample("normal", (16, 32), seed=1, name="n", std=0.1).tobytes()
    b = torch.empty(8, 8, dtype=torch.bfloat16)
    nt.xavier_uniform_(b, seed=1, name="b")
    bits = nninit.sample("xavier_uniform", (8, 8), seed=1, name="b", dtype="bfloat16")
    assert b.view(torch.int16).numpy().view(np.uint16).tobytes() == bits.tobytes()


def test_constants_and_parameters():
    p = torch.nn.Parameter(torch.empty(5, 5))
    nt.constant_(p, 0.25)
    assert torch.all(p == 0.25) and p.requires_grad
    nt.ones_(p)
    assert torch.all(p == 1)
    nt.zeros_(p)
    assert torch.all(p == 0)


def test_errors():
    with pytest.raises(ValueError, match="int64"):
        nt.normal_(torch.empty(3, dtype=torch.int64), seed=0, name="x")
    with pytest.raises(ValueError, match="meta"):
        nt.normal_(torch.empty(3, device="meta"), seed=0, name="x")
    with pytest.raises(ValueError, match="cannot compute fans"):
        nt.kaiming_normal_(torch.empty(3), seed=0, name="x")


def _model():
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, groups=1),
        torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(8 * 6 * 6, 32),
        torch.nn.LayerNorm(32),
        torch.nn.Linear(32, 10, bias=False),
    )


class _Net(torch.nn.Module if torch is not None else object):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(50, 16, padding_idx=0)
        self.lstm = torch.nn.LSTM(16, 24, num_layers=2, bidirectional=True)
        self.attn = torch.nn.MultiheadAttention(48, 4)
        self.head = torch.nn.Linear(48, 50)


@pytest.mark.parametrize("build", [_model, _Net])
def test_reset_equals_construction_under_manual_seed(build):
    torch.manual_seed(123)
    want = build().state_dict()
    torch.manual_seed(999)
    model = build()
    state = torch.random.get_rng_state()
    nt.reset_(model, seed=123)
    assert torch.equal(torch.random.get_rng_state(), state)
    got = model.state_dict()
    assert list(got) == list(want)
    for key in want:
        assert torch.equal(got[key], want[key]), key


def test_reset_refuses_unknown_modules_by_name():
    class Custom(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(3))

    model = torch.nn.Sequential(torch.nn.Linear(3, 3), Custom(), torch.nn.GroupNorm(1, 3))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=r"`1` \(Custom\), `2` \(GroupNorm\)"):
        nt.reset_(model, seed=0)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


def test_apply_gives_materializes_bytes(tmp_path):
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    safetensors_numpy = pytest.importorskip("safetensors.numpy", reason="safetensors is not installed")
    import json
    import glob

    cfg = transformers.LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, vocab_size=100,
                                   tie_word_embeddings=False)
    model = transformers.LlamaForCausalLM(cfg)
    nt.apply_(model, "megatron", seed=5)
    config = model.config.to_dict()
    config["architectures"] = config.get("architectures") or ["LlamaForCausalLM"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    nninit.materialize(str(tmp_path / "out"), config=str(path), scheme="megatron", seed=5, progress=False)
    written = {}
    for f in glob.glob(str(tmp_path / "out" / "*.safetensors")):
        written.update(safetensors_numpy.load_file(f))
    params = dict(model.named_parameters())
    assert set(written) == set(params)
    for name, values in written.items():
        assert params[name].detach().numpy().tobytes() == values.tobytes(), name


def test_apply_refuses_unknown_parameters_by_name():
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    cfg = transformers.LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                                   num_attention_heads=4, num_key_value_heads=2, vocab_size=100)
    model = transformers.LlamaForCausalLM(cfg)
    model.extra = torch.nn.Linear(3, 3)
    with pytest.raises(ValueError, match=r"extra\.weight, extra\.bias"):
        nt.apply_(model, "hf", seed=0)
