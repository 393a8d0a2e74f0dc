//! Experiments declared in TOML: which dataset, which models, which initializations, how to
//! train, how many seeds. `nninit lab run FILE.toml` runs a user's own file; the built-in
//! ones (under `experiments/` in the repository, embedded in the binary) reproduce classic
//! results.
//!
//! ```toml
//! name = "my-experiment"
//! description = "What it shows."
//! expectation = "What the literature reports."   # optional
//! dataset = "digits"                             # digits | mnist | fashion-mnist (shakespeare: gpt)
//! seeds = 3
//!
//! [model]
//! kind = "mlp"                 # mlp | cnn
//! depth = [10, 20]             # one number or a list
//! width = 64
//! activation = ["relu", "tanh"]
//! bias = "on"                  # on | off
//! residual = "off"             # on | off (MLP only)
//!
//! [train]
//! optimizer = "sgd"            # sgd | adam
//! momentum = 0.9               # sgd only
//! lr = 0.01
//! steps = 300
//! batch = 64
//! eval_every = 50
//! loss = "cross-entropy"       # cross-entropy | mse
//! loss_criterion = 0.5         # optional: record steps until the smoothed loss is below it
//! eval_layers = false          # per-layer statistics at every evaluation
//! probe_batch = 256            # examples in the probe's (and LSUV's) batch
//! lr_scaling = "none"          # none | inverse-depth (lr / depth)
//!
//! [[init]]
//! name = "He"
//! rule = "kaiming_normal"      # any nninit rule; other keys are its parameters
//!                              # (nonlinearity defaults to the model's activation)
//! [[init]]
//! name = "N(0,1)"
//! rule = "normal"
//! std = 1.0
//! [[init]]
//! name = "LSUV"
//! rule = "lsuv"                # also: weight-norm; mean-field (sigma_w2 = [..], sigma_b2 = x)
//! ```
//!
//! The character-level GPT ([`crate::model::GptSpec`]) trains on a text with Adam; its
//! `[model]` has no activation, bias or residual, its `[train]` no momentum, loss criterion,
//! per-layer statistics, probe batch or lr scaling, and each `[[init]]` names a block form and
//! an nninit scheme (every parameter is drawn from the plan of the GPT's GPT-2 config):
//!
//! ```toml
//! dataset = "shakespeare"
//!
//! [model]
//! kind = "gpt"
//! depth = [2, 8]               # blocks
//! width = 32                   # n_embd
//! heads = 4
//! context = 64
//! mlp_width = 128              # optional, default 4 x width
//! head = "tied"                # tied | untied
//!
//! [train]
//! optimizer = "adam"
//! lr = 0.002
//! steps = 300
//! batch = 16                   # windows of `context` characters per step
//! eval_every = 50              # validation bits per character every this many steps
//! validation_windows = 64      # windows of the validation split read each time
//!
//! [[init]]
//! name = "post-LN hf"          # optional, default "FORM SCHEME"
//! form = "post-ln"             # pre-ln | post-ln | deepnorm | no-norm
//! scheme = "hf"                # any scheme `nninit materialize --scheme` takes
//! ```

//!
//! Every count and size in the file has the valid range listed in [`crate::limits`], checked
//! when the file is parsed, before anything is loaded or allocated.
//!
//! [`Experiment::parse`] reads and validates the file (the schema, in `schema.rs`); [`run`]
//! trains every configuration under every seed (the runner, in `runner.rs`), or one shard of
//! them ([`RunOptions::shard`], one machine's part of a job array); [`merge`] joins the shards'
//! results into the whole experiment's (`shard.rs`).

#[cfg(feature = "burn")]
mod runner;
mod schema;
mod shard;

#[cfg(feature = "burn")]
pub use runner::{Event, ExperimentData, RunOptions, probe_batch, run, run_on, run_one};
pub use schema::{BUILT_IN, Configuration, Experiment, LrScaling, Setup, init_choice};
pub use shard::merge;
