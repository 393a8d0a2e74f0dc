//! `nninit materialize`: whole models in one file.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args as ClapArgs;
use nninit::io::{self, Bytes, TensorData};
use nninit::torch::{self, TorchDType, TorchGenerator, TorchKernel};
use serde::Serialize;

use crate::sample::{Rng, stream_name};

/// Arguments of `nninit materialize`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// A JSON list of PyTorch modules (nn.Linear, nn.Conv2d, nn.LSTM,
    /// nn.MultiheadAttention, ...; format in the docs of nninit::torch::modules).
    /// Their default initialization is replayed in PyTorch's order, so the
    /// state dict equals PyTorch's after torch.manual_seed(SEED).
    #[arg(long, value_name = "FILE.json")]
    torch_modules: PathBuf,
    /// Random stream; module lists replay PyTorch's generator (torch).
    #[arg(long, value_enum, default_value_t = Rng::Torch)]
    rng: Rng,
    /// PyTorch kernel flavour: avx2 (x86-64 wheels) or default.
    #[arg(long, default_value = "avx2")]
    torch_kernel: String,
    /// Seed, as given to torch.manual_seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Parameter type: f32 (PyTorch's default) or f64 (torch.set_default_dtype(torch.float64)).
    #[arg(long, default_value = "f32")]
    dtype: String,
    /// Output .safetensors file (written atomically).
    #[arg(long)]
    out: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Entry {
    name: String,
    shape: Vec<usize>,
}

#[derive(Serialize)]
struct Report {
    out: PathBuf,
    seed: u64,
    stream: String,
    tensors: Vec<Entry>,
    parameters: usize,
}

pub fn run(args: Args) -> Result<()> {
    if args.rng != Rng::Torch {
        bail!("a PyTorch module list replays PyTorch's generator: use --rng torch");
    }
    if io::Format::from_path(&args.out)? != io::Format::Safetensors {
        bail!("materialize writes .safetensors files");
    }
    let kernel = TorchKernel::parse(&args.torch_kernel)?;
    let dtype = match args.dtype.to_ascii_lowercase().as_str() {
        "f32" | "float32" => TorchDType::F32,
        "f64" | "float64" => TorchDType::F64,
        other => bail!("--rng torch replays f32 or f64 parameters, not `{other}`"),
    };
    let json = std::fs::read_to_string(&args.torch_modules)
        .with_context(|| format!("cannot read `{}`", args.torch_modules.display()))?;
    let modules = torch::parse_modules(&json).with_context(|| format!("in `{}`", args.torch_modules.display()))?;
    let mut generator = TorchGenerator::new(args.seed).with_kernel(kernel);
    let tensors = torch::materialize(&modules, &mut generator, dtype)?;
    let mut entries = Vec::with_capacity(tensors.len());
    let mut data = Vec::with_capacity(tensors.len());
    let mut parameters = 0;
    for t in tensors {
        let bytes = match &t.data {
            torch::TensorData::F32(v) => Bytes::from_slice(v, t.shape.clone()),
            torch::TensorData::F64(v) => Bytes::from_slice(v, t.shape.clone()),
            torch::TensorData::I64(v) => Bytes::from_i64(v, t.shape.clone()),
        };
        parameters += t.data.len();
        entries.push(Entry { name: t.name.clone(), shape: t.shape.clone() });
        data.push(TensorData { name: t.name, bytes });
    }
    let stream = stream_name(Rng::Torch, kernel);
    let meta = HashMap::from([
        ("nninit.version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ("nninit.seed".to_string(), args.seed.to_string()),
        ("nninit.stream".to_string(), stream.clone()),
        ("nninit.torch_modules".to_string(), json.trim().to_string()),
    ]);
    io::write_safetensors(&args.out, &data, &meta)?;
    let report = Report { out: args.out, seed: args.seed, stream, tensors: entries, parameters };
    if args.json {
        return crate::print_json(&report);
    }
    println!(
        "wrote {} ({} tensors, {} values, seed {}, {})",
        report.out.display(),
        report.tensors.len(),
        report.parameters,
        report.seed,
        report.stream
    );
    for e in &report.tensors {
        println!("  {:<40} {:?}", e.name, e.shape);
    }
    Ok(())
}
