//! Hand-built results: a few runs including a diverged one with NaN losses, runs without probes, an empty
//! experiment, and demo experiments shaped like the classic results, for looking at the page.

use std::path::Path;

use super::*;
use crate::record::{
    Architecture, EvalRow, LayerStats, Probe, RunConfig, RunRecord, RunStatus, SignalKind, Spectrum, StepRow,
    TheoryOverlay, Verdict,
};
use crate::train::EvalLayers;

/// Deterministic noise in [-1, 1].
fn noise(a: u64, b: u64) -> f64 {
    let mut x = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_add(0x632B_E59B_D9B4_E019);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

fn config(group: &str, init: &str, depth: usize) -> RunConfig {
    RunConfig {
        label: format!("{group}/{init}"),
        group: group.to_string(),
        init: init.to_string(),
        model: Architecture::Mlp,
        depth,
        width: 64,
        activation: "relu".to_string(),
        sigma_w2: None,
        sigma_b2: None,
        optimizer: "sgd".to_string(),
        lr: 0.01,
        dataset: "digits".to_string(),
        gpt: None,
    }
}

fn layers(depth: usize, rate: f64, back: f64) -> Vec<LayerStats> {
    (1..=depth)
        .map(|l| LayerStats {
            layer: l,
            name: format!("hidden.{l}"),
            act_mean: 0.3 * rate.powi(l as i32),
            act_std: rate.powi(l as i32),
            preact_std: rate.powi(l as i32 - 1),
            dead_fraction: 0.0,
            saturated_fraction: 0.0,
            grad_std: 1e-3 * back.powi((depth - l) as i32),
            backprop_std: 1e-2 * back.powi((depth - l) as i32),
        })
        .collect()
}

fn probe(depth: usize, rate: f64, kind: SignalKind, jacobian: Option<Spectrum>) -> Probe {
    Probe {
        layers: layers(depth, rate, rate),
        jacobian,
        verdict: Verdict {
            kind,
            forward_rate: rate,
            backward_rate: rate,
            trainable_depth: None,
            sentence: "the signal keeps its scale".to_string(),
        },
    }
}

/// A run whose loss decays from `start` toward `end` with time constant `tau` steps.
#[allow(clippy::too_many_arguments)]
fn run(
    config: RunConfig,
    seed: u64,
    steps: usize,
    (start, end, tau): (f64, f64, f64),
    diverge_at: Option<usize>,
    probe: Option<Probe>,
    acc: Option<f64>,
    eval_layers: EvalLayers,
) -> RunRecord {
    let mut rows = Vec::new();
    for s in 1..=steps {
        let loss = match diverge_at {
            Some(d) if s >= d => f64::NAN,
            Some(d) if s + 5 >= d => start * 10f64.powi((s + 6 - d) as i32 * 3),
            _ => end + (start - end) * (-(s as f64) / tau).exp() * (1.0 + 0.08 * noise(seed, s as u64)),
        };
        rows.push(StepRow { step: s, loss });
        if diverge_at.is_some_and(|d| s >= d) {
            break;
        }
    }
    let last = rows.last().map_or(0, |r| r.step);
    let depth = config.depth;
    let evals = (0..=4)
        .map(|i| i * steps / 4)
        .filter(|&s| s <= last)
        .map(|s| EvalRow {
            step: s,
            test_loss: if diverge_at.is_some() && s + 1 >= last { f64::NAN } else { 0.5 },
            test_accuracy: acc.map(|a| 0.1 + (a - 0.1) * (s as f64 / steps as f64) + 0.01 * noise(seed, 7 + s as u64)),
            grad_norms: vec![0.1; depth],
            layers: (eval_layers == EvalLayers::Record)
                .then(|| layers(depth, if s == 0 { 0.58 } else { 0.8 }, 0.6 + 0.3 * s as f64 / steps as f64)),
            validation_bits: None,
        })
        .collect();
    let status = match diverge_at {
        Some(step) => RunStatus::Diverged { step },
        None => RunStatus::Finished,
    };
    RunRecord {
        experiment: "test".to_string(),
        config,
        seed,
        status,
        steps: rows,
        evals,
        probe,
        init_iterations: None,
        steps_to_criterion: None,
        seconds: 1.5 + seed as f64,
    }
}

fn results(name: &str, runs: Vec<RunRecord>) -> ExperimentResults {
    ExperimentResults {
        name: name.to_string(),
        description: "What the experiment shows.".to_string(),
        expectation: Some("What the literature reports.".to_string()),
        loss_criterion: None,
        runs,
        theory: None,
        seconds: 12.0,
        shard: None,
    }
}

/// Two configurations of two seeds; one seed of the second diverges (NaN losses); the second has no probe.
fn small() -> ExperimentResults {
    let spec =
        Spectrum { singular_values: vec![3.0, 1.0, 0.5, 0.0], mean_squared: 2.5, theory_mean_squared: Some(2.0) };
    let good = |seed| {
        let p = probe(5, 1.0, SignalKind::Healthy, Some(spec.clone()));
        run(config("relu-d5", "he_normal", 5), seed, 40, (2.3, 0.2, 10.0), None, Some(p), Some(0.95), EvalLayers::Skip)
    };
    let bad = |seed, div| {
        run(config("relu-d5", "N(0,1)", 5), seed, 40, (2.3, 1.0, 30.0), div, None, Some(0.5), EvalLayers::Skip)
    };
    results("small", vec![good(0), good(1), bad(0, Some(12)), bad(1, None)])
}

fn read_lines(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn count(rows: &[serde_json::Value], kind: &str) -> usize {
    rows.iter().filter(|r| r["kind"] == kind).count()
}

#[test]
fn small_experiment_writes_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let r = small();
    let files = write_report(&r, dir.path()).unwrap();
    for p in [&files.results_jsonl, &files.summary_csv, &files.html] {
        assert!(p.is_file(), "{} missing", p.display());
    }
    assert!(!files.figures.is_empty());
    for f in &files.figures {
        assert!(std::fs::metadata(f).unwrap().len() > 100, "{} is empty", f.display());
    }
    // No temporary file is left behind.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with('.'), "left behind: {name}");
    }

    let rows = read_lines(&files.results_jsonl);
    assert_eq!(count(&rows, "run"), 4);
    let steps: usize = r.runs.iter().map(|r| r.steps.len()).sum();
    assert_eq!(count(&rows, "step"), steps);
    let evals: usize = r.runs.iter().map(|r| r.evals.len()).sum();
    assert_eq!(count(&rows, "eval"), evals);
    assert_eq!(count(&rows, "layer"), 2 * 5);
    assert_eq!(count(&rows, "jacobian"), 2);
    assert_eq!(count(&rows, "experiment"), 1);
    assert_eq!(rows[0]["kind"], "experiment");
    assert_eq!(rows[0]["expectation"], "What the literature reports.");
    assert_eq!(rows.len(), 1 + 4 + steps + evals + 10 + 2);
    // The NaN loss of the diverged run is written as null.
    assert!(rows.iter().any(|r| r["kind"] == "step" && r["loss"].is_null()));
    let diverged = rows.iter().find(|r| r["kind"] == "run" && r["status"] == "diverged").unwrap();
    assert_eq!(diverged["diverged_at"], 12);
    assert_eq!(diverged["config"]["init"], "N(0,1)");

    let csv = std::fs::read_to_string(&files.summary_csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], summary::CSV_HEADER);
    assert!(lines[1].starts_with("relu-d5/he_normal,relu-d5,he_normal,2,0,"));
    assert!(lines[2].starts_with("\"relu-d5/N(0,1)\",relu-d5,\"N(0,1)\",2,1,"), "{}", lines[2]);
    assert_eq!(lines[1].split(',').count(), summary::CSV_HEADER.split(',').count());

    let html = std::fs::read_to_string(&files.html).unwrap();
    let stems: Vec<String> = files
        .figures
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(stems, ["accuracy", "loss-relu-d5", "layers-init-relu-d5", "jacobian-relu-d5"]);
    for stem in &stems {
        assert!(html.contains(&format!("<figure id=\"{stem}\">")), "{stem} not in the page");
    }
    assert_eq!(html.matches("<svg").count(), stems.len());
    assert!(!html.contains("http://") || html.matches("http://").count() == html.matches("xmlns=").count());
    assert!(!html.contains("<script"));
    assert!(html.contains("What the literature reports."));
    assert!(html.contains("1 non-finite loss (NaN"));
}

