//! Bit-exact comparison of `nninit::torch` with fixtures made by real PyTorch
//! (scripts/golden/torch_cpu.py). Needs no torch at test time.

use nninit::Shape;
use nninit::activation::Activation;
use nninit::fan::FanMode;
use nninit::torch::{self, StateValues, TorchDType, TorchFloat, TorchGenerator, TorchKernel};
use serde_json::Value;

// ------------------------------------------------------------------ SHA-256 (FIPS 180-4)

fn sha256(data: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
        0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
        0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
        0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
        0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
        0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
        0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] =
        [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for chunk in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in chunk.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
        }
        let mut v = h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7].wrapping_add(s1).wrapping_add(ch).wrapping_add(K[i]).wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [t1.wrapping_add(t2), v[0], v[1], v[2], v[3].wrapping_add(t1), v[4], v[5], v[6]];
        }
        for (x, y) in h.iter_mut().zip(v) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

#[test]
fn sha256_known_answers() {
    assert_eq!(sha256(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_eq!(sha256(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    let million_a = vec![b'a'; 1_000_000];
    assert_eq!(sha256(&million_a), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// ------------------------------------------------------------------ values to compare

/// Values produced by nninit, as raw bits (u32 for f32, u64 for f64) or ints.
enum Got {
    Bits(Vec<u64>, usize),
    Floats(Vec<f64>),
    Ints(Vec<i64>),
}

fn bits_f32(v: &[f32]) -> Got {
    Got::Bits(v.iter().map(|x| u64::from(x.to_bits())).collect(), 4)
}
fn bits_f64(v: &[f64]) -> Got {
    Got::Bits(v.iter().map(|x| x.to_bits()).collect(), 8)
}

/// Compares one output with its fixture entry; returns (values compared, description of a mismatch).
fn compare(want: &Value, got: &Got, what: &str) -> Result<usize, String> {
    if let Some(bits) = want.get("bits") {
        let Got::Bits(g, _) = got else {
            return Err(format!("{what}: expected floats"));
        };
        let w: Vec<u64> =
            bits.as_array().unwrap().iter().map(|b| u64::from_str_radix(b.as_str().unwrap(), 16).unwrap()).collect();
        if w.len() != g.len() {
            return Err(format!("{what}: {} values, expected {}", g.len(), w.len()));
        }
        if let Some(i) = (0..w.len()).find(|&i| w[i] != g[i]) {
            return Err(format!("{what}: element {i} is {:x}, torch {:x}", g[i], w[i]));
        }
        return Ok(w.len());
    }
    if let Some(hash) = want.get("sha256") {
        let Got::Bits(g, width) = got else {
            return Err(format!("{what}: expected floats"));
        };
        for s in want["samples"].as_array().unwrap() {
            let i = s[0].as_u64().unwrap() as usize;
            let w = u64::from_str_radix(s[1].as_str().unwrap(), 16).unwrap();
            if g.get(i) != Some(&w) {
                return Err(format!("{what}: sampled element {i} is {:x?}, torch {w:x}", g.get(i)));
            }
        }
        let bytes: Vec<u8> = if *width == 4 {
            g.iter().flat_map(|&x| (x as u32).to_le_bytes()).collect()
        } else {
            g.iter().flat_map(|&x| x.to_le_bytes()).collect()
        };
        if sha256(&bytes) != hash.as_str().unwrap() {
            return Err(format!("{what}: SHA-256 differs ({} values)", g.len()));
        }
        return Ok(g.len());
    }
    if let Some(values) = want.get("values") {
        let Got::Floats(g) = got else {
            return Err(format!("{what}: expected approximate floats"));
        };
        let w: Vec<f64> = values.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let diff = w.iter().zip(g).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        if w.len() != g.len() || diff > 1e-5 {
            return Err(format!("{what}: max |diff| {diff:e} > 1e-5"));
        }
        return Ok(w.len());
    }
    if let Some(ints) = want.get("ints") {
        let Got::Ints(g) = got else {
            return Err(format!("{what}: expected ints"));
        };
        let w: Vec<i64> = ints.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
        return if &w == g { Ok(w.len()) } else { Err(format!("{what}: {g:?} != torch {w:?}")) };
    }
    Err(format!("{what}: unknown fixture entry"))
}

// ------------------------------------------------------------------ the interpreter

fn f(op: &Value, k: &str, default: f64) -> f64 {
    op.get(k).and_then(Value::as_f64).unwrap_or(default)
}

fn shape(op: &Value) -> Vec<usize> {
    op["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect()
}

fn nonlinearity(op: &Value) -> Activation {
    let name = op.get("nonlinearity").and_then(Value::as_str).unwrap_or("leaky_relu");
    let a = f(op, "a", 0.0);
    if name == "leaky_relu" {
        Activation::parse(name, Some(a)).unwrap()
    } else {
        Activation::parse(name, None).unwrap()
    }
}

fn run_typed<T: TorchFloat>(
    g: &mut TorchGenerator,
    op: &Value,
    kernel: TorchKernel,
    to_got: fn(&[T]) -> Got,
) -> nninit::Result<Vec<Got>> {
    let fun = op["fn"].as_str().unwrap();
    if fun == "randperm" {
        let p = torch::randperm(g, op["n"].as_u64().unwrap() as usize);
        return Ok(vec![Got::Ints(p.into_iter().map(|x| x as i64).collect())]);
    }
    let dims = shape(op);
    let s = Shape::new(dims.clone())?;
    let mut v = vec![T::default(); s.numel() as usize];
    let mode = || FanMode::parse(op.get("mode").and_then(Value::as_str).unwrap_or("fan_in")).unwrap();
    match fun {
        "uniform_" => torch::uniform_(g, &mut v, f(op, "a", 0.0), f(op, "b", 1.0))?,
        "normal_" => torch::normal_(g, &mut v, f(op, "mean", 0.0), f(op, "std", 1.0))?,
        "normal_strided" => {
            // A transposed view takes the scalar path in memory order: chunks of < 16 do too.
            for chunk in v.chunks_mut(15) {
                torch::normal_(g, chunk, f(op, "mean", 0.0), f(op, "std", 1.0))?;
            }
        }
        "trunc_normal_" => {
            torch::trunc_normal_(g, &mut v, f(op, "mean", 0.0), f(op, "std", 1.0), f(op, "a", -2.0), f(op, "b", 2.0))?
        }
        "kaiming_uniform_" => torch::kaiming_uniform_(g, &mut v, &s, mode(), &nonlinearity(op))?,
        "kaiming_normal_" => torch::kaiming_normal_(g, &mut v, &s, mode(), &nonlinearity(op))?,
        "xavier_uniform_" => torch::xavier_uniform_(g, &mut v, &s, f(op, "gain", 1.0))?,
        "xavier_normal_" => torch::xavier_normal_(g, &mut v, &s, f(op, "gain", 1.0))?,
        "orthogonal_" => {
            torch::orthogonal_(g, &mut v, &s, f(op, "gain", 1.0))?;
            let floats = to_got(&v);
            let Got::Bits(b, w) = floats else { unreachable!() };
            let vals = b
                .iter()
                .map(|&x| if w == 4 { f64::from(f32::from_bits(x as u32)) } else { f64::from_bits(x) })
                .collect();
            return Ok(vec![Got::Floats(vals)]);
        }
        "sparse_" => torch::sparse_(g, &mut v, &s, f(op, "sparsity", 0.0), f(op, "std", 0.01))?,
        "sparse_generator_" => {
            let mut own = TorchGenerator::new(op["generator_seed"].as_u64().unwrap()).with_kernel(kernel);
            torch::sparse_with_generator_(&mut own, g, &mut v, &s, f(op, "sparsity", 0.0), f(op, "std", 0.01))?;
        }
        "constant_" => torch::constant_(&mut v, f(op, "val", 0.0)),
        "eye_" => torch::eye_(&mut v, &s)?,
        "dirac_" => torch::dirac_(&mut v, &s, op.get("groups").and_then(Value::as_u64).unwrap_or(1) as usize)?,
        other => panic!("unknown op {other}"),
    }
    Ok(vec![to_got(&v)])
}

/// What one fixture file holds and what was compared.
struct Tally {
    /// Cases in the fixture.
    cases: usize,
    /// Cases whose every output and final generator state matched.
    cases_matched: usize,
    /// Tensors in the fixture's outputs.
    tensors: usize,
    /// Tensors that matched.
    tensors_matched: usize,
    /// Values in the tensors that matched.
    values: usize,
    failures: Vec<String>,
}

/// Runs one fixture file.
fn run_file(name: &str, kernel: TorchKernel) -> Tally {
    let path = format!("{}/tests/fixtures/torch/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert!(doc["torch_version"].as_str().unwrap().starts_with("2.15"));
    assert_eq!(doc["kernel"].as_str().unwrap(), kernel.name());
    let cases = doc["cases"].as_array().unwrap();
    let (mut values, mut tensors, mut failures) = (0, 0, Vec::new());
    let (mut fixture_tensors, mut cases_matched) = (0, 0);
    for case in cases {
        let failed_before = failures.len();
        let seed = case["seed"].as_u64().unwrap();
        let dtype = case["dtype"].as_str().unwrap();
        let label = format!("{name} {} seed {seed} {dtype}", case["id"].as_str().unwrap());
        let mut g = TorchGenerator::new(seed).with_kernel(kernel);
        let ops = case["ops"].as_array().unwrap();
        let outputs = case["outputs"].as_array().unwrap();
        if ops.len() != outputs.len() {
            failures.push(format!("{label}: {} ops but {} outputs in the fixture", ops.len(), outputs.len()));
        }
        fixture_tensors += outputs.iter().map(|o| o.as_array().unwrap().len()).sum::<usize>();
        for (i, (op, want)) in ops.iter().zip(outputs).enumerate() {
            let want = want.as_array().unwrap();
            let got: Vec<(Option<String>, Got)> = if op["fn"] == "modules" {
                let json = op["modules"].to_string();
                let dt = if dtype == "float32" { TorchDType::F32 } else { TorchDType::F64 };
                match torch::state_dict_from_json(&json, &mut g, dt) {
                    Ok(ts) => ts
                        .into_iter()
                        .map(|t| {
                            let got = match &t.data {
                                StateValues::F32(v) => bits_f32(v),
                                StateValues::F64(v) => bits_f64(v),
                                StateValues::I64(v) => Got::Ints(v.clone()),
                            };
                            (Some(format!("{}{:?}", t.name, t.shape)), got)
                        })
                        .collect(),
                    Err(e) => {
                        failures.push(format!("{label} op {i}: {e}"));
                        continue;
                    }
                }
            } else {
                let r = if dtype == "float32" {
                    run_typed::<f32>(&mut g, op, kernel, bits_f32)
                } else {
                    run_typed::<f64>(&mut g, op, kernel, bits_f64)
                };
                match r {
                    Ok(v) => v.into_iter().map(|x| (None, x)).collect(),
                    Err(e) => {
                        failures.push(format!("{label} op {i}: {e}"));
                        continue;
                    }
                }
            };
            if got.len() != want.len() {
                failures.push(format!("{label} op {i}: {} tensors, torch {}", got.len(), want.len()));
                continue;
            }
            for (j, ((key, got), want)) in got.iter().zip(want).enumerate() {
                if let (Some(key), Some(wk)) = (key, want.get("key")) {
                    let wshape: Vec<usize> =
                        want["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
                    if *key != format!("{}{:?}", wk.as_str().unwrap(), wshape) {
                        failures.push(format!("{label} op {i} tensor {j}: key {key}, torch {wk}{wshape:?}"));
                        continue;
                    }
                }
                match compare(want, got, &format!("{label} op {i} ({}) tensor {j}", op["fn"])) {
                    Ok(n) => {
                        values += n;
                        tensors += 1;
                    }
                    Err(e) => failures.push(e),
                }
            }
        }
        let mut after = [0.0f32; 4];
        torch::uniform_(&mut g, &mut after, 0.0, 1.0).unwrap();
        if let Err(e) = compare(&case["after"], &bits_f32(&after), &format!("{label} draws consumed")) {
            failures.push(e);
        }
        if failures.len() == failed_before {
            cases_matched += 1;
        }
    }
    Tally { cases: cases.len(), cases_matched, tensors: fixture_tensors, tensors_matched: tensors, values, failures }
}

fn check(name: &str, kernel: TorchKernel) {
    let t = run_file(name, kernel);
    eprintln!(
        "{name}: {} of {} cases, {} of {} tensors, {} values match; {} failures",
        t.cases_matched,
        t.cases,
        t.tensors_matched,
        t.tensors,
        t.values,
        t.failures.len()
    );
    for f in t.failures.iter().take(40) {
        eprintln!("  {f}");
    }
    assert!(t.failures.is_empty(), "{} mismatches with torch", t.failures.len());
    // A fixture that compares nothing would pass the line above: it must not.
    assert!(t.cases > 0 && t.tensors > 0 && t.values > 0, "{name} compared nothing");
    assert_eq!(t.cases_matched, t.cases, "{name}: cases compared");
    assert_eq!(t.tensors_matched, t.tensors, "{name}: tensors compared");
}

#[test]
fn avx2_flavour_matches_torch() {
    check("avx2.json", TorchKernel::Avx2);
}

#[test]
fn default_flavour_matches_torch() {
    check("default.json", TorchKernel::Default);
}
