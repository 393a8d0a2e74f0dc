//! Bad input, tried for real: the real binary on well over 80 bad invocations
//! across every subcommand. Each must exit with code 2, print exactly one
//! line on stderr that starts with `nninit: `, not panic, leave nothing
//! behind in its folder (not even a temporary) and change no file there, and
//! finish within [`DEADLINE`].
//!
//! The damaged inputs are made here from real ones: safetensors files that
//! `nninit sample` and `nninit materialize` wrote, and a config, a module
//! list and an experiment that are first shown to work (the controls in
//! [`Fixtures::new`]), so that each row fails for the one reason it names.
//!
//! Run with `--nocapture` to see the count per subcommand.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Ended, exit_description, nninit_bounded};
use serde_json::{Value, json};

/// Longer than any bad input may take, even on a loaded machine: an error
/// comes before any work.
const DEADLINE: Duration = Duration::from_secs(20);

/// A GPT-2 small enough that materializing it takes milliseconds.
const TINY_GPT2: &str =
    r#"{"model_type": "gpt2", "n_embd": 8, "n_layer": 1, "n_head": 2, "vocab_size": 16, "n_positions": 8}"#;
/// A Llama with grouped-query attention, as small.
const TINY_LLAMA: &str = r#"{"model_type": "llama", "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 16}"#;
/// A BERT, as small.
const TINY_BERT: &str = r#"{"model_type": "bert", "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16, "vocab_size": 16, "max_position_embeddings": 8, "type_vocab_size": 2}"#;
/// A ViT, as small.
const TINY_VIT: &str = r#"{"model_type": "vit", "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16, "image_size": 8, "patch_size": 4, "num_channels": 3}"#;
/// A module list with one of everything the rows below break.
const MODULES: &str = r#"[{"type": "Linear", "name": "fc", "in_features": 3, "out_features": 4}]"#;
/// An experiment that trains in well under a second.
const EXPERIMENT: &str = r#"name = "bad"
description = "a tiny experiment that the rows below break one key at a time"
dataset = "digits"
seeds = 1

[model]
kind = "mlp"
depth = 2
width = 8
activation = "relu"

[train]
optimizer = "sgd"
lr = 0.05
steps = 2
batch = 8
eval_every = 1
probe_batch = 8

[[init]]
name = "He"
rule = "kaiming_normal"
"#;

/// `base` with its one occurrence of `from` replaced by `to`.
fn with(base: &str, from: &str, to: &str) -> String {
    assert_eq!(base.matches(from).count(), 1, "`{from}` must occur once in {base}");
    base.replacen(from, to, 1)
}

fn gpt2(from: &str, to: &str) -> String {
    with(TINY_GPT2, from, to)
}

fn llama(from: &str, to: &str) -> String {
    with(TINY_LLAMA, from, to)
}

fn toml(from: &str, to: &str) -> String {
    with(EXPERIMENT, from, to)
}

/// The real files the damaged ones are made from.
struct Fixtures {
    /// Holds the controls' folder until the rows have run.
    _dir: tempfile::TempDir,
    /// `nninit sample`: one f32 tensor `w` of shape [4, 3].
    one: Vec<u8>,
    /// `nninit materialize --torch-modules`: `fc.weight` [4, 3] and `fc.bias` [4].
    two: Vec<u8>,
    /// The `results.jsonl` of a finished `nninit lab run`.
    results: Vec<u8>,
}

impl Fixtures {
    /// Writes the real inputs, and shows that each undamaged input works, so
    /// that a row fails only for the damage it names.
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let d = dir.path();
        let files: [(&str, &str); 6] = [
            ("gpt2.json", TINY_GPT2),
            ("llama.json", TINY_LLAMA),
            ("bert.json", TINY_BERT),
            ("vit.json", TINY_VIT),
            ("modules.json", MODULES),
            ("bad.toml", EXPERIMENT),
        ];
        for (name, text) in files {
            std::fs::write(d.join(name), text).expect("writable");
        }
        let good = |args: &str| {
            let args: Vec<&str> = args.split(' ').collect();
            match nninit_bounded(d, &args, &env(), Duration::from_secs(120)) {
                Ended::Exited(out) if out.status.success() => {}
                Ended::Exited(out) => {
                    panic!("control `nninit {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr))
                }
                Ended::TimedOut => panic!("control `nninit {}` did not finish", args.join(" ")),
            }
        };
        good("sample normal --shape 4,3 --seed 1 --name w --out one.safetensors");
        good("materialize --torch-modules modules.json --out two.safetensors");
        for model in ["gpt2", "llama", "bert", "vit"] {
            good(&format!("materialize --config {model}.json --scheme hf --out {model}"));
        }
        good("doctor one.safetensors");
        good("doctor two.safetensors");
        good("lab run bad.toml --out lab --jobs 1");
        let read = |name: &str| std::fs::read(d.join(name)).expect("the control wrote it");
        let (one, two, results) = (read("one.safetensors"), read("two.safetensors"), read("lab/results.jsonl"));
        Self { _dir: dir, one, two, results }
    }
}

/// The environment of every run: no fetched data anywhere.
fn env() -> Vec<(&'static str, &'static OsStr)> {
    vec![("NNINIT_DATA", OsStr::new("/nonexistent/nninit-bad-inputs-data"))]
}

/// A safetensors file's header (as JSON) and data.
fn split(file: &[u8]) -> (Value, Vec<u8>) {
    let n = u64::from_le_bytes(file[..8].try_into().expect("8 bytes")) as usize;
    let header = serde_json::from_slice(&file[8..8 + n]).expect("a real header");
    (header, file[8 + n..].to_vec())
}

/// A safetensors file from a header and data.
fn join(header: &Value, data: &[u8]) -> Vec<u8> {
    let text = serde_json::to_vec(header).expect("serializable");
    raw(text.len() as u64, &[&text[..], data].concat())
}

/// A file whose first 8 bytes claim a header of `len` bytes.
fn raw(len: u64, rest: &[u8]) -> Vec<u8> {
    [&len.to_le_bytes()[..], rest].concat()
}

/// `file` with its header changed by `edit`.
fn edited(file: &[u8], edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let (mut header, data) = split(file);
    edit(&mut header);
    join(&header, &data)
}

