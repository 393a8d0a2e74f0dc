//! Joining the shards of an experiment run on several machines back into one experiment's
//! results (`nninit lab merge`), in the order one machine would have run them.
//!
//! Shard `i` of `n` ran the runs at positions `i, i + n, i + 2n, ...` of the experiment's order
//! ([`crate::record::Shard::takes`]), in that order, so the run at position `p` is run `p / n` of shard `p % n`.
//! A run depends only on its configuration and seed, so the joined results are a single
//! machine's, run for run; only the wall-clock seconds differ, as they do between any two runs.

use std::collections::HashSet;

use crate::error::{LabError, Result};
use crate::record::{ExperimentResults, RunRecord, ShardOf};

/// Joins every shard of one experiment into its whole results: the runs in the experiment's
/// order, `shard` cleared, `seconds` the sum of the shards' (their machine time, not a wall time).
/// The shards may come in any order.
///
/// # Errors
/// [`LabError::Shard`] when a part is not a shard, the parts are of different experiments (name,
/// description, expectation, loss criterion or theory overlay differ) or different splits, a shard
/// is missing or given twice, a shard does not hold its share of the runs, or a (configuration,
/// seed) appears twice.
pub fn merge(parts: Vec<ExperimentResults>) -> Result<ExperimentResults> {
    let bad = |reason: String| LabError::Shard { reason };
    let first = parts.first().ok_or_else(|| bad("no shards to join".into()))?;
    let of = |r: &ExperimentResults| {
        r.shard.ok_or_else(|| {
            bad(format!(
                "the results of `{}` are a whole experiment, not a shard (run with --shard INDEX/COUNT)",
                r.name
            ))
        })
    };
    let ShardOf { shard, total_runs } = of(first)?;
    let count = shard.count();
    // What makes two parts the same experiment: everything the experiment row holds but time.
    let identity = |r: &ExperimentResults| {
        (r.name.clone(), r.description.clone(), r.expectation.clone(), r.loss_criterion, r.theory.clone())
    };
    let whole = identity(first);
    let mut slots: Vec<Option<ExperimentResults>> = (0..count).map(|_| None).collect();
    for part in parts {
        let this = of(&part)?;
        if identity(&part) != whole {
            return Err(bad(format!(
                "shard {} is of another experiment than the first shard's (`{}`): name, description, expectation, \
                 loss criterion or theory differ",
                this.shard, whole.0
            )));
        }
        if this.shard.count() != count || this.total_runs != total_runs {
            return Err(bad(format!(
                "shard {} of {} runs does not belong with shards of {count} splitting {total_runs} runs",
                this.shard, this.total_runs
            )));
        }
        let expected = this.shard.runs_of(total_runs);
        if part.runs.len() != expected {
            return Err(bad(format!(
                "shard {} holds {} runs, not its {expected} (did it finish?)",
                this.shard,
                part.runs.len()
            )));
        }
        let slot = &mut slots[this.shard.index()];
        if slot.is_some() {
            return Err(bad(format!("shard {} is given twice", this.shard)));
        }
        *slot = Some(part);
    }
    let missing: Vec<String> = (0..count).filter(|&i| slots[i].is_none()).map(|i| format!("{i}/{count}")).collect();
    if !missing.is_empty() {
        return Err(bad(format!("missing shard(s) {}", missing.join(", "))));
    }
    let mut parts: Vec<ExperimentResults> = slots.into_iter().flatten().collect();
    let seconds = parts.iter().map(|p| p.seconds).sum();
    let mut runs: Vec<std::vec::IntoIter<RunRecord>> =
        parts.iter_mut().map(|p| std::mem::take(&mut p.runs).into_iter()).collect();
    let mut seen = HashSet::with_capacity(total_runs);
    let mut joined = Vec::with_capacity(total_runs);
    for position in 0..total_runs {
        let run = runs[position % count].next().ok_or_else(|| bad(format!("no run at position {position}")))?;
        if !seen.insert((run.config.label.clone(), run.seed)) {
            return Err(bad(format!("run `{}` seed {} is in two shards", run.config.label, run.seed)));
        }
        joined.push(run);
    }
    let whole = parts.swap_remove(0);
    Ok(ExperimentResults { runs: joined, seconds, shard: None, ..whole })
}

