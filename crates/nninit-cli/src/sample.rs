//! `nninit sample`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args as ClapArgs;
use nninit::io::{self, Bytes, Format, TensorData};
use nninit::stream::Philox;
use nninit::torch::{TorchFloat, TorchGenerator, TorchKernel};
use nninit::{DType, Element, Init, TensorSpec};
use serde::Serialize;

use crate::rule::RuleArgs;

/// Arguments of `nninit sample`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    #[command(flatten)]
    rule: RuleArgs,
    /// Seed (any 64-bit integer).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The tensor's name: it keys the random stream, so the same (seed, name)
    /// gives the same values anywhere.
    #[arg(long)]
    name: String,
    /// Element type: f32, f64, bf16 or f16.
    #[arg(long, default_value = "f32")]
    dtype: String,
    /// Only the flattened elements START..END (identical to those of the whole tensor).
    #[arg(long, value_name = "START:END")]
    slice: Option<String>,
    /// Random stream: philox (nninit's counter-based stream, keyed by seed and
    /// name) or torch (PyTorch's CPU generator after torch.manual_seed(SEED):
    /// the same tensor as the torch.nn.init call, bit for bit).
    #[arg(long, value_enum, default_value_t = Rng::Philox)]
    rng: Rng,
    /// PyTorch kernel flavour for --rng torch: avx2 (x86-64 wheels) or default.
    #[arg(long, default_value = "avx2")]
    torch_kernel: String,
    /// Output file: .npy or .safetensors (written atomically).
    #[arg(long)]
    out: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Which random stream draws the values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Rng {
    /// nninit's Philox4x32-10 stream keyed by (seed, name).
    Philox,
    /// PyTorch's CPU generator (MT19937) and torch.nn.init kernels.
    Torch,
}

#[derive(Serialize)]
struct Report {
    out: PathBuf,
    name: String,
    seed: u64,
    rng: Rng,
    dtype: DType,
    shape: Vec<usize>,
    slice: Option<[u64; 2]>,
    written_shape: Vec<usize>,
    rule: Init,
    mean: f64,
    std: f64,
    min: f64,
    max: f64,
}

fn parse_slice(text: &str, numel: u64) -> Result<(u64, u64)> {
    let (start, end) = text.split_once(':').with_context(|| format!("invalid --slice `{text}`: expected START:END"))?;
    let parse = |s: &str, default: u64| -> Result<u64> {
        if s.trim().is_empty() {
            return Ok(default);
        }
        s.trim()
            .parse::<u64>()
            .with_context(|| format!("invalid --slice `{text}`: `{s}` is not a non-negative integer"))
    };
    let (start, end) = (parse(start, 0)?, parse(end, numel)?);
    if start >= end || end > numel {
        bail!("invalid --slice {start}:{end} for a tensor of {numel} elements (need START < END <= {numel})");
    }
    Ok((start, end))
}

fn generate<E: Element>(
    init: &Init,
    spec: &TensorSpec,
    stream: &Philox,
    start: u64,
    len: usize,
) -> Result<(Vec<E>, [f64; 4])> {
    let mut values = vec![E::default(); len];
    init.fill_slice(spec, stream, start, &mut values)?;
    let s = stats(&values);
    Ok((values, s))
}

/// PyTorch's generator is sequential: the whole tensor is drawn and the slice cut from it.
fn generate_torch<E: Element + TorchFloat>(
    init: &Init,
    spec: &TensorSpec,
    generator: &mut TorchGenerator,
    start: u64,
    len: usize,
) -> Result<(Vec<E>, [f64; 4])> {
    let mut whole = vec![E::default(); usize::try_from(spec.numel())?];
    nninit::torch::apply(generator, init, spec, &mut whole)?;
    let values = whole[start as usize..start as usize + len].to_vec();
    let s = stats(&values);
    Ok((values, s))
}

fn stats<E: Element>(values: &[E]) -> [f64; 4] {
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        min = min.min(v.to_f64());
        max = max.max(v.to_f64());
    }
    let m = nninit::stats::Moments::from_values(values.iter().map(|v| v.to_f64()));
    [m.mean(), m.std(), min, max]
}

/// The stream's name as recorded in file metadata.
pub fn stream_name(rng: Rng, kernel: TorchKernel) -> String {
    match rng {
        Rng::Philox => "philox4x32-10".to_string(),
        Rng::Torch => format!("torch-2.15-cpu-mt19937 ({} kernel)", kernel.name()),
    }
}

