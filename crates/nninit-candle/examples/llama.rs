//! The README's "With candle" example: build a candle-transformers Llama from a `config.json`
//! with nninit's weights, run a forward pass and save the weights.
//!
//! ```text
//! cargo run -p nninit-candle --example llama -- --config crates/nninit-candle/examples/llama-155m.json --scheme megatron --seed 42 --out llama.safetensors
//! ```
//!
//! `--dtype bf16` (or f16, f64) builds it in another type. The saved file holds, tensor by
//! tensor, the bytes `nninit materialize --config config.json --scheme megatron --seed 42`
//! writes (in one file, without `config.json` and the manifest). The example prints the peak
//! resident memory against the weights' size: each tensor is drawn once into the buffer that
//! becomes candle's storage, and saved from that storage.

use std::collections::BTreeMap;
use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use candle_transformers::models::llama::{Cache, Llama, LlamaConfig};
use nninit_candle::PlanBackend;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse()?;
    let json = std::fs::read_to_string(&args.config)?;

    // nninit's plan for this config under the scheme: the same tensors, rules and streams as
    // `nninit materialize --config FILE --scheme S --seed N`.
    let backend = PlanBackend::from_config_json(&json, &args.scheme, args.seed)?;
    let device = Device::Cpu;
    let config = serde_json::from_str::<LlamaConfig>(&json)?.into_config(false);
    let model = Llama::load(backend.var_builder(args.dtype, &device), &config)?;
    let weights = backend.served();
    let bytes: usize = weights.iter().map(|(_, t)| t.elem_count() * t.dtype().size_in_bytes()).sum();
    println!(
        "built {} with scheme {} (seed {}): {} tensors, {:.1} MB of {:?} weights",
        backend.plan().model_class,
        backend.plan().scheme.as_deref().unwrap_or(""),
        args.seed,
        weights.len(),
        bytes as f64 / 1e6,
        args.dtype,
    );

    // One forward pass over a few tokens.
    let tokens: Vec<u32> = (0..8u32).map(|i| (i * 7 + 1) % config.vocab_size as u32).collect();
    let input = Tensor::new(tokens.as_slice(), &device)?.unsqueeze(0)?;
    let mut cache = Cache::new(false, args.dtype, &config, &device)?;
    let logits = model.forward(&input, 0, &mut cache)?;
    let finite = logits.flatten_all()?.to_vec1::<f32>()?.iter().all(|v| v.is_finite());
    println!("logits {:?}, all finite: {finite}", logits.dims());
    if !finite {
        return Err("the forward pass gave non-finite logits".into());
    }

    // The weights, written atomically from candle's storage (no copy on the CPU).
    let metadata = BTreeMap::from([
        ("format".to_string(), "pt".to_string()),
        ("nninit.scheme".to_string(), backend.plan().scheme.clone().unwrap_or_default()),
        ("nninit.seed".to_string(), args.seed.to_string()),
    ]);
    nninit_candle::save_safetensors(&args.out, &weights, &metadata)?;
    println!("wrote {}", args.out.display());
    if let Some(peak) = peak_rss() {
        println!("peak RSS {:.1} MB for {:.1} MB of weights", peak as f64 / 1e6, bytes as f64 / 1e6);
    }
    Ok(())
}

/// `--config FILE --scheme S --seed N --out FILE.safetensors [--dtype f32|bf16|f16|f64]`.
struct Args {
    config: PathBuf,
    scheme: String,
    seed: u64,
    out: PathBuf,
    dtype: DType,
}

impl Args {
    fn parse() -> Result<Self, Box<dyn std::error::Error>> {
        let usage = "usage: llama --config FILE --scheme S --seed N --out FILE.safetensors [--dtype f32|bf16|f16|f64]";
        let mut flags = BTreeMap::new();
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let value = it.next().ok_or_else(|| format!("{flag} needs a value\n{usage}"))?;
            flags.insert(flag, value);
        }
        let mut take = |flag: &str| flags.remove(flag);
        let args = Self {
            config: take("--config").ok_or(usage)?.into(),
            scheme: take("--scheme").ok_or(usage)?,
            seed: take("--seed").ok_or(usage)?.parse()?,
            out: take("--out").ok_or(usage)?.into(),
            dtype: match take("--dtype").as_deref().unwrap_or("f32") {
                "f32" => DType::F32,
                "bf16" => DType::BF16,
                "f16" => DType::F16,
                "f64" => DType::F64,
                other => return Err(format!("--dtype {other}: use f32, bf16, f16 or f64").into()),
            },
        };
        if let Some(flag) = flags.keys().next() {
            return Err(format!("unknown flag {flag}\n{usage}").into());
        }
        Ok(args)
    }
}

/// The process's peak resident set (Linux `VmHWM`), in bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb * 1024)
}