#[test]
fn summary_counts_diverged_runs_and_leaves_them_out() {
    let rows = summarize(&small());
    assert_eq!(rows.len(), 2);
    let (he, n01) = (&rows[0], &rows[1]);
    assert_eq!((he.seeds, he.diverged), (2, 0));
    assert_eq!((n01.seeds, n01.diverged), (2, 1));
    assert_eq!(n01.final_train_loss.unwrap().n, 1);
    assert_eq!(n01.final_test_accuracy.unwrap().n, 1);
    assert_eq!(he.verdict, Some(SignalKind::Healthy));
    assert_eq!((he.verdict_agreement, he.probed), (2, 2));
    assert_eq!(n01.verdict, None);
    let acc = he.final_test_accuracy.unwrap();
    assert!((acc.mean - 0.95).abs() < 0.02 && acc.sd >= 0.0);
    let table = summary_table(&small());
    assert_eq!(table.lines().count(), 4);
    assert!(table.contains("relu-d5/N(0,1)") && table.contains("probe at init"));
}

#[test]
fn empty_experiment_writes_a_page_without_figures() {
    let dir = tempfile::tempdir().unwrap();
    let r = results("empty", Vec::new());
    let files = write_report(&r, dir.path()).unwrap();
    assert!(files.figures.is_empty());
    let rows = read_lines(&files.results_jsonl);
    assert_eq!((rows.len(), &rows[0]["kind"]), (1, &serde_json::json!("experiment")), "the experiment row alone");
    assert!(read_results(&files.results_jsonl).unwrap().runs.is_empty());
    assert_eq!(std::fs::read_to_string(&files.summary_csv).unwrap().lines().count(), 1);
    let html = std::fs::read_to_string(&files.html).unwrap();
    assert!(html.contains("No runs were recorded"));
    assert!(!html.contains("<svg"));
    assert!(summary_table(&r).contains("no runs"));
}

