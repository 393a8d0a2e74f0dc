//! `nninit materialize`: whole models, from a Hugging Face config or preset
//! under a scheme (streamed into sharded safetensors), or from a list of
//! PyTorch modules (one file, bit for bit as PyTorch).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args as ClapArgs;
use nninit::io::{self, Bytes, TensorData};
use nninit::report::MaterializeReport;
use nninit::torch::{self, TorchDType, TorchGenerator, TorchKernel};
use serde::Serialize;

use crate::model::ModelArgs;
use crate::sample::{Rng, stream_name};

/// Arguments of `nninit materialize`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// A JSON list of PyTorch modules (nn.Linear, nn.Conv2d, nn.LSTM,
    /// nn.MultiheadAttention, ...; format in the docs of nninit::torch::modules).
    /// Their default initialization is replayed in PyTorch's order, so the
    /// state dict equals PyTorch's after torch.manual_seed(SEED).
    #[arg(long, value_name = "FILE.json", conflicts_with_all = ["config", "preset"])]
    torch_modules: Option<PathBuf>,
    #[command(flatten)]
    model: ModelArgs,
    /// Random stream: module lists replay PyTorch's generator (torch, their
    /// default); models use nninit's Philox stream (philox, their default).
    #[arg(long, value_enum)]
    rng: Option<Rng>,
    /// PyTorch kernel flavour: avx2 (x86-64 wheels) or default.
    #[arg(long, default_value = "avx2")]
    torch_kernel: String,
    /// Seed, as given to torch.manual_seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Parameter type: f32 (PyTorch's default) or f64 for module lists; f32,
    /// bf16, f16 or f64 for models.
    #[arg(long, default_value = "f32")]
    dtype: String,
    /// Largest shard (models): 5GB (transformers' default), 500MB, 2GiB, or bytes.
    #[arg(long, default_value = "5GB", value_name = "SIZE")]
    max_shard_size: String,
    /// How shards are written (models): direct bypasses the page cache with
    /// O_DIRECT where the filesystem accepts it (else writes through it);
    /// page-cache always writes through it. The bytes are the same.
    #[arg(long, value_enum, default_value_t = WriteMode::Direct)]
    write_mode: WriteMode,
    /// Keep a shard an earlier run finished (same length and header as the
    /// plan's) only if its SHA-256 matches the digest the plan gives (found
    /// by generating it without writing); rewrite it otherwise. Without
    /// --verify such shards are kept as they are.
    #[arg(long)]
    verify: bool,
    /// The digest of each shard in the manifest (models): sha256 (as
    /// sha256sum prints it, for `sha256sum -c` after copying; about as much
    /// CPU as generating bf16 values) or none (the manifest lists no sha256;
    /// for runs the CPU would otherwise limit).
    #[arg(long, value_enum, default_value_t = Digest::Sha256)]
    digest: Digest,
    /// This process's rank (models, with --world-size): it writes the shards
    /// k with k mod WORLD_SIZE = RANK; rank 0 also writes config, manifest, index.
    #[arg(long, requires = "world_size")]
    rank: Option<usize>,
    /// The number of processes writing one model (with --rank).
    #[arg(long, requires = "rank")]
    world_size: Option<usize>,
    /// Output: a .safetensors file (module lists) or a folder (models), written atomically.
    #[arg(long)]
    out: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `--digest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Digest {
    Sha256,
    None,
}

/// `--write-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum WriteMode {
    Direct,
    PageCache,
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
    match &args.torch_modules {
        Some(path) => run_modules(path.clone(), args),
        None if args.model.given() => run_model(args),
        None => bail!("give --config FILE or --preset NAME with --scheme S, or --torch-modules FILE.json"),
    }
}

