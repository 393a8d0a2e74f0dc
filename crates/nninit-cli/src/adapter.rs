//! `nninit adapter`: a LoRA-family adapter (LoRA, rsLoRA, PiSSA, OLoRA) initialized from a
//! base checkpoint, in PEFT's format.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args as ClapArgs;
use nninit::adapter::{self, Method, Options, Svd};

/// Arguments of `nninit adapter`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// The base model: a Hugging Face model folder (config.json + safetensors weights), a
    /// sharded folder, or one .safetensors file.
    #[arg(long, value_name = "DIR")]
    base: PathBuf,
    /// lora (A Kaiming-uniform, B = 0, scaling α/r), rslora (scaling α/√r), pissa (leading
    /// singular triplets; writes the residual base) or olora (leading QR; writes the residual base).
    #[arg(long)]
    method: String,
    /// The rank r (1 to min(in, out) of every target).
    #[arg(long)]
    rank: usize,
    /// lora_alpha (finite, > 0); the default is PEFT's, 8.
    #[arg(long, default_value_t = 8.0, allow_negative_numbers = true)]
    alpha: f64,
    /// The modules to adapt, comma-separated (PEFT's target_modules: a module is adapted if
    /// its path equals a name or ends with `.name`), e.g. q_proj,k_proj,v_proj,o_proj.
    #[arg(long, value_delimiter = ',', required = true)]
    target: Vec<String>,
    /// Seed of LoRA's A and of PiSSA's randomized SVD.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// PiSSA's SVD: randomized (subspace iteration, the default) or exact (faer's full thin
    /// SVD, as PEFT's init_lora_weights="pissa").
    #[arg(long, value_enum, default_value_t = SvdKind::Randomized)]
    svd: SvdKind,
    /// Randomized SVD: test vectors beyond the rank (0 to 1024).
    #[arg(long, default_value_t = 8)]
    oversample: usize,
    /// Randomized SVD: power iterations (0 to 64).
    #[arg(long, default_value_t = 4)]
    niter: usize,
    /// The adapter's folder (created if missing): adapter_config.json,
    /// adapter_model.safetensors and, for pissa and olora, residual/ (the base to load it on).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `--svd`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum SvdKind {
    Randomized,
    Exact,
}

pub fn run(args: Args) -> Result<()> {
    let method = Method::parse(&args.method)?;
    let svd = match args.svd {
        SvdKind::Exact => Svd::Exact,
        SvdKind::Randomized => Svd::randomized(args.oversample, args.niter)?,
    };
    let targets: Vec<String> = args.target.iter().map(|t| t.trim().to_string()).collect();
    let opts = Options::new(method, args.rank, args.alpha, targets, args.seed)?.with_svd(svd);
    let started = std::time::Instant::now();
    let written = adapter::init_adapter(&args.base, &args.out, &opts)?;
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        return crate::print_json(&serde_json::json!({ "adapter": written, "seconds": seconds }));
    }
    println!(
        "wrote {} ({} adapter, rank {}, alpha {}, scaling {:.4}, seed {}{}): {} modules, {} parameters in {:.2} s",
        args.out.display(),
        method.name(),
        written.rank,
        written.alpha,
        written.scaling,
        written.seed,
        written.svd.map(|s| format!(", {} SVD", s.label())).unwrap_or_default(),
        written.modules.len(),
        written.parameters,
        seconds
    );
    for f in &written.files {
        println!("  {}", f.display());
    }
    if let Some(dir) = &written.residual {
        println!("  {} (the residual base model: load the adapter onto it)", dir.display());
        let captured: Vec<f64> = written.modules.iter().filter_map(|m| m.captured).collect();
        if !captured.is_empty() {
            let mean = captured.iter().sum::<f64>() / captured.len() as f64;
            println!("  the adapter holds {:.2}% of the adapted weights' squared norm on average", 100.0 * mean);
        }
    }
    Ok(())
}