#[test]
fn runs_that_all_diverge_at_once_draw_no_empty_chart() {
    let dir = tempfile::tempdir().unwrap();
    let r = results(
        "all diverged",
        vec![run(config("g", "N(0,1)", 3), 0, 10, (2.3, 1.0, 5.0), Some(1), None, Some(0.5), EvalLayers::Skip)],
    );
    let files = write_report(&r, dir.path()).unwrap();
    assert!(files.figures.is_empty(), "{:?}", files.figures);
    let rows = summarize(&r);
    assert_eq!(rows[0].diverged, 1);
    assert!(rows[0].final_train_loss.is_none() && rows[0].final_test_accuracy.is_none());
    assert!(summary_table(&r).contains('—'));
}

#[test]
fn non_finite_values_everywhere_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = small();
    for run in &mut r.runs {
        run.seconds = f64::NAN;
        for e in &mut run.evals {
            e.test_accuracy = Some(f64::INFINITY);
        }
        if let Some(p) = &mut run.probe {
            p.layers[0].act_std = f64::NAN;
            p.layers[1].grad_std = 0.0;
            p.verdict.forward_rate = f64::INFINITY;
            if let Some(j) = &mut p.jacobian {
                j.singular_values = vec![f64::NAN, f64::INFINITY];
                j.theory_mean_squared = Some(f64::NAN);
            }
        }
    }
    r.theory = Some(TheoryOverlay { sigma_b2: f64::NAN, trainable_depth: vec![(f64::NAN, f64::INFINITY)] });
    r.loss_criterion = Some(f64::NAN);
    let files = write_report(&r, dir.path()).unwrap();
    let stems: Vec<String> =
        files.figures.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert!(!stems.iter().any(|s| s.starts_with("jacobian") || s.starts_with("accuracy")), "{stems:?}");
    assert!(read_lines(&files.results_jsonl).iter().all(|r| r.is_object()));
}

