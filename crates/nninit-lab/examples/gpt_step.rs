//! Times training steps of the lab's char-GPT on Shakespeare, for `scripts/bench-lab-gpt.py`.
//!
//! The model is the one `transformer-depth` trains, at the size of a small character model:
//! pre-LN GPT-2 blocks (causal self-attention, tanh-GELU MLP of 4× width, layer norms with
//! ε = 1e-5), learned positions, the head tied to the token embedding; vocabulary 84 (the
//! corpus's symbols), context 128, width 128, 4 heads, 4 blocks: 0.82 M parameters. It is
//! initialized under the `hf` scheme with seed 0 (nninit's plan, the bytes `materialize` writes)
//! and trained by the lab's own [`GptTrainer`] (Adam, lr 1e-3, PyTorch's defaults otherwise) on
//! batches of 32 random windows (4,096 symbols) of the training split.
//!
//! ```text
//! cargo build --release -p nninit-lab --example gpt_step
//! RAYON_NUM_THREADS=1 target/release/examples/gpt_step [STEPS] [WARMUP] [BACKEND]
//! ```
//!
//! `WARMUP` steps (default 3) run first, untimed (the first steps allocate burn's buffers and the
//! optimizer's state); then `STEPS` steps (default 20) are timed one by one, on `BACKEND`
//! (default `flex`; `wgpu` or `cuda` where built with those features). It prints one JSON
//! line: the `backend`, the sizes (`vocab`, `context`, `width`, `heads`, `depth`, `mlp_width`, `batch`,
//! `parameters`), `threads` (rayon's global pool, which burn's flex backend runs on, so
//! `RAYON_NUM_THREADS` sets it), `step_seconds` (every timed step's wall time: the forward
//! pass, the loss read back, the backward pass and Adam's update, and drawing the batch's
//! windows), `seconds` and `cpu_seconds` (their sum, and the CPU time of all threads over the
//! same span: Linux only, else null), and `first_loss`, `last_loss` (a check that it learns).
//! Shakespeare must have been fetched (`nninit data fetch shakespeare`).

mod common;

use std::time::Instant;

use nninit::scheme::Scheme;
use nninit::stream::Philox;
use nninit_lab::Backend;
use nninit_lab::data;
use nninit_lab::model::{BlockForm, Gpt, GptSpec, GptTrainer};

use crate::common::cpu_seconds;

const CONTEXT: usize = 128;
const WIDTH: usize = 128;
const HEADS: usize = 4;
const DEPTH: usize = 4;
const BATCH: usize = 32;
const LR: f64 = 1e-3;

fn count(arg: Option<String>, default: usize, what: &str) -> Result<usize, Box<dyn std::error::Error>> {
    match arg {
        None => Ok(default),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=100_000).contains(&n) || (what == "warmup" && n == 0) => Ok(n),
            _ => Err(format!("{what} must be a whole number in 1..=100000 (warmup may be 0), not {s:?}").into()),
        },
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let steps = count(args.next(), 20, "steps")?;
    let warmup = count(args.next(), 3, "warmup")?;
    let backend: Backend = args.next().as_deref().unwrap_or("flex").parse()?;
    let data = data::load_shakespeare(None)?;
    let spec = GptSpec::new(data.vocab_size(), CONTEXT, WIDTH, HEADS, DEPTH, BlockForm::PreLn)?;
    let device = backend.device()?;
    let mut model = Gpt::init(&spec, Scheme::Hf, 0, &device)?;
    let parameters = spec.plan(Scheme::Hf)?.tensors.iter().filter(|t| t.is_stored()).map(|t| t.numel()).sum::<u64>();
    let mut trainer = GptTrainer::adam(LR)?;
    let windows = Philox::new(0, "bench.gpt-step.windows");
    let mut losses = Vec::with_capacity(warmup + steps);
    let mut step_seconds = Vec::with_capacity(steps);
    let mut cpu_started = None;
    for step in 0..warmup + steps {
        if step == warmup {
            cpu_started = cpu_seconds();
        }
        let started = Instant::now();
        let batch = data.train_windows(&windows, step as u64, BATCH, CONTEXT)?;
        let (next, loss) = trainer.step(&spec, model, &batch, &device)?;
        model = next;
        if step >= warmup {
            step_seconds.push(started.elapsed().as_secs_f64());
        }
        losses.push(loss);
    }
    let cpu = cpu_started.zip(cpu_seconds()).map(|(a, b)| b - a);
    println!(
        "{}",
        serde_json::json!({
            "backend": backend.to_string(),
            "vocab": spec.vocab(),
            "context": spec.context(),
            "width": spec.width(),
            "heads": spec.heads(),
            "depth": spec.depth(),
            "mlp_width": spec.mlp_width(),
            "batch": BATCH,
            "parameters": parameters,
            "threads": rayon::current_num_threads(),
            "step_seconds": step_seconds,
            "seconds": step_seconds.iter().sum::<f64>(),
            "cpu_seconds": cpu,
            "first_loss": losses.first(),
            "last_loss": losses.last(),
        })
    );
    Ok(())
}
