//! `nninit lab`: train and compare initializations on real data, and write the report.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};
use clap::{Args as ClapArgs, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use nninit_lab::experiment::{self, BUILT_IN, Event, Experiment, RunOptions};
use nninit_lab::record::{ExperimentResults, RunStatus, Shard};
use nninit_lab::{Backend, report};

/// Arguments of `nninit lab`.
#[derive(Debug, ClapArgs)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<LabCommand>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum LabCommand {
    /// List the built-in experiments.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Run an experiment: a built-in name or a TOML file.
    Run {
        /// Experiment name (see `nninit lab list`) or path to a .toml file.
        experiment: String,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Draw a run's report again from its results.jsonl: after an upgrade of nninit, or
    /// into another folder.
    Report {
        /// A folder that `nninit lab run` wrote, or the results.jsonl in it.
        path: PathBuf,
        /// Where to write the report (default: the folder the results are in).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Print the results as JSON instead of the summary table.
        #[arg(long)]
        json: bool,
    },
    /// Join the folders of an experiment's shards (`lab run --shard I/N`) into one run folder,
    /// whose results and report are the single-machine run's (only the times differ).
    Merge {
        /// The shards' folders (or their results.jsonl), every shard once, in any order.
        #[arg(required = true, num_args = 1..)]
        parts: Vec<PathBuf>,
        /// Where to write the joined results and report.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Print the results as JSON instead of the summary table.
        #[arg(long)]
        json: bool,
    },
}

/// How a command prints its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Output {
    /// For people: tables and sentences.
    Text,
    /// For programs: one JSON document.
    Json,
}

impl Output {
    fn from_flag(json: bool) -> Self {
        if json { Self::Json } else { Self::Text }
    }
}

/// Options of a lab run.
#[derive(Debug, ClapArgs)]
struct RunArgs {
    /// Seeds per configuration, 1 to 1000 (overrides the experiment's).
    #[arg(long)]
    seeds: Option<usize>,
    /// Training steps per run, 1 to 1000000 (overrides the experiment's).
    #[arg(long)]
    steps: Option<usize>,
    /// Where fetched datasets live (default: $NNINIT_DATA or the user's cache dir).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Output folder (default: runs/<experiment>-<UTC time>).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Compute backend: flex (CPU), wgpu or cuda (when compiled in).
    #[arg(long, default_value = "flex")]
    backend: String,
    /// Runs trained in parallel, 1 to 1024 (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Run only shard INDEX of COUNT (from 0: `0/4` to `3/4`), one machine's part of the
    /// experiment's runs, for example `--shard $SLURM_ARRAY_TASK_ID/4`; join the shards' folders
    /// with `nninit lab merge`.
    #[arg(long, value_name = "INDEX/COUNT")]
    shard: Option<String>,
    /// Print the results as JSON instead of the summary table.
    #[arg(long)]
    json: bool,
}

/// Runs `nninit lab`.
pub fn run(args: Args) -> Result<()> {
    match args.command {
        Some(LabCommand::List { json }) => list(Output::from_flag(json)),
        Some(LabCommand::Run { experiment, run }) => run_experiment(&experiment, run),
        Some(LabCommand::Report { path, out, json }) => redraw(&path, out, Output::from_flag(json)),
        Some(LabCommand::Merge { parts, out, json }) => merge(&parts, &out, Output::from_flag(json)),
        None => run_experiment("quick", args.run),
    }
}

fn list(output: Output) -> Result<()> {
    let mut rows = Vec::new();
    for (name, src) in BUILT_IN {
        let exp = Experiment::parse(src, name)?;
        rows.push(serde_json::json!({
            "name": name,
            "dataset": exp.dataset.to_string(),
            "configurations": exp.configs.len(),
            "seeds": exp.seeds,
            "description": exp.description,
        }));
    }
    if output == Output::Json {
        return crate::print_json(&rows);
    }
    for row in &rows {
        println!(
            "{:<14} {:<14} {:>3} configurations x {} seeds",
            row["name"].as_str().unwrap_or_default(),
            row["dataset"].as_str().unwrap_or_default(),
            row["configurations"],
            row["seeds"]
        );
        let description = row["description"].as_str().unwrap_or_default();
        let first = description.split(". ").next().unwrap_or(description);
        println!("               {}", first.trim_end_matches('.'));
    }
    println!("\nRun one with `nninit lab run NAME`, or write your own TOML (see experiments/quick.toml).");
    Ok(())
}