#[test]
fn failed_writes_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let err = write_report(&small(), &file.join("out")).unwrap_err();
    assert!(matches!(err, ReportError::Io { .. }), "{err:?}");
    assert!(err.to_string().starts_with("cannot write `"));
}

#[test]
fn mean_sd_and_formatting() {
    let m = MeanSd::of([1.0, 2.0, 3.0, f64::NAN]).unwrap();
    assert_eq!((m.mean, m.sd, m.n), (2.0, 1.0, 3));
    assert_eq!(MeanSd::of([5.0]).unwrap().sd, 0.0);
    assert!(MeanSd::of([f64::NAN]).is_none());
    assert_eq!(summary::fmt_num(std::f64::consts::LN_10), "2.303");
    assert_eq!(summary::fmt_num(0.012345), "0.01235");
    assert_eq!(summary::fmt_num(3e-5), "3.00e-5");
    assert_eq!(html::duration(125.0), "2 min 05 s");
    assert_eq!(html::escape("<a & 'b'>"), "&lt;a &amp; &#39;b&#39;&gt;");
}

// Demo experiments for looking at the page: `LABREPORT_DEMO=/tmp/demo cargo test -- --ignored demo`.

/// He 2015: Xavier stalls in a 30-layer ReLU net, He trains, N(0,1) diverges.
pub(super) fn demo_he() -> ExperimentResults {
    let mut runs = Vec::new();
    let spec = |scale: f64, spread: f64, seed: u64| Spectrum {
        singular_values: (0..64)
            .map(|i| scale * (-(i as f64) * spread / 64.0).exp() * (1.0 + 0.05 * noise(seed, i)))
            .collect(),
        mean_squared: scale * scale * 0.3,
        theory_mean_squared: Some(scale * scale * 0.3),
    };
    for (group, depth) in [("relu-d22", 22), ("relu-d30", 30)] {
        for seed in 0..3 {
            let mut c = config(group, "xavier_normal", depth);
            c.width = 256;
            let stall = if depth == 30 { (2.303, 2.30, 1e9) } else { (2.303, 0.15, 400.0) };
            let p =
                probe(depth, 0.707, SignalKind::Vanishing, Some(spec(3e-5f64.powf(depth as f64 / 30.0), 6.0, seed)));
            let acc = if depth == 30 { 0.11 } else { 0.93 };
            runs.push(run(c, seed, 1500, stall, None, Some(p), Some(acc), EvalLayers::Skip));
            let mut c = config(group, "he_normal", depth);
            c.width = 256;
            let p = probe(depth, 1.0, SignalKind::Healthy, Some(spec(1.0, 3.0, seed)));
            runs.push(run(c, seed, 1500, (2.303, 0.08, 150.0), None, Some(p), Some(0.965), EvalLayers::Skip));
            let mut c = config(group, "N(0,1)", depth);
            c.width = 256;
            let p = probe(depth, 11.3, SignalKind::Exploding, Some(spec(1e6, 9.0, seed)));
            let div = if seed < 2 { Some(20 + 7 * seed as usize) } else { None };
            runs.push(run(c, seed, 1500, (40.0, 2.2, 600.0), div, Some(p), Some(0.2), EvalLayers::Skip));
        }
    }
    ExperimentResults {
        name: "he2015-relu-depth".to_string(),
        description: "A plain 30-layer ReLU MLP on the scikit-learn digits, trained with SGD under Xavier's \
                      variance 1/n and He's 2/n, with N(0,1) as a control. At initialization the probe measures \
                      how activation and gradient scales change through depth; training shows what that does."
            .to_string(),
        expectation: Some(
            "He et al. 2015 (Fig. 3): at depth 30, Xavier's activation std at the last layer is about 2^−15 ≈ 3e−5 of \
             the input's and the loss stays at ln 10 = 2.303; He's stays near 1 and the network trains. At depth \
             22 both converge."
                .to_string(),
        ),
        loss_criterion: None,
        runs,
        theory: None,
        seconds: 431.0,
        shard: None,
    }
}