/// Replaces tensor `name`'s `key` in a header.
fn set(header: &mut Value, name: &str, key: &str, value: Value) {
    header[name][key] = value;
}

/// Makes a file's bytes from the real inputs.
type Make = fn(&Fixtures) -> Vec<u8>;

/// What a row creates in its folder before the run.
enum Input {
    Text(String),
    Made(Make),
    Dir,
}

/// One bad invocation: why it is bad, its arguments, and its files.
struct Row {
    why: &'static str,
    args: Vec<String>,
    files: Vec<(&'static str, Input)>,
}

/// A row whose arguments are `args` split at spaces.
fn row(why: &'static str, args: &str) -> Row {
    Row { why, args: args.split(' ').map(str::to_string).collect(), files: Vec::new() }
}

/// A row with arguments given one by one (for an empty or spaced argument).
fn row_args(why: &'static str, args: &[&str]) -> Row {
    Row { why, args: args.iter().map(|a| a.to_string()).collect(), files: Vec::new() }
}

impl Row {
    fn text(mut self, name: &'static str, text: impl Into<String>) -> Self {
        self.files.push((name, Input::Text(text.into())));
        self
    }

    fn made(mut self, name: &'static str, make: Make) -> Self {
        self.files.push((name, Input::Made(make)));
        self
    }

    fn dir(mut self, name: &'static str) -> Self {
        self.files.push((name, Input::Dir));
        self
    }