fn run_model(args: Args) -> Result<()> {
    if args.rng == Some(Rng::Torch) {
        bail!("models use nninit's Philox stream (any shard on any machine alone): drop --rng torch");
    }
    if args.model.scheme.is_none() {
        bail!("--scheme is required with --config/--preset (known: {})", nninit::scheme::SCHEME_NAMES);
    }
    let dtype = nninit::DType::parse(&args.dtype)?;
    if dtype == nninit::DType::I64 {
        bail!("weights are floating point: --dtype f32, bf16, f16 or f64");
    }
    let (model, plan, scheme) = args.model.plan(dtype)?;
    let mut opts = nninit::io::Options::new(args.seed);
    opts.max_shard_size =
        nninit::io::materialize::parse_size(&args.max_shard_size).context("invalid --max-shard-size")?;
    opts.write_mode = match args.write_mode {
        WriteMode::Direct => nninit::io::WriteMode::Direct,
        WriteMode::PageCache => nninit::io::WriteMode::PageCache,
    };
    if args.verify {
        opts.resume = nninit::io::materialize::Resume::Rehash;
    }
    opts.digest = match args.digest {
        Digest::Sha256 => nninit::io::materialize::Digest::Sha256,
        Digest::None => nninit::io::materialize::Digest::None,
    };
    if let (Some(rank), Some(world)) = (args.rank, args.world_size) {
        opts.ranks = nninit::io::Ranks::new(rank, world)?;
    }
    if args.out.is_file() {
        bail!("--out `{}` is a file; models are written into a folder", args.out.display());
    }
    let total = nninit::io::materialize::rank_bytes(&plan, &opts)?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let started = std::time::Instant::now();
    let progress = |n: u64| {
        if let Some(bar) = &bar {
            bar.inc(n);
        }
    };
    let written = nninit::io::materialize(&plan, model.config(), &args.out, &opts, &progress)?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let preset_or_config = match (&args.model.preset, &args.model.config) {
        (Some(p), _) => format!("preset {p}"),
        (_, Some(c)) => c.display().to_string(),
        _ => String::new(),
    };
    let seconds = started.elapsed().as_secs_f64();
    let report = MaterializeReport::new(&args.out, preset_or_config, &plan, &scheme, &opts, written, seconds);
    if args.json {
        return crate::print_json(&report);
    }
    println!(
        "wrote {} ({}, {}, scheme {}, seed {}, {}): {} parameters, {} shard(s), rank {} of {}, {:.1} MB in {:.2} s",
        report.out.display(),
        report.preset_or_config,
        report.model_class,
        report.scheme,
        report.seed,
        report.dtype,
        report.parameters,
        report.shards,
        report.rank,
        report.world_size,
        report.bytes_written as f64 / 1e6,
        report.seconds
    );
    for f in &report.files {
        println!("  {}", f.display());
    }
    for f in &report.removed_temporaries {
        println!("  removed the temporary {} of an earlier run", f.display());
    }
    for f in &report.kept {
        println!("  kept {} (finished by an earlier run)", f.display());
    }
    for f in &report.rewritten {
        println!("  rewrote {} (its bytes did not match the plan's digest)", f.display());
    }
    Ok(())
}

fn run_modules(torch_modules: PathBuf, args: Args) -> Result<()> {
    if args.model.scheme.is_some() || args.rank.is_some() {
        bail!("--scheme and --rank apply to --config/--preset models, not to --torch-modules");
    }
    if args.rng.unwrap_or(Rng::Torch) != Rng::Torch {
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
    let json = std::fs::read_to_string(&torch_modules)
        .with_context(|| format!("cannot read `{}`", torch_modules.display()))?;
    let modules = torch::parse_modules(&json).with_context(|| format!("in `{}`", torch_modules.display()))?;
    let mut generator = TorchGenerator::new(args.seed).with_kernel(kernel);
    let tensors = torch::state_dict(&modules, &mut generator, dtype)?;
    let mut entries = Vec::with_capacity(tensors.len());
    let mut data = Vec::with_capacity(tensors.len());
    let mut parameters = 0;
    for t in tensors {
        let bytes = match &t.data {
            torch::StateValues::F32(v) => Bytes::from_slice(v, t.shape.clone()),
            torch::StateValues::F64(v) => Bytes::from_slice(v, t.shape.clone()),
            torch::StateValues::I64(v) => Bytes::from_i64(v, t.shape.clone()),
        };
        parameters += t.data.len();
        entries.push(Entry { name: t.name.clone(), shape: t.shape.clone() });
        data.push(TensorData { name: t.name, bytes });
    }
    let stream = stream_name(Rng::Torch, kernel);
    let meta = BTreeMap::from([
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