/// Schoenholz 2017: trainable depth over (σ_w², depth) with the 6·ξ_c curve.
pub(super) fn demo_edge() -> ExperimentResults {
    let xi = |w: f64| 1.0 / (w.ln() - 0.9f64.ln()).abs().max(1e-3) * 2.5;
    let mut runs = Vec::new();
    for (i, w) in (0..8).map(|i| (i, 1.0 + 3.0 * i as f64 / 7.0)) {
        for depth in [10, 30, 50, 70, 100, 150] {
            for seed in 0..2 {
                // Named per grid point, as `experiment.rs` names the points of a `mean-field` sweep.
                let mut c = config("tanh", &format!("σw²={w:.2}"), depth);
                c.label = format!("tanh-w{w:.2}-d{depth}");
                c.activation = "tanh".to_string();
                c.sigma_w2 = Some(w);
                c.sigma_b2 = Some(0.05);
                let ok = (depth as f64) < 6.0 * xi(w);
                let acc = if ok { 0.9 - 0.002 * depth as f64 } else { 0.1 };
                let loss = (2.3, if ok { 0.3 } else { 2.3 }, 50.0);
                runs.push(run(c, seed + 10 * i, 200, loss, None, None, Some(acc), EvalLayers::Skip));
            }
        }
    }
    let trainable_depth = (0..=60).map(|k| 1.0 + 3.0 * k as f64 / 60.0).map(|w| (w, 6.0 * xi(w))).collect();
    ExperimentResults {
        name: "schoenholz2017-trainable-depth".to_string(),
        description: "Tanh MLPs of width 128 over a grid of weight variance σ_w² and depth, σ_b² = 0.05, a few \
                      hundred SGD steps on digits."
            .to_string(),
        expectation: Some(
            "Accuracy above chance exactly where L ≲ 6ξ_c, with the ridge at the edge of chaos.".to_string(),
        ),
        loss_criterion: None,
        runs,
        theory: Some(TheoryOverlay { sigma_b2: 0.05, trainable_depth }),
        seconds: 3000.0,
        shard: None,
    }
}

/// Saxe 2013: steps to criterion against depth; Glorot 2010: per-layer statistics in evaluations.
pub(super) fn demo_saxe() -> ExperimentResults {
    let mut runs = Vec::new();
    for depth in [2, 4, 8, 16, 32, 64] {
        for (init, grow) in [("orthogonal", 0.0), ("scaled_gaussian", 1.0)] {
            for seed in 0..3 {
                let mut c = config(&format!("linear-d{depth}"), init, depth);
                c.activation = "linear".to_string();
                let need = 120.0 * (depth as f64).powf(grow * 0.8) * (1.0 + 0.1 * noise(seed, depth as u64));
                let mut r = run(
                    c,
                    seed,
                    3000,
                    (1.0, 0.001, need / 4.0),
                    None,
                    None,
                    None,
                    if depth <= 8 { EvalLayers::Record } else { EvalLayers::Skip },
                );
                r.steps_to_criterion = (need < 3000.0).then_some(need as usize);
                r.init_iterations = Some(vec![1; depth]);
                runs.push(r);
            }
        }
    }
    ExperimentResults {
        name: "saxe2013-deep-linear".to_string(),
        description: "Deep linear networks on a linear teacher; steps until the loss falls below the criterion."
            .to_string(),
        expectation: Some("Flat in depth for orthogonal; growing for scaled Gaussian.".to_string()),
        loss_criterion: Some(0.01),
        runs,
        theory: None,
        seconds: 800.0,
        shard: None,
    }
}