#[cfg(all(test, feature = "burn", feature = "report"))]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::experiment::{BUILT_IN, Experiment, RunOptions, run};
    use crate::record::Shard;

    /// The smoke experiment (3 inits × 2 seeds on the digits), whole or one shard, one run at a
    /// time so that nothing but the split differs.
    fn smoke(shard: Option<Shard>) -> ExperimentResults {
        let src = BUILT_IN.iter().find(|(n, _)| *n == "smoke").unwrap().1;
        let exp = Experiment::parse(src, "smoke").unwrap();
        let opts = RunOptions { steps: Some(6), jobs: Some(1), shard, ..Default::default() };
        run(&exp, &opts, &|_| ()).unwrap()
    }

    /// The wall-clock times, the one thing two runs of the same experiment do not share.
    fn untimed(mut r: ExperimentResults) -> ExperimentResults {
        r.seconds = 0.0;
        for run in &mut r.runs {
            run.seconds = 0.0;
        }
        r
    }

    /// Every file of a report folder, by name.
    fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
            .collect();
        out.sort();
        out
    }

    fn shard(i: usize, n: usize) -> Shard {
        Shard::new(i, n).unwrap()
    }

    #[test]
    fn joined_shards_are_the_single_machine_run_byte_for_byte() {
        let whole = smoke(None);
        assert_eq!(whole.runs.len(), 6);
        assert_eq!(whole.shard, None);
        // Three shards of six runs, given out of order: shard 1 has positions 1 and 4.
        let parts: Vec<ExperimentResults> = [2, 0, 1].map(|i| smoke(Some(shard(i, 3)))).into();
        assert_eq!(parts[2].shard, Some(ShardOf { shard: shard(1, 3), total_runs: 6 }));
        let (a, b) = (&parts[2].runs, &whole.runs);
        assert_eq!((a.len(), &a[0].config.label, a[0].seed, a[1].seed), (2, &b[1].config.label, b[1].seed, b[4].seed));
        let joined = merge(parts.clone()).unwrap();
        assert_eq!(joined.shard, None);
        assert!((joined.seconds - parts.iter().map(|p| p.seconds).sum::<f64>()).abs() < 1e-9);
        let (whole, joined) = (untimed(whole), untimed(joined));
        assert_eq!(joined, whole);
        let dir = tempfile::tempdir().unwrap();
        let (one, many) = (dir.path().join("one"), dir.path().join("many"));
        crate::report::write_report(&whole, &one).unwrap();
        crate::report::write_report(&joined, &many).unwrap();
        let (one, many) = (files(&one), files(&many));
        assert!(one.iter().any(|(n, _)| n == "report.html") && one.len() > 3, "{:?}", one.iter().map(|f| &f.0));
        assert_eq!(one, many);
        // A shard's results name it in results.jsonl and come back from it.
        let part = dir.path().join("part");
        crate::report::write_report(&parts[0], &part).unwrap();
        let back = crate::report::read_results(&part.join("results.jsonl")).unwrap();
        assert_eq!(back.shard, parts[0].shard);
        // The whole experiment's first row has no shard key, as before shards existed.
        let head = std::fs::read_to_string(dir.path().join("one/results.jsonl")).unwrap();
        assert!(!head.lines().next().unwrap().contains("shard"));
    }

    #[test]
    fn shards_that_do_not_make_one_experiment_are_refused() {
        let parts: Vec<ExperimentResults> = (0..2).map(|i| smoke(Some(shard(i, 2)))).collect();
        let refused = |parts: Vec<ExperimentResults>, needle: &str| match merge(parts) {
            Err(LabError::Shard { reason }) => assert!(reason.contains(needle), "{reason} should say {needle}"),
            other => panic!("{needle}: {other:?}"),
        };
        refused(vec![], "no shards");
        refused(vec![parts[0].clone()], "missing shard(s) 1/2");
        refused(vec![parts[0].clone(), parts[0].clone()], "shard 0/2 is given twice");
        refused(vec![smoke(None)], "a whole experiment, not a shard");
        let mut other = parts[1].clone();
        other.description.push('!');
        refused(vec![parts[0].clone(), other], "another experiment");
        let mut short = parts[1].clone();
        short.runs.pop();
        refused(vec![parts[0].clone(), short], "holds 2 runs, not its 3");
        let mut twice = parts[1].clone();
        twice.runs[2] = parts[0].runs[0].clone();
        refused(vec![parts[0].clone(), twice], "is in two shards");
        let three = smoke(Some(shard(2, 3)));
        refused(vec![parts[0].clone(), three], "does not belong");
        // A shard per run at most, checked before any data is loaded.
        let src = BUILT_IN.iter().find(|(n, _)| *n == "smoke").unwrap().1;
        let exp = Experiment::parse(src, "smoke").unwrap();
        let opts = RunOptions { shard: Some(shard(6, 7)), data_dir: Some("/nonexistent".into()), ..Default::default() };
        assert!(matches!(run(&exp, &opts, &|_| ()), Err(LabError::OutOfRange { name: "shards", .. })));
    }
}