    /// The subcommand (and input form) the row counts for.
    fn group(&self) -> String {
        let a: Vec<&str> = self.args.iter().map(String::as_str).collect();
        match a.first().copied() {
            Some("materialize") => {
                let form = ["--config", "--preset", "--torch-modules"].into_iter().find(|f| a.contains(f));
                format!("materialize {}", form.unwrap_or("(no input)"))
            }
            Some("lab") => match a.get(1).copied() {
                Some(sub @ ("run" | "report")) => format!("lab {sub}"),
                _ => "lab".to_string(),
            },
            Some(s @ ("sample" | "explain" | "gain" | "theory" | "doctor" | "probe" | "data")) => s.to_string(),
            _ => "nninit (no subcommand)".to_string(),
        }
    }
}

/// Every bad invocation, by subcommand.
fn rows() -> Vec<Row> {
    let mut rows = Vec::new();
    rows.extend(top_level());
    rows.extend(sample());
    rows.extend(explain());
    rows.extend(gain());
    rows.extend(theory());
    rows.extend(doctor());
    rows.extend(materialize_config());
    rows.extend(materialize_preset());
    rows.extend(materialize_modules());
    rows.extend(lab_run());
    rows.extend(lab_report());
    rows.extend(probe());
    rows.extend(data());
    rows
}

fn top_level() -> Vec<Row> {
    vec![
        row_args("no subcommand at all", &[]),
        row("an unknown subcommand", "frobnicate"),
        row("an unknown option", "--frobnicate"),
    ]
}

fn sample() -> Vec<Row> {
    const ONE: Make = |f| f.one.clone();
    vec![
        row("no arguments: --name and --out are required", "sample"),
        row("no --out", "sample normal --shape 4 --name w"),
        row("10^16 elements cannot be allocated", "sample normal --shape 100000000000,100000 --name w --out x.npy"),
        row(
            "PyTorch's stream draws the whole 10^16 elements even for a slice of one",
            "sample normal --shape 100000000000,100000 --rng torch --slice 0:1 --name w --out x.npy",
        ),
        row("10^12 elements (4 TB) cannot be allocated", "sample normal --shape 1000000,1000000 --name w --out x.npy"),
        row(
            "an orthogonal 10^6 x 10^6 needs a QR of 10^12 values",
            "sample orthogonal --shape 1000000,1000000 --name w --out x.npy",
        ),
        row(
            "a sparse 10^16 elements",
            "sample sparse --shape 100000000000,100000 --std 0.01 --sparsity 0.5 --name w --out x.npy",
        ),
        row(
            "2^64 elements overflow the element count",
            "sample normal --shape 4294967296,4294967296 --name w --out x.npy",
        ),
        row("a dimension above 2^64", "sample normal --shape 18446744073709551616 --name w --out x.npy"),
        row("a shape that is not numbers", "sample normal --shape abc --name w --out x.npy"),
        row("a negative dimension", "sample normal --shape 4,-1 --name w --out x.npy"),
        row("an unknown initializer", "sample frobnicate --shape 4 --name w --out x.npy"),
        row(
            "a xavier gain of 1e308 makes the std overflow (issue 19)",
            "sample xavier_normal --shape 64,32 --gain 1e308 --name w --out x.npy",
        ),
        row("a NaN gain", "sample xavier_uniform --shape 64,32 --gain nan --name w --out x.npy"),
        row(
            "leaky_relu's slope 1e200 makes Kaiming's gain underflow (issue 19)",
            "sample kaiming_normal --shape 8,8 --nonlinearity leaky_relu --param 1e200 --name w --out x.npy",
        ),
        row("an unknown nonlinearity", "sample kaiming_normal --shape 8,8 --nonlinearity frob --name w --out x.npy"),
        row("a NaN lower end (before-stop hook)", "sample uniform -a nan -b 1 --shape 4 --seed 1 --name w --out x.npy"),
        row("uniform with low > high", "sample uniform -a 2 -b 1 --shape 4 --name w --out x.npy"),
        row("a negative std", "sample normal --std -1 --shape 4 --name w --out x.npy"),
        row("an infinite std", "sample normal --std inf --shape 4 --name w --out x.npy"),
        row("a mean of 1e309 is infinite", "sample normal --mean 1e309 --shape 4 --name w --out x.npy"),
        row("an unknown dtype", "sample normal --shape 4 --dtype f8 --name w --out x.npy"),
        row("NumPy has no bfloat16", "sample normal --shape 4 --dtype bf16 --name w --out x.npy"),
        row("initializers draw floats, not i64", "sample normal --shape 4 --dtype i64 --name w --out x.npy"),
        row("an output that is neither .npy nor .safetensors", "sample normal --shape 4 --name w --out x.txt"),
        row("the output's folder does not exist", "sample normal --shape 4 --name w --out nodir/x.npy"),
        row("the output is a folder", "sample normal --shape 4 --name w --out d.npy").dir("d.npy"),
        row("the output's parent is a file", "sample normal --shape 4 --name w --out f/x.npy").text("f", "a file"),
        row(
            "a bad rule must not touch an existing output",
            "sample normal --std -1 --shape 4 --name w --out x.safetensors",
        )
        .made("x.safetensors", ONE),
        row("a slice whose start is after its end", "sample normal --shape 4 --slice 3:2 --name w --out x.npy"),
        row("a slice past the end", "sample normal --shape 4 --slice 0:999 --name w --out x.npy"),
        row("a slice that is not numbers", "sample normal --shape 4 --slice a:b --name w --out x.npy"),
        row("a slice without a colon", "sample normal --shape 4 --slice 3 --name w --out x.npy"),
        row(
            "PyTorch's stream is not reproduced in bf16",
            "sample normal --shape 4 --rng torch --dtype bf16 --name w --out x.safetensors",
        ),
        row("an unknown torch kernel", "sample normal --shape 4 --rng torch --torch-kernel frob --name w --out x.npy"),
        row("an unknown --rng", "sample normal --shape 4 --rng mt --name w --out x.npy"),
        row("a negative seed", "sample normal --shape 4 --seed -1 --name w --out x.npy"),
        row("a seed above 2^64", "sample normal --shape 4 --seed 18446744073709551616 --name w --out x.npy"),
        row("an unknown layout", "sample normal --shape 4,4 --layout frob --name w --out x.npy"),
        row("zero groups", "sample kaiming_normal --shape 4,4,3,3 --groups 0 --name w --out x.npy"),
        row("fans of zero", "sample kaiming_normal --shape 8 --fan-in 0 --fan-out 0 --name w --out x.npy"),
        row("--fan-in without --fan-out", "sample kaiming_normal --shape 8 --fan-in 3 --name w --out x.npy"),
        row("normal takes no gain", "sample normal --shape 4 --gain 2 --name w --out x.npy"),
        row("orthogonal needs two dimensions", "sample orthogonal --shape 4 --name w --out x.npy"),
        row("dirac needs three to five dimensions", "sample dirac --shape 4,4 --name w --out x.npy"),
        row("a sparsity above 1", "sample sparse --shape 4,4 --std 0.01 --sparsity 1.5 --name w --out x.npy"),
        row(
            "truncation bounds in the wrong order",
            "sample truncated_normal --shape 4 --lower 2 --upper 1 --name w --out x.npy",
        ),
    ]
}

fn explain() -> Vec<Row> {
    vec![
        row("no initializer and no model", "explain"),
        row("an initializer without --shape", "explain normal"),
        row("--shape without an initializer", "explain --shape 4,4"),
        row("a xavier gain of 1e308 (issue 19)", "explain xavier_uniform --shape 64,32 --gain 1e308"),
        row("a std of 1e309 is infinite (before-stop hook)", "explain normal --shape 10,10 --std 1e309"),
        row(
            "leaky_relu's slope 1e250 makes Kaiming's gain underflow (before-stop hook)",
            "explain kaiming_uniform --shape 8,8 --nonlinearity leaky_relu --param 1e250",
        ),
        row(
            "leaky_relu's slope 1e200 (issue 19)",
            "explain kaiming_normal --shape 8,8 --nonlinearity leaky_relu --param 1e200",
        ),
        row("a negative scale", "explain variance_scaling --shape 8,8 --scale -1"),
        row("xavier on fans of zero divides by zero", "explain xavier_normal --shape 0,0"),
        row("an unknown fan mode", "explain kaiming_normal --shape 8,8 --mode frob"),
        row("Kaiming on a vector without fans", "explain kaiming_normal --shape 4"),
        row("eye needs two dimensions", "explain eye --shape 4,4,4"),
        row("a layout whose axes overlap", "explain kaiming_normal --shape 4,4 --layout axes:0;0"),
        row("a layout whose axes are out of range", "explain kaiming_normal --shape 4,4 --layout axes:5;6"),
        row("3 groups do not divide 4 channels", "explain kaiming_normal --shape 4,4,3,3 --groups 3"),
        row("a NaN constant", "explain constant --shape 4 --value nan"),
        row("an unknown distribution", "explain variance_scaling --shape 8,8 --distribution frob"),
        row("an unknown correction", "explain truncated_normal --shape 4 --lower -2 --upper 2 --correction frob"),
        row("an initializer and a model at once", "explain normal --shape 4,4 --preset gpt2 --scheme hf"),
        row("--config and --preset at once", "explain --config gpt2.json --preset gpt2 --scheme hf")
            .text("gpt2.json", TINY_GPT2),
        row("an unknown preset", "explain --preset gpt5 --scheme hf"),
        row("a model without --scheme", "explain --preset gpt2"),
        row("an unknown scheme", "explain --preset gpt2 --scheme frob"),
        row("μP with a base width of 0", "explain --preset gpt2 --scheme mup:0"),
        row("μP with a base width that is not a number", "explain --preset gpt2 --scheme mup:abc"),
        row("an unknown dtype for the plan", "explain --preset gpt2 --scheme hf --dtype f8"),
        row("heads that do not divide the width", "explain --config c.json --scheme hf")
            .text("c.json", gpt2(r#""n_head": 2"#, r#""n_head": 3"#)),
        row("a config that does not exist", "explain --config missing.json --scheme hf"),
    ]
}

fn gain() -> Vec<Row> {
    vec![
        row("no activation", "gain"),
        row("--json but no activation", "gain --json"),
        row("an unknown activation", "gain frob"),
        row("a NaN slope", "gain leaky_relu --param nan"),
        row("an infinite slope", "gain leaky_relu --param inf"),
        row("relu takes no parameter", "gain relu --param 0.5"),
        row("a negative ELU alpha", "gain elu --param -1"),
        row("a softplus beta of 0", "gain softplus --param 0"),
        row("a negative hardtanh bound", "gain hardtanh --param -1"),
        row("--param without a value", "gain tanh --param"),
    ]
}

fn theory() -> Vec<Row> {
    vec![
        row("no activation", "theory"),
        row("an unknown activation", "theory frob"),
        row("an infinite σ_w² (before-stop hook)", "theory relu --sigma-w2 inf"),
        row("a negative σ_w²", "theory relu --sigma-w2 -1"),
        row("a NaN σ_w²", "theory relu --sigma-w2 nan"),
        row("a negative σ_b²", "theory relu --sigma-b2 -1"),
        row("a depth of 0", "theory tanh --depth 0"),
        row("a depth above 2^64", "theory tanh --depth 99999999999999999999999"),
        row("a plot that is neither SVG nor PNG", "theory tanh --plot x.pdf"),
        row("a grid of one point", "theory tanh --plot x.svg --grid 1"),
        row("a grid of 10^5 x 10^5 points", "theory tanh --plot x.svg --grid 100000"),
        row("the plot's folder does not exist", "theory tanh --plot nodir/x.svg"),
        row("the plot is a folder", "theory tanh --plot d.svg").dir("d.svg"),
        row("a largest σ_w² of 0", "theory tanh --plot x.svg --sigma-w2-max 0"),
        row("an infinite largest σ_b²", "theory tanh --edge --sigma-b2-max inf"),
    ]
}

fn doctor() -> Vec<Row> {
    /// Each damage, from the real single-tensor file unless it needs two.
    const DAMAGED: &[(&str, Make)] = &[
        ("an empty file", |_| Vec::new()),
        ("a file shorter than its 8-byte header length", |f| f.one[..5].to_vec()),
        ("a header length of 2^60", |f| raw(1 << 60, &f.one[8..])),
        ("a header length of 2^64 - 1", |f| raw(u64::MAX, &f.one[8..])),
        ("a header length past the end of the file", |f| raw(f.one.len() as u64, &f.one[8..])),
        ("a header length of 0", |f| raw(0, &f.one[8..])),
        ("a header cut in the middle", |f| {
            let n = u64::from_le_bytes(f.one[..8].try_into().unwrap()) as usize;
            f.one[..8 + n / 2].to_vec()
        }),
        ("data cut short by 4 bytes", |f| f.one[..f.one.len() - 4].to_vec()),
        ("a header and no data", |f| {
            let n = u64::from_le_bytes(f.one[..8].try_into().unwrap()) as usize;
            f.one[..8 + n].to_vec()
        }),
        ("a header that is not JSON", |f| {
            let n = u64::from_le_bytes(f.one[..8].try_into().unwrap()) as usize;
            raw(n as u64, &[&vec![b'#'; n][..], &f.one[8 + n..]].concat())
        }),
        ("a header that is a JSON list", |f| join(&json!([1, 2]), &split(&f.one).1)),
        ("a tensor entry that is a number", |f| edited(&f.one, |h| h["w"] = json!(5))),
        ("offsets past the end of the data", |f| edited(&f.one, |h| set(h, "w", "data_offsets", json!([0, 4096])))),
        ("offsets in reverse order", |f| edited(&f.one, |h| set(h, "w", "data_offsets", json!([48, 0])))),
        ("offsets whose length is not the shape's", |f| edited(&f.one, |h| set(h, "w", "shape", json!([4, 4])))),
        ("offsets near 2^64", |f| edited(&f.one, |h| set(h, "w", "data_offsets", json!([u64::MAX - 7, u64::MAX])))),
        ("one offset instead of two", |f| edited(&f.one, |h| set(h, "w", "data_offsets", json!([0])))),
        ("offsets that are strings", |f| edited(&f.one, |h| set(h, "w", "data_offsets", json!(["0", "48"])))),
        ("no data_offsets", |f| edited(&f.one, |h| drop(h["w"].as_object_mut().unwrap().remove("data_offsets")))),
        ("no dtype", |f| edited(&f.one, |h| drop(h["w"].as_object_mut().unwrap().remove("dtype")))),
        ("two tensors over the same bytes", |f| {
            edited(&f.two, |h| {
                let weight = h["fc.weight"]["data_offsets"].clone();
                h["fc.bias"]["shape"] = json!([4, 3]);
                h["fc.bias"]["data_offsets"] = weight;
            })
        }),
        ("two tensors that overlap by 4 bytes", |f| {
            edited(&f.two, |h| {
                let end = h["fc.weight"]["data_offsets"][1].as_u64().unwrap();
                h["fc.bias"]["data_offsets"] = json!([end - 4, end + 12]);
            })
        }),
        ("an unknown dtype F128", |f| edited(&f.one, |h| set(h, "w", "dtype", json!("F128")))),
        ("a dtype that is a number", |f| edited(&f.one, |h| set(h, "w", "dtype", json!(7)))),
        ("a shape whose byte size overflows u64 (2^62 x 8 f32)", |f| {
            edited(&f.one, |h| set(h, "w", "shape", json!([1u64 << 62, 8])))
        }),
        ("a shape whose element count overflows u64", |f| {
            edited(&f.one, |h| set(h, "w", "shape", json!([1u64 << 32, 1u64 << 32, 1u64 << 32])))
        }),
        ("a shape of 2^62 f32 (2^64 bytes)", |f| edited(&f.one, |h| set(h, "w", "shape", json!([1u64 << 62])))),
        ("a negative dimension", |f| edited(&f.one, |h| set(h, "w", "shape", json!([-1, 3])))),
        ("a shape that is a string", |f| edited(&f.one, |h| set(h, "w", "shape", json!("4x3")))),
        ("metadata that is not a map of strings", |f| edited(&f.one, |h| h["__metadata__"] = json!({"a": 1}))),
    ];
    let mut rows: Vec<Row> = DAMAGED
        .iter()
        .map(|(why, make)| Row {
            why,
            args: vec!["doctor".into(), "x.safetensors".into()],
            files: vec![("x.safetensors", Input::Made(*make))],
        })
        .collect();
    const ONE: Make = |f| f.one.clone();
    rows.extend([
        row("a path that does not exist", "doctor missing.safetensors"),
        row("/dev/null (before-stop hook)", "doctor /dev/null"),
        row("a folder without weights", "doctor d").dir("d"),
        row("an index that is not JSON", "doctor d").dir("d").text("d/model.safetensors.index.json", "{ not json"),
        row("an index that names a missing shard", "doctor d")
            .dir("d")
            .text("d/model.safetensors.index.json", r#"{"weight_map": {"w": "model-00001-of-00002.safetensors"}}"#),
        row("an index that names a tensor its shard lacks", "doctor d")
            .dir("d")
            .made("d/model-00001-of-00001.safetensors", ONE)
            .text("d/model.safetensors.index.json", r#"{"weight_map": {"v": "model-00001-of-00001.safetensors"}}"#),
        row("a config.json beside the weights that is not JSON", "doctor d")
            .dir("d")
            .made("d/model.safetensors", ONE)
            .text("d/config.json", "{ not json"),
        row("2^46 power iterations would never finish (issue 19)", "doctor x.safetensors --iterations 99999999999999")
            .made("x.safetensors", ONE),
        row("a negative iteration count", "doctor x.safetensors --iterations -1").made("x.safetensors", ONE),
        row("an unknown expected scheme", "doctor x.safetensors --expect frob").made("x.safetensors", ONE),
        row("a --config that does not exist", "doctor x.safetensors --config missing.json").made("x.safetensors", ONE),
        row("a --config with 10^12 layers", "doctor x.safetensors --config c.json")
            .made("x.safetensors", ONE)
            .text("c.json", llama(r#""num_hidden_layers": 1"#, r#""num_hidden_layers": 1000000000000"#)),
        row("no path", "doctor"),
    ]);
    rows
}

fn materialize_config() -> Vec<Row> {
    let cfg = |why: &'static str, text: String| {
        row(why, "materialize --config c.json --scheme hf --out out").text("c.json", text)
    };
    vec![
        cfg("JSON cut short", r#"{"model_type": "gpt2","#.into()),
        cfg("an empty file", String::new()),
        cfg("a JSON list, not an object", "[1, 2]".into()),
        cfg("no model_type (missing key)", "{}".into()),
        cfg("a model_type that is a number (wrong type)", gpt2(r#""gpt2""#, "7")),
        cfg("an unknown model_type", gpt2(r#""gpt2""#, r#""gpt5""#)),
        cfg("n_layer a string (wrong type)", gpt2(r#""n_layer": 1"#, r#""n_layer": "one""#)),
        cfg("n_layer a float (wrong type)", gpt2(r#""n_layer": 1"#, r#""n_layer": 1.5"#)),
        cfg("a negative n_embd", gpt2(r#""n_embd": 8"#, r#""n_embd": -8"#)),
        cfg("n_embd 0", gpt2(r#""n_embd": 8"#, r#""n_embd": 0"#)),
        cfg("n_head 0", gpt2(r#""n_head": 2"#, r#""n_head": 0"#)),
        cfg("3 heads do not divide a width of 8", gpt2(r#""n_head": 2"#, r#""n_head": 3"#)),
        cfg("n_layer 10^12", gpt2(r#""n_layer": 1"#, r#""n_layer": 1000000000000"#)),
        cfg("n_layer above 2^64", gpt2(r#""n_layer": 1"#, r#""n_layer": 18446744073709551616"#)),
        cfg("a vocabulary of 10^15", gpt2(r#""vocab_size": 16"#, r#""vocab_size": 1000000000000000"#)),
        cfg("10^13 positions", gpt2(r#""n_positions": 8"#, r#""n_positions": 10000000000000"#)),
        cfg("a width of 2^62: every product overflows", gpt2(r#""n_embd": 8"#, r#""n_embd": 4611686018427387904"#)),
        cfg("a negative initializer_range", gpt2("}", r#", "initializer_range": -0.02}"#)),
        cfg("initializer_range a string", gpt2("}", r#", "initializer_range": "0.02"}"#)),
        cfg("tie_word_embeddings a string", gpt2("}", r#", "tie_word_embeddings": "yes"}"#)),
        cfg("a class nninit does not build", gpt2("}", r#", "architectures": ["GPT2ForSequenceClassification"]}"#)),
        cfg(
            "architectures a string, not a list (silently ignored, the default class is built)",
            gpt2("}", r#", "architectures": "GPT2LMHeadModel"}"#),
        ),
        cfg(
            "num_hidden_layers 10^12 (issue 19)",
            llama(r#""num_hidden_layers": 1"#, r#""num_hidden_layers": 1000000000000"#),
        ),
        cfg("a hidden size of 10^12", llama(r#""hidden_size": 8"#, r#""hidden_size": 1000000000000"#)),
        cfg(
            "an intermediate size of 10^12",
            llama(r#""intermediate_size": 16"#, r#""intermediate_size": 1000000000000"#),
        ),
        cfg(
            "2 attention heads are not a multiple of 3 key-value heads",
            llama(r#""num_key_value_heads": 1"#, r#""num_key_value_heads": 3"#),
        ),
        cfg("head_dim 0", llama("}", r#", "head_dim": 0}"#)),
        cfg(
            "BERT: 3 heads do not divide 8",
            with(TINY_BERT, r#""num_attention_heads": 2"#, r#""num_attention_heads": 3"#),
        ),
        cfg("ViT: a patch size of 0", with(TINY_VIT, r#""patch_size": 4"#, r#""patch_size": 0"#)),
        cfg(
            "ViT: a patch larger than the image leaves no patch to embed",
            with(TINY_VIT, r#""patch_size": 4"#, r#""patch_size": 16"#),
        ),
        row("/dev/null (before-stop hook)", "materialize --config /dev/null --scheme hf --seed 0 --out out"),
        row("a config that does not exist", "materialize --config missing.json --scheme hf --out out"),
        row("a config that is a folder", "materialize --config d --scheme hf --out out").dir("d"),
        row("no --scheme", "materialize --config c.json --out out").text("c.json", TINY_GPT2),
        row("--out is a file", "materialize --config c.json --scheme hf --out f")
            .text("c.json", TINY_GPT2)
            .text("f", "a file"),
        row("--out's parent is a file", "materialize --config c.json --scheme hf --out f/out")
            .text("c.json", TINY_GPT2)
            .text("f", "a file"),
    ]
}

fn materialize_preset() -> Vec<Row> {
    vec![
        row("an unknown preset", "materialize --preset gpt5 --scheme hf --out out"),
        row("an unknown scheme", "materialize --preset gpt2 --scheme frob --out out"),
        row("no --scheme", "materialize --preset gpt2 --out out"),
        row("no --out", "materialize --preset gpt2 --scheme hf"),
        row("models use Philox, not torch's stream", "materialize --preset gpt2 --scheme hf --rng torch --out out"),
        row("weights are not integers", "materialize --preset gpt2 --scheme hf --dtype i64 --out out"),
        row("an unknown dtype", "materialize --preset gpt2 --scheme hf --dtype f8 --out out"),
        row("a shard size of 0", "materialize --preset gpt2 --scheme hf --max-shard-size 0 --out out"),
        row("a shard size that is not a size", "materialize --preset gpt2 --scheme hf --max-shard-size lots --out out"),
        row(
            "a shard size above 2^64 bytes",
            "materialize --preset gpt2 --scheme hf --max-shard-size 100000000000EB --out out",
        ),
        row("rank 1 of a world of 1", "materialize --preset gpt2 --scheme hf --rank 1 --world-size 1 --out out"),
        row("a world of 0", "materialize --preset gpt2 --scheme hf --rank 0 --world-size 0 --out out"),
        row("--rank without --world-size", "materialize --preset gpt2 --scheme hf --rank 0 --out out"),
        row("an unknown write mode", "materialize --preset gpt2 --scheme hf --write-mode frob --out out"),
        row("--out is a file", "materialize --preset gpt2 --scheme hf --out f").text("f", "a file"),
        row(
            "--preset and --torch-modules at once",
            "materialize --preset gpt2 --torch-modules m.json --out x.safetensors",
        )
        .text("m.json", MODULES),
        row("no input at all", "materialize --out out"),
    ]
}

fn materialize_modules() -> Vec<Row> {
    let m = |why: &'static str, text: &str| {
        row(why, "materialize --torch-modules m.json --out x.safetensors").text("m.json", text.to_string())
    };
    vec![
        m("not JSON", "[{"),
        m("an object, not a list", r#"{"type": "Linear", "in_features": 3, "out_features": 4}"#),
        m("an unknown module type", r#"[{"type": "Transformer", "d_model": 8}]"#),
        m("no type", r#"[{"in_features": 3, "out_features": 4}]"#),
        m("a missing in_features", r#"[{"type": "Linear", "out_features": 4}]"#),
        m("in_features a string", r#"[{"type": "Linear", "in_features": "3", "out_features": 4}]"#),
        m("a negative in_features", r#"[{"type": "Linear", "in_features": -3, "out_features": 4}]"#),
        m("out_features 0", r#"[{"type": "Linear", "in_features": 3, "out_features": 0}]"#),
        m("an unknown key", r#"[{"type": "Linear", "in_features": 3, "out_features": 4, "bais": false}]"#),
        m(
            "a Linear of 10^12 x 10^12",
            r#"[{"type": "Linear", "in_features": 1000000000000, "out_features": 1000000000000}]"#,
        ),
        m("a Linear of 10^6 x 10^6 (4 TB)", r#"[{"type": "Linear", "in_features": 1000000, "out_features": 1000000}]"#),
        m(
            "an Embedding of 2^62 x 2^62",
            r#"[{"type": "Embedding", "num_embeddings": 4611686018427387904, "embedding_dim": 4611686018427387904}]"#,
        ),
        m(
            "an LSTM of 10^12 layers",
            r#"[{"type": "LSTM", "input_size": 2, "hidden_size": 2, "num_layers": 1000000000000}]"#,
        ),
        m(
            "3 groups do not divide 4 channels",
            r#"[{"type": "Conv2d", "in_channels": 4, "out_channels": 4, "kernel_size": 3, "groups": 3}]"#,
        ),
        m("a kernel of size 0", r#"[{"type": "Conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": 0}]"#),
        m(
            "a Conv2d kernel with three sizes",
            r#"[{"type": "Conv2d", "in_channels": 3, "out_channels": 4, "kernel_size": [3, 3, 3]}]"#,
        ),
        m("3 heads do not divide 8", r#"[{"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 3}]"#),
        m(
            "padding_idx out of range",
            r#"[{"type": "Embedding", "num_embeddings": 4, "embedding_dim": 2, "padding_idx": 4}]"#,
        ),
        m("proj_size on a GRU", r#"[{"type": "GRU", "input_size": 2, "hidden_size": 4, "proj_size": 2}]"#),
        m(
            "proj_size not below hidden_size",
            r#"[{"type": "LSTM", "input_size": 2, "hidden_size": 4, "proj_size": 4}]"#,
        ),
        row("a module list that does not exist", "materialize --torch-modules missing.json --out x.safetensors"),
        row("module lists write .safetensors", "materialize --torch-modules m.json --out x.npy")
            .text("m.json", MODULES),
        row(
            "module lists replay torch's stream",
            "materialize --torch-modules m.json --rng philox --out x.safetensors",
        )
        .text("m.json", MODULES),
        row(
            "torch's stream is replayed in f32 or f64",
            "materialize --torch-modules m.json --dtype bf16 --out x.safetensors",
        )
        .text("m.json", MODULES),
        row("--scheme applies to models", "materialize --torch-modules m.json --scheme hf --out x.safetensors")
            .text("m.json", MODULES),
        row("the output's folder does not exist", "materialize --torch-modules m.json --out nodir/x.safetensors")
            .text("m.json", MODULES),
        row("the output is a folder", "materialize --torch-modules m.json --out d.safetensors")
            .text("m.json", MODULES)
            .dir("d.safetensors"),
    ]
}

fn lab_run() -> Vec<Row> {
    let t = |why: &'static str, text: String| row(why, "lab run x.toml --out out --jobs 1").text("x.toml", text);
    vec![
        t("TOML cut short", "name = ".into()),
        t("an empty file: every key missing", String::new()),
        t("no name (missing key)", toml("name = \"bad\"\n", "")),
        t("seeds a string (wrong type)", toml("seeds = 1", "seeds = \"one\"")),
        t("seeds negative", toml("seeds = 1", "seeds = -1")),
        t("seeds 0", toml("seeds = 1", "seeds = 0")),
        t("10^12 seeds", toml("seeds = 1", "seeds = 1000000000000")),
        t("depth and width 10^8 (issue 19)", toml("depth = 2\nwidth = 8", "depth = 100000000\nwidth = 100000000")),
        t("width 10^8", toml("width = 8", "width = 100000000")),
        t("one depth of 10^8 in a list", toml("depth = 2", "depth = [2, 100000000]")),
        t("depth 0", toml("depth = 2", "depth = 0")),
        t("depth a float (wrong type)", toml("depth = 2", "depth = 2.5")),
        t("an unknown top-level key", format!("colour = \"red\"\n{EXPERIMENT}")),
        t("an unknown key in [model]", toml("kind = \"mlp\"", "kind = \"mlp\"\ncolour = 4")),
        t("a GPT key in an MLP's [model]", toml("kind = \"mlp\"", "kind = \"mlp\"\nheads = 4")),
        t("an MLP key in a GPT's [model]", toml("kind = \"mlp\"", "kind = \"gpt\"")),
        t(
            "a GPT on digits",
            with(
                &with(&toml("kind = \"mlp\"", "kind = \"gpt\"\nheads = 2\ncontext = 8"), "activation = \"relu\"\n", ""),
                "probe_batch = 8\n",
                "",
            ),
        ),
        t("an unknown key in [train]", toml("steps = 2", "steps = 2\nwarmup = 3")),
        t("an unknown key in [[init]]", format!("{EXPERIMENT}stdev = 0.1\n")),
        t("steps 0", toml("steps = 2", "steps = 0")),
        t("10^11 steps", toml("steps = 2", "steps = 100000000000")),
        t("a batch of 10^11", toml("\nbatch = 8", "\nbatch = 100000000000")),
        t("a probe batch of 10^12", toml("probe_batch = 8", "probe_batch = 1000000000000")),
        t("a NaN learning rate", toml("lr = 0.05", "lr = nan")),
        t("a negative learning rate", toml("lr = 0.05", "lr = -1.0")),
        t("an unknown optimizer", toml("optimizer = \"sgd\"", "optimizer = \"rmsprop\"")),
        t("momentum 1.5", toml("optimizer = \"sgd\"", "optimizer = \"sgd\"\nmomentum = 1.5")),
        t("an unknown dataset", toml("dataset = \"digits\"", "dataset = \"cifar10\"")),
        t("no [[init]]", toml("[[init]]\nname = \"He\"\nrule = \"kaiming_normal\"\n", "init = []\n")),
        t("an unknown rule", toml("rule = \"kaiming_normal\"", "rule = \"frob\"")),
        t("a negative std", toml("rule = \"kaiming_normal\"", "rule = \"normal\"\nstd = -1.0")),
        t("an unknown activation", toml("activation = \"relu\"", "activation = \"swishy\"")),
        t("an unknown model kind", toml("kind = \"mlp\"", "kind = \"transformer\"")),
        t(
            "theory = true with two activations",
            format!("theory = true\n{}", toml("activation = \"relu\"", "activation = [\"relu\", \"tanh\"]")),
        ),
        row("MNIST is not in the (empty) data folder", "lab run x.toml --data empty --out out --jobs 1")
            .text("x.toml", toml("dataset = \"digits\"", "dataset = \"mnist\""))
            .dir("empty"),
        row("no such experiment", "lab run frobnicate --out out"),
        row("a .toml that does not exist", "lab run missing.toml --out out"),
        row("/dev/null (before-stop hook)", "lab run /dev/null"),
        row("no experiment", "lab run"),
        row("an unknown backend", "lab run x.toml --backend frob --out out --jobs 1").text("x.toml", EXPERIMENT),
        row("--seeds 0", "lab run x.toml --seeds 0 --out out --jobs 1").text("x.toml", EXPERIMENT),
        row("--steps 0", "lab run x.toml --steps 0 --out out --jobs 1").text("x.toml", EXPERIMENT),
        row("--steps 10^11", "lab run x.toml --steps 100000000000 --out out --jobs 1").text("x.toml", EXPERIMENT),
        row("--out is a file", "lab run x.toml --out f --jobs 1").text("x.toml", EXPERIMENT).text("f", "a file"),
    ]
}

fn lab_report() -> Vec<Row> {
    const RESULTS: Make = |f| f.results.clone();
    vec![
        row("a path that does not exist", "lab report missing"),
        row("a folder without results.jsonl", "lab report d").dir("d"),
        row("results that are not JSON", "lab report r.jsonl --out out").text("r.jsonl", "not json\n"),
        row("empty results", "lab report r.jsonl --out out").text("r.jsonl", ""),
        row("results of the wrong shape", "lab report r.jsonl --out out").text("r.jsonl", "{\"name\": 1}\n"),
        row("results cut in the middle of a line", "lab report r.jsonl --out out")
            .made("r.jsonl", |f| f.results[..f.results.len() / 2].to_vec()),
        row("--out is a file", "lab report r.jsonl --out f").made("r.jsonl", RESULTS).text("f", "a file"),
        row("no path", "lab report"),
    ]
}

fn probe() -> Vec<Row> {
    let p = |why: &'static str, rest: &str| row(why, &format!("probe --depth 2 --width 8 --batch 8 {rest}"));
    vec![
        row("no --init", "probe"),
        p("an unknown initializer", "--init frob"),
        p("a negative std", "--init normal --param std=-1"),
        p("a parameter without =", "--init normal --param std"),
        p("an unknown parameter", "--init normal --param frob=1"),
        p("a gain Kaiming does not take", "--init kaiming_normal --param gain=2"),
        p("a xavier gain of 1e308 (issue 19)", "--init xavier_normal --param gain=1e308"),
        p("mean-field without σ_w², σ_b²", "--init mean-field"),
        p("a negative σ_w²", "--init mean-field --param sigma_w2=-1 --param sigma_b2=0"),
        p("an unknown model", "--init normal --model rnn"),
        row("depth 0", "probe --init normal --depth 0 --width 8 --batch 8"),
        row("width 0", "probe --init normal --depth 2 --width 0 --batch 8"),
        row("depth and width 10^8", "probe --init normal --depth 100000000 --width 100000000 --batch 8"),
        row("a batch of 0", "probe --init normal --depth 2 --width 8 --batch 0"),
        row("a batch of 10^12", "probe --init normal --depth 2 --width 8 --batch 1000000000000"),
        p("an unknown activation", "--init normal --activation frob"),
        p("a NaN slope", "--init normal --activation leaky_relu --activation-param nan"),
        p("an unknown dataset", "--init normal --dataset cifar10"),
        p("MNIST is not in the (empty) data folder", "--init normal --dataset mnist --data empty").dir("empty"),
        p("an unknown backend", "--init normal --backend frob"),
        p("a plot that is neither SVG nor PNG", "--init normal --plot x.pdf"),
        p("a negative seed", "--init normal --seed -1"),
    ]
}

fn data() -> Vec<Row> {
    vec![
        row("no subcommand", "data"),
        row("an unknown subcommand", "data frob"),
        row("no dataset", "data fetch"),
        row("an unknown dataset", "data fetch cifar10 --data d").dir("d"),
        row("the data folder is a file", "data fetch mnist --data f").text("f", "a file"),
        row("the data folder's parent is a file", "data fetch fashion-mnist --data f/sub").text("f", "a file"),
        row("the data folder is a file (a text corpus)", "data fetch shakespeare --data f").text("f", "a file"),
        row("--data without a value", "data where --data"),
        row("an extra argument", "data fetch digits extra"),
    ]
}

/// A recursive listing of `dir`: each entry's path and size (`None` for a folder).
fn listing(dir: &Path) -> BTreeMap<PathBuf, Option<u64>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("readable").flatten() {
            let path = entry.path();
            let meta = entry.metadata().expect("stat");
            let rel = path.strip_prefix(dir).expect("inside").to_path_buf();
            if meta.is_dir() {
                out.insert(rel, None);
                todo.push(path);
            } else {
                out.insert(rel, Some(meta.len()));
            }
        }
    }
    out
}

/// Runs one row in a fresh folder; what is wrong with the outcome, and its stderr.
fn check(row: &Row, fixtures: &Fixtures) -> (Vec<String>, String, Duration) {
    let scratch = tempfile::tempdir().expect("a temporary folder");
    let d = scratch.path();
    for (name, input) in &row.files {
        let path = d.join(name);
        match input {
            Input::Dir => std::fs::create_dir_all(&path),
            Input::Text(text) => std::fs::write(&path, text),
            Input::Made(make) => std::fs::write(&path, make(fixtures)),
        }
        .expect("the row's files are written");
    }
    let before = listing(d);
    let args: Vec<&str> = row.args.iter().map(String::as_str).collect();
    let started = Instant::now();
    let ended = nninit_bounded(d, &args, &env(), DEADLINE);
    let elapsed = started.elapsed();
    let mut problems = Vec::new();
    let mut stderr = String::new();
    match ended {
        Ended::TimedOut => problems.push(format!("did not finish within {} s (killed)", DEADLINE.as_secs())),
        Ended::Exited(out) => {
            stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            if out.status.code() != Some(2) {
                problems.push(format!("{} instead of exit 2", exit_description(&out.status)));
            }
            if stderr.lines().count() != 1 {
                problems.push(format!("{} lines on stderr instead of 1", stderr.lines().count()));
            }
            if !stderr.starts_with("nninit: ") {
                problems.push("stderr does not start with `nninit: `".into());
            }
            if stderr.contains("panicked") {
                problems.push("panicked".into());
            }
        }
    }
    let after = listing(d);
    let left: Vec<String> =
        after.keys().filter(|p| !before.contains_key(*p)).map(|p| p.display().to_string()).collect();
    if !left.is_empty() {
        problems.push(format!("left behind: {}", left.join(", ")));
    }
    let changed: Vec<String> =
        before.iter().filter(|(p, size)| after.get(*p) != Some(size)).map(|(p, _)| p.display().to_string()).collect();
    if !changed.is_empty() {
        problems.push(format!("changed or removed: {}", changed.join(", ")));
    }
    (problems, stderr, elapsed)
}

#[test]
fn every_bad_input_exits_2_with_one_line_and_leaves_nothing() {
    let fixtures = Fixtures::new();
    let rows = rows();
    let next = AtomicUsize::new(0);
    let outcomes = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(row) = rows.get(i) else { break };
                    let outcome = check(row, &fixtures);
                    outcomes.lock().expect("no worker panicked").push((i, outcome));
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().expect("no worker panicked");
    outcomes.sort_by_key(|(i, _)| *i);

    let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for (i, (problems, stderr, elapsed)) in &outcomes {
        let row = &rows[*i];
        let count = counts.entry(row.group()).or_default();
        count.0 += 1;
        if !problems.is_empty() {
            count.1 += 1;
            failures.push(format!(
                "nninit {} [{}; {:.1} s]\n    why: {}\n    wrong: {}\n    stderr: {}",
                row.args.join(" "),
                row.files.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
                elapsed.as_secs_f64(),
                row.why,
                problems.join("; "),
                stderr.trim_end().chars().take(400).collect::<String>().replace('\n', "\n            ")
            ));
        }
    }
    println!("bad inputs tried, per subcommand (failing of them):");
    for (group, (n, failed)) in &counts {
        println!("  {group:<28} {n:>4}  ({failed} failing)");
    }
    println!("  {:<28} {:>4}  ({} failing)", "total", rows.len(), failures.len());

    // The table covers every subcommand and input form, and stays large.
    assert!(rows.len() >= 80, "only {} rows", rows.len());
    for group in [
        "sample",
        "explain",
        "gain",
        "theory",
        "doctor",
        "materialize --config",
        "materialize --preset",
        "materialize --torch-modules",
        "lab run",
        "lab report",
        "probe",
        "data",
    ] {
        assert!(counts.get(group).is_some_and(|c| c.0 >= 5), "too few rows for {group}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad inputs were not refused cleanly:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}