#[test]
fn demos_have_their_figures() {
    let stems = |r: &ExperimentResults| figures::figures(r).0.into_iter().map(|f| f.stem).collect::<Vec<_>>();
    let he = stems(&demo_he());
    assert!(he.contains(&"loss-relu-d30".to_string()) && he.contains(&"jacobian-relu-d30".to_string()), "{he:?}");
    let edge = figures::figures(&demo_edge());
    assert_eq!(edge.0.iter().map(|f| f.stem.as_str()).collect::<Vec<_>>(), ["heatmap"]);
    assert_eq!(edge.1.len(), 2, "{:?}", edge.1);
    let saxe = stems(&demo_saxe());
    assert!(saxe.contains(&"steps-to-criterion".to_string()), "{saxe:?}");
    assert!(saxe.contains(&"layers-trained-linear-d2".to_string()), "{saxe:?}");
}

/// A char-GPT run: validation bits decaying from log2 84 toward `end`, measured every 50 of 300 steps, the
/// run stopped at `diverge_at`.
fn gpt_run(depth: usize, init: &str, seed: u64, end: f64, diverge_at: Option<usize>) -> RunRecord {
    let mut config = config(&format!("d{depth}"), init, depth);
    config.model = Architecture::Gpt;
    let start = 84f64.log2();
    let bits = |s: usize| end + (start - end) * (-(s as f64) / 60.0).exp() + 0.05 * noise(seed, s as u64);
    let last = diverge_at.unwrap_or(300);
    let steps = (1..=last)
        .map(|s| StepRow { step: s, loss: if Some(s) == diverge_at { f64::NAN } else { bits(s) * 2f64.ln() } })
        .collect();
    let evals = (0..=300)
        .step_by(50)
        .filter(|&s| diverge_at.is_none_or(|d| s < d))
        .map(|s| EvalRow {
            step: s,
            test_loss: bits(s) * 2f64.ln(),
            test_accuracy: None,
            grad_norms: Vec::new(),
            layers: None,
            validation_bits: Some(bits(s)),
        })
        .collect();
    let status = diverge_at.map_or(RunStatus::Finished, |step| RunStatus::Diverged { step });
    RunRecord {
        experiment: "transformer-depth".to_string(),
        config,
        seed,
        status,
        steps,
        evals,
        probe: None,
        init_iterations: None,
        steps_to_criterion: None,
        seconds: 3.0,
    }
}

/// transformer-depth in small: post-LN falls apart at depth 8 (one seed diverges), pre-LN and DeepNorm train.
fn demo_gpt() -> ExperimentResults {
    let mut runs = Vec::new();
    for depth in [2, 8] {
        for seed in 0..2 {
            let post_ln_diverges = (depth == 8 && seed == 1).then_some(120);
            runs.push(gpt_run(depth, "post-LN hf", seed, if depth == 8 { 3.4 } else { 2.4 }, post_ln_diverges));
            runs.push(gpt_run(depth, "pre-LN hf", seed, 2.3, None));
            runs.push(gpt_run(depth, "DeepNorm", seed, 2.35, None));
        }
    }
    results("transformer-depth", runs)
}