pub fn run(args: Args) -> Result<()> {
    let spec = args.rule.spec()?;
    let init = args.rule.init()?;
    init.check(&spec)?;
    let dtype = DType::parse(&args.dtype)?;
    let format = Format::from_path(&args.out)?;
    if format == Format::Npy && dtype == DType::BF16 {
        bail!("NumPy has no bfloat16 type; write bf16 to a .safetensors file");
    }
    let numel = spec.numel();
    // The torch stream draws the whole tensor even for a slice.
    nninit::io::check_write_elements(&format!("shape {}", spec.shape()), numel)?;
    let (start, end) = match &args.slice {
        Some(text) => parse_slice(text, numel)?,
        None => (0, numel),
    };
    let len = usize::try_from(end - start).context("slice too large for this machine")?;
    let written_shape = if args.slice.is_some() { vec![len] } else { spec.shape().dims().to_vec() };
    let stream = Philox::new(args.seed, &args.name);
    let kernel = TorchKernel::parse(&args.torch_kernel)?;
    let mut torch = TorchGenerator::new(args.seed).with_kernel(kernel);
    let (bytes, stats) = match (args.rng, dtype) {
        (_, DType::I64) => bail!("i64 is an integer type; initializers draw floats (f32, f64, bf16, f16)"),
        (Rng::Torch, DType::BF16 | DType::F16) => {
            bail!("--rng torch reproduces PyTorch's f32 and f64 kernels; bf16/f16 are not reproduced bit for bit")
        }
        (Rng::Torch, DType::F32) => {
            let (v, s) = generate_torch::<f32>(&init, &spec, &mut torch, start, len)?;
            (Bytes::from_slice(&v, written_shape.clone()), s)
        }
        (Rng::Torch, DType::F64) => {
            let (v, s) = generate_torch::<f64>(&init, &spec, &mut torch, start, len)?;
            (Bytes::from_slice(&v, written_shape.clone()), s)
        }
        (Rng::Philox, dtype) => match dtype {
            DType::F32 => {
                let (v, s) = generate::<f32>(&init, &spec, &stream, start, len)?;
                (Bytes::from_slice(&v, written_shape.clone()), s)
            }
            DType::F64 => {
                let (v, s) = generate::<f64>(&init, &spec, &stream, start, len)?;
                (Bytes::from_slice(&v, written_shape.clone()), s)
            }
            DType::BF16 => {
                let (v, s) = generate::<half::bf16>(&init, &spec, &stream, start, len)?;
                (Bytes::from_slice(&v, written_shape.clone()), s)
            }
            DType::F16 => {
                let (v, s) = generate::<half::f16>(&init, &spec, &stream, start, len)?;
                (Bytes::from_slice(&v, written_shape.clone()), s)
            }
            DType::I64 => unreachable!("handled above"),
        },
    };
    match format {
        Format::Npy => io::write_npy(&args.out, &bytes)?,
        Format::Safetensors => {
            let mut meta = BTreeMap::from([
                ("nninit.version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
                ("nninit.rule".to_string(), serde_json::to_string(&init)?),
                ("nninit.seed".to_string(), args.seed.to_string()),
                ("nninit.stream".to_string(), stream_name(args.rng, kernel)),
                ("nninit.shape".to_string(), serde_json::to_string(spec.shape().dims())?),
            ]);
            if args.slice.is_some() {
                meta.insert("nninit.slice".to_string(), format!("{start}:{end}"));
            }
            io::write_safetensors(&args.out, &[TensorData { name: args.name.clone(), bytes }], &meta)?;
        }
    }
    let [mean, std, min, max] = stats;
    let report = Report {
        out: args.out,
        name: args.name,
        seed: args.seed,
        rng: args.rng,
        dtype,
        shape: spec.shape().dims().to_vec(),
        slice: args.slice.as_ref().map(|_| [start, end]),
        written_shape,
        rule: init,
        mean,
        std,
        min,
        max,
    };
    if args.json {
        return crate::print_json(&report);
    }
    println!(
        "wrote {} ({} {} elements of {} `{}`, seed {}): mean {mean:.6}, std {std:.6}, min {min:.6}, max {max:.6}",
        report.out.display(),
        len,
        dtype,
        report.rule.name(),
        report.name,
        report.seed
    );
    Ok(())
}