/// `nninit lab report`: reads `results.jsonl` and writes the whole report again.
fn redraw(path: &Path, out: Option<PathBuf>, output: Output) -> Result<()> {
    let file = results_file(path);
    let results = report::read_results(&file)?;
    let out = match out {
        Some(out) => out,
        None => match file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        },
    };
    let files = report::write_report(&results, &out)?;
    print_results(&results, &files.html, output)
}

/// The results.jsonl of a run folder, or the file itself.
fn results_file(path: &Path) -> PathBuf {
    if path.is_dir() { path.join("results.jsonl") } else { path.to_path_buf() }
}

/// Prints what a command wrote: the results as JSON, or the summary table and where the report is.
fn print_results(results: &ExperimentResults, html: &Path, output: Output) -> Result<()> {
    if output == Output::Json {
        return crate::print_json(results);
    }
    println!("{}", report::summary_table(results));
    println!("{}: {} runs. Report: {}", results.name, results.runs.len(), html.display());
    Ok(())
}

/// `nninit lab merge`: joins the shards' results and writes the whole experiment's report.
fn merge(parts: &[PathBuf], out: &Path, output: Output) -> Result<()> {
    report::check_out_dir(out)?;
    let parts = parts.iter().map(|p| report::read_results(&results_file(p))).collect::<Result<Vec<_>, _>>()?;
    let results = experiment::merge(parts)?;
    let files = report::write_report(&results, out)?;
    print_results(&results, &files.html, output)
}

/// `YYYYMMDD-HHMMSS` in UTC, from the system clock.
fn utc_stamp() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}-{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn run_experiment(name: &str, args: RunArgs) -> Result<()> {
    let exp = Experiment::load(name)?;
    let backend: Backend = args.backend.parse()?;
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(format!("{}-{}", exp.name, utc_stamp())));
    report::check_out_dir(&out)?;
    let shard = args.shard.as_deref().map(str::parse::<Shard>).transpose()?;
    let opts = RunOptions {
        seeds: args.seeds,
        steps: args.steps,
        data_dir: args.data.clone(),
        backend,
        jobs: args.jobs,
        shard,
    };
    let terminal = std::io::stderr().is_terminal() && !args.json;
    let bar: Mutex<Option<ProgressBar>> = Mutex::new(None);
    let on_event = |event: Event<'_>| {
        let Ok(mut bar) = bar.lock() else { return };
        match event {
            Event::Planned { runs, steps } => {
                eprintln!("{}: {runs} runs of {steps} steps on {}", exp.name, exp.dataset);
                if terminal {
                    let b = ProgressBar::new((runs * steps) as u64);
                    b.set_style(
                        ProgressStyle::with_template("{bar:40} {pos}/{len} steps  {elapsed} elapsed, ~{eta} left")
                            .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    *bar = Some(b);
                }
            }
            Event::Step => {
                if let Some(b) = bar.as_ref() {
                    b.inc(1);
                }
            }
            Event::RunDone(r) => {
                let last = r.evals.last();
                let measured = match (last.and_then(|e| e.validation_bits), last.and_then(|e| e.test_accuracy)) {
                    (Some(bits), _) => format!("validation {bits:.3} bits/char"),
                    (None, Some(a)) => format!("test accuracy {a:.3}"),
                    (None, None) => "test accuracy -".to_string(),
                };
                let status = match r.status {
                    RunStatus::Finished => "finished".to_string(),
                    RunStatus::Diverged { step } => format!("DIVERGED at step {step}"),
                };
                let line =
                    format!("  {:<36} seed {}  {status}, {measured}, {:.1} s", r.config.label, r.seed, r.seconds);
                match bar.as_ref() {
                    Some(b) => b.println(line),
                    None if !args.json => eprintln!("{line}"),
                    None => {}
                }
            }
        }
    };
    let results = experiment::run(&exp, &opts, &on_event).with_context(|| format!("running {}", exp.name))?;
    if let Ok(Some(b)) = bar.lock().map(|mut b| b.take()) {
        b.finish_and_clear();
    }
    let files = report::write_report(&results, &out)?;
    if args.json {
        return crate::print_json(&results);
    }
    println!("{}", report::summary_table(&results));
    let part = results.shard.map_or(String::new(), |s| format!(" (shard {} of {} runs)", s.shard, s.total_runs));
    println!("{} runs{part} in {:.0} s. Report: {}", results.runs.len(), results.seconds, files.html.display());
    Ok(())
}