#[test]
fn gpt_runs_get_validation_figures_with_seed_bands_and_divergence_marks() {
    let (figs, _) = figures::figures(&demo_gpt());
    let stems: Vec<&str> = figs.iter().map(|f| f.stem.as_str()).collect();
    assert!(stems.contains(&"validation-d2") && stems.contains(&"validation-d8"), "{stems:?}");
    let fig = figs.iter().find(|f| f.stem == "validation-d8").unwrap();
    let figures::Plot::Loss(p) = &fig.plot else { panic!("{:?}", fig.plot) };
    assert_eq!((p.y_scale, p.y_desc), (figures::YScale::Linear, "validation bits per character"));
    assert_eq!(p.series.len(), 3);
    let post = &p.series[0];
    assert_eq!(post.key.name, "post-LN hf (1/2 diverged)");
    // The diverged seed's last measurement (step 100) is marked; the band covers both seeds until then.
    assert_eq!(post.stops.len(), 1);
    assert_eq!(post.stops[0].0, 100.0);
    assert_eq!(post.band.len(), 1);
    assert_eq!(post.band[0].last().unwrap().0, 100.0);
    assert_eq!(post.mean.iter().map(|m| m.0).collect::<Vec<_>>(), [0.0, 50.0, 100.0, 150.0, 200.0, 250.0, 300.0]);
    let pre = &p.series[1];
    assert!(pre.stops.is_empty() && pre.key.name == "pre-LN hf");
    assert!(pre.band[0].iter().all(|&(_, lo, hi)| lo <= hi));
    // Every mean lies inside the axis, which is linear and starts near the data, not at 0.
    for s in &p.series {
        assert!(s.mean.iter().all(|&(_, m)| p.y.0 < m && m < p.y.1), "{:?} {:?}", s.mean, p.y);
    }
    assert!(p.y.0 > 1.5 && p.y.1 < 7.0, "{:?}", p.y);
    // A start far above the others (torch-default's) is drawn at the top of the axis, not stretching it.
    let mut high = demo_gpt();
    high.runs.extend((0..2).map(|seed| {
        let mut r = gpt_run(8, "post-LN torch-default", seed, 3.0, None);
        r.evals[0].validation_bits = Some(34.0);
        r
    }));
    let (figs, _) = figures::figures(&high);
    let fig = figs.iter().find(|f| f.stem == "validation-d8").unwrap();
    let figures::Plot::Loss(p) = &fig.plot else { panic!("{:?}", fig.plot) };
    assert!(p.y.1 < 7.0, "{:?}", p.y);
    assert_eq!(p.series[3].mean[0].1, p.series.iter().map(|s| s.mean[0].1).fold(0.0, f64::max));
    assert!(fig.caption.contains("1 mean above"), "{}", fig.caption);
    // The summary gives the finished runs' last validation bits, diverged runs left out.
    let rows = summarize(&demo_gpt());
    let d8 = rows.iter().find(|r| r.label == "d8/post-LN hf").unwrap();
    assert_eq!((d8.diverged, d8.final_validation_bits.unwrap().n), (1, 1));
    let last = |r: &RunRecord| r.evals.last().unwrap().validation_bits.unwrap();
    let finished = demo_gpt().runs.into_iter().find(|r| r.config.label == "d8/post-LN hf" && r.seed == 0).unwrap();
    assert_eq!(d8.final_validation_bits.unwrap().mean, last(&finished));
    assert!(summary_table(&demo_gpt()).contains("validation bits/char"));
    assert!(!summary_table(&small()).contains("validation bits/char"));
    // Classifier runs have no validation bits, and no such figure.
    let (mlp, _) = figures::figures(&small());
    assert!(mlp.iter().all(|f| !f.stem.starts_with("validation-")));
}

#[test]
#[ignore = "writes demo reports to $LABREPORT_DEMO for looking at"]
fn demo() {
    let Some(dir) = std::env::var_os("LABREPORT_DEMO") else { return };
    let dir = Path::new(&dir);
    for r in [small(), demo_he(), demo_edge(), demo_saxe(), demo_gpt()] {
        let files = write_report(&r, &dir.join(&r.name)).unwrap();
        println!("{}", files.html.display());
        print!("{}", summary_table(&r));
    }
}

#[test]
fn glance_names_the_rate_that_decided_the_verdict() {
    // A chaotic tanh net: activations saturate (std ×0.998 per layer) while gradients grow ×1.25 per
    // layer; the verdict is "exploding" because of the gradients, so the page must quote those.
    let mut p = probe(20, 0.998, SignalKind::Exploding, None);
    p.layers = layers(20, 0.998, 1.25);
    p.verdict.backward_rate = 1.25;
    let chaotic =
        run(config("tanh-d20", "σw²=4", 20), 0, 40, (2.3, 0.5, 10.0), None, Some(p), Some(0.6), EvalLayers::Skip);
    let dir = tempfile::tempdir().unwrap();
    write_report(&results("chaos", vec![chaotic]), dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("(back-propagated gradient std ×1.25 per layer)"), "gradient rate missing");
    assert!(!html.contains("(activation std ×0.998 per layer)"), "quotes the activation rate instead");
}

/// Every file of a report folder, by name, with its bytes.
fn folder(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
        })
        .collect()
}

#[test]
fn a_report_drawn_again_from_its_results_jsonl_is_the_same_report() {
    for original in [small(), demo_he(), demo_edge(), demo_saxe()] {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let files = write_report(&original, a.path()).unwrap();
        let read = read_results(&files.results_jsonl).unwrap();
        // Same values, NaN for NaN (JSON compares the non-finite numbers as null on both sides).
        assert_eq!(serde_json::to_value(&read).unwrap(), serde_json::to_value(&original).unwrap(), "{}", original.name);
        write_report(&read, b.path()).unwrap();
        let (first, second) = (folder(a.path()), folder(b.path()));
        assert_eq!(first.keys().collect::<Vec<_>>(), second.keys().collect::<Vec<_>>(), "{}", original.name);
        for (name, bytes) in &first {
            assert!(bytes == &second[name], "{}: {name} differs when drawn again", original.name);
        }
    }
    // The diverged run's losses are NaN again, not zero or missing.
    let dir = tempfile::tempdir().unwrap();
    let files = write_report(&small(), dir.path()).unwrap();
    let read = read_results(&files.results_jsonl).unwrap();
    let diverged = read.runs.iter().find(|r| matches!(r.status, RunStatus::Diverged { step: 12 })).unwrap();
    assert!(diverged.steps.last().unwrap().loss.is_nan());
    assert_eq!(diverged.steps.len(), small().runs[2].steps.len());
}

#[test]
fn results_that_are_not_the_labs_are_typed_errors_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_report(&small(), dir.path()).unwrap();
    let text = std::fs::read_to_string(&files.results_jsonl).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let path = dir.path().join("edited.jsonl");
    let parse_error = |content: String| {
        std::fs::write(&path, content).unwrap();
        match read_results(&path).unwrap_err() {
            ReportError::Parse { line, reason, .. } => (line, reason),
            other => panic!("{other:?}"),
        }
    };
    // Written before the `experiment` row existed: the first row is a run.
    let (line, reason) = parse_error(lines[1..].join("\n"));
    assert_eq!(line, 1);
    assert!(reason.contains("`experiment` row"), "{reason}");
    // A step row before its run's row.
    let (line, reason) = parse_error([lines[0], lines[2], lines[1]].join("\n"));
    assert_eq!(line, 2);
    assert!(reason.contains("relu-d5/he_normal") && reason.contains("seed 0"), "{reason}");
    // A line that is not JSON, and a run row without its config.
    let (line, _) = parse_error([lines[0], lines[1], "{not json"].join("\n"));
    assert_eq!(line, 3);
    let (line, reason) = parse_error([lines[0], r#"{"kind":"run","label":"x","seed":0}"#].join("\n"));
    assert_eq!(line, 2);
    assert!(reason.contains("missing field"), "{reason}");
    // The same run twice.
    let (line, reason) = parse_error([lines[0], lines[1], lines[1]].join("\n"));
    assert_eq!(line, 3);
    assert!(reason.contains("second `run` row"), "{reason}");
    let (line, reason) = parse_error(String::new());
    assert_eq!((line, reason.as_str()), (1, "the file is empty"));
    // A missing file.
    let err = read_results(&dir.path().join("missing.jsonl")).unwrap_err();
    assert!(matches!(err, ReportError::Read { .. }), "{err:?}");
    assert!(err.to_string().starts_with("cannot read `"), "{err}");
}
