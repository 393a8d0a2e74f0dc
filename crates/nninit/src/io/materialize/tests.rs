//! Sharding, the file format, rank unions and atomicity.

use std::collections::BTreeMap;

use super::*;
use crate::arch::Model;
use crate::scheme::Scheme;
use crate::stream::Philox;

fn planned(preset_json: &str, scheme: &str, dtype: DType) -> (Model, Plan) {
    let model = Model::from_config_json(preset_json).unwrap();
    let mut plan = model.plan(dtype).unwrap();
    Scheme::parse(scheme).unwrap().apply(&model, &mut plan).unwrap();
    (model, plan)
}

const TINY_LLAMA: &str = r#"{"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 64,
  "intermediate_size": 160, "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
  "vocab_size": 300}"#;
const TINY_GPT2: &str = r#"{"model_type": "gpt2", "n_embd": 32, "n_head": 4, "n_layer": 2, "n_positions": 16,
  "vocab_size": 100}"#;

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| (e.file_name().into_string().unwrap(), std::fs::read(e.path()).unwrap()))
        .collect()
}

#[test]
fn sizes_parse_like_transformers() {
    assert_eq!(parse_size("5GB").unwrap(), 5_000_000_000);
    assert_eq!(parse_size("500MB").unwrap(), 500_000_000);
    assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
    assert_eq!(parse_size("1.5KB").unwrap(), 1500);
    assert_eq!(parse_size("4096").unwrap(), 4096);
    for bad in ["", "GB", "5XB", "-1GB", "0", "1e999GB"] {
        assert!(parse_size(bad).is_err(), "{bad}");
    }
}

#[test]
fn sharding_follows_huggingface_hub() {
    let (_, plan) = planned(TINY_LLAMA, "hf", DType::F32);
    let one = shard_plan(&plan, u64::MAX).unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].file, "model.safetensors");
    // embed_tokens is 300·64·4 = 76800 bytes: larger than the limit, alone in its own shard.
    let shards = shard_plan(&plan, 70_000).unwrap();
    assert_eq!(shards[0].tensors, vec![0]);
    assert!(shards.iter().all(|s| s.bytes <= 70_000 || s.tensors.len() == 1));
    assert_eq!(shards.iter().map(|s| s.bytes).sum::<u64>(), plan.bytes());
    let n = shards.len();
    assert_eq!(shards[n - 1].file, format!("model-{n:05}-of-{n:05}.safetensors"));
    // As huggingface_hub does, an oversized tensor (here the untied lm_head, last) gets its own
    // shard at once, before the shard being filled is closed.
    let mut order: Vec<usize> = shards.iter().flat_map(|s| s.tensors.clone()).collect();
    let head = plan.tensors.len() - 1;
    assert_eq!(shards[n - 2].tensors, vec![head]);
    order.sort_unstable();
    assert_eq!(order, (0..plan.tensors.len()).collect::<Vec<_>>());
}

#[test]
fn single_file_reads_back_with_safetensors_and_matches_fill() {
    let (model, plan) = planned(TINY_GPT2, "hf", DType::BF16);
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Options::new(7);
    opts.chunk_bytes = 1000; // many chunks per tensor
    let w = materialize(&plan, model.config(), dir.path(), &opts, &|_| {}).unwrap();
    assert_eq!(w.shards, 1);
    let raw = std::fs::read(dir.path().join("model.safetensors")).unwrap();
    let st = ::safetensors::SafeTensors::deserialize(&raw).unwrap();
    assert_eq!(st.len(), plan.stored().count());
    assert!(st.tensor("lm_head.weight").is_err(), "tied head not saved");
    let (n, meta) = ::safetensors::SafeTensors::read_metadata(&raw).unwrap();
    assert_eq!(n % 8, 0);
    assert_eq!(meta.metadata().as_ref().unwrap()["format"], "pt");
    for t in plan.stored() {
        let view = st.tensor(&t.name).unwrap();
        assert_eq!(view.shape(), t.spec.shape().dims());
        assert_eq!(view.dtype(), ::safetensors::Dtype::BF16);
        let mut want = vec![half::bf16::ZERO; t.numel() as usize];
        t.init.unwrap().fill(&t.spec, &Philox::new(7, &t.name), &mut want).unwrap();
        let mut bytes = Vec::new();
        half::bf16::extend_le_bytes(&want, &mut bytes);
        assert_eq!(view.data(), &bytes[..], "{}", t.name);
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join(MANIFEST_FILE)).unwrap()).unwrap();
    assert_eq!(manifest["seed"], 7);
    assert_eq!(manifest["scheme"], "hf");
    let c_proj = manifest["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "transformer.h.0.attn.c_proj.weight")
        .unwrap();
    assert!((c_proj["std"].as_f64().unwrap() - 0.02 / 2.0).abs() < 1e-15);
    assert_eq!(c_proj["stream_key"], "transformer.h.0.attn.c_proj.weight");
    assert_eq!(c_proj["rule"]["init"], "normal");
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join(CONFIG_FILE)).unwrap()).unwrap();
    assert_eq!(&config, model.config());
    assert!(!dir.path().join(INDEX_FILE).exists());
}

#[test]
fn shards_and_index_and_rank_union_is_byte_identical() {
    let (model, plan) = planned(TINY_LLAMA, "megatron", DType::F16);
    let mut opts = Options::new(3);
    opts.max_shard_size = 60_000;
    opts.chunk_bytes = 4096;
    let single = tempfile::tempdir().unwrap();
    let w = materialize(&plan, model.config(), single.path(), &opts, &|_| {}).unwrap();
    assert!(w.shards >= 3, "{}", w.shards);
    let all = files(single.path());
    let index: serde_json::Value = serde_json::from_slice(&all[INDEX_FILE]).unwrap();
    assert_eq!(index["metadata"]["total_size"], plan.bytes());
    let map = index["weight_map"].as_object().unwrap();
    assert_eq!(map.len(), plan.stored().count());
    for (name, file) in map {
        let raw = &all[file.as_str().unwrap()];
        ::safetensors::SafeTensors::deserialize(raw).unwrap().tensor(name).unwrap();
    }
    for world in [2, 3, 5] {
        let union = tempfile::tempdir().unwrap();
        let mut total = 0;
        for rank in 0..world {
            let mut o = opts;
            o.ranks = Ranks::new(rank, world).unwrap();
            total += materialize(&plan, model.config(), union.path(), &o, &|_| {}).unwrap().bytes;
        }
        assert_eq!(total, plan.bytes());
        assert_eq!(files(union.path()), all, "world size {world}");
    }
    assert!(Ranks::new(2, 2).is_err());
}

#[test]
fn structured_rules_stream_too() {
    let (model, plan) = planned(TINY_LLAMA, "zero", DType::F32);
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Options::new(0);
    opts.chunk_bytes = 512;
    materialize(&plan, model.config(), dir.path(), &opts, &|_| {}).unwrap();
    let raw = std::fs::read(dir.path().join(SINGLE_FILE)).unwrap();
    let st = ::safetensors::SafeTensors::deserialize(&raw).unwrap();
    let t = plan.get("model.layers.0.mlp.up_proj.weight").unwrap();
    let mut want = vec![0f32; t.numel() as usize];
    t.init.unwrap().fill(&t.spec, &Philox::new(0, &t.name), &mut want).unwrap();
    let got: Vec<f32> =
        st.tensor(&t.name).unwrap().data().chunks(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    assert_eq!(got, want);
}

#[test]
fn a_failed_write_leaves_nothing_that_looks_complete() {
    let (model, plan) = planned(TINY_LLAMA, "hf", DType::F32);
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Options::new(1);
    opts.max_shard_size = 60_000;
    let shards = shard_plan(&plan, opts.max_shard_size).unwrap();
    // A folder in the way of the second shard makes its rename fail.
    let blocker = dir.path().join(&shards[1].file);
    std::fs::create_dir(&blocker).unwrap();
    std::fs::write(blocker.join("x"), b"x").unwrap();
    let err = materialize(&plan, model.config(), dir.path(), &opts, &|_| {}).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    let left = files_or_dirs(dir.path());
    assert!(!left.iter().any(|f| f == INDEX_FILE || f == MANIFEST_FILE || f == CONFIG_FILE), "{left:?}");
    assert!(!left.iter().any(|f| f.contains(".tmp-")), "temporary files removed: {left:?}");
    assert!(!left.iter().any(|f| *f == shards[2].file), "stopped at the failure: {left:?}");
}

fn files_or_dirs(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect()
}

#[test]
fn unvalidated_plans_are_refused() {
    let model = Model::from_config_json(TINY_GPT2).unwrap();
    let plan = model.plan(DType::F32).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = materialize(&plan, model.config(), dir.path(), &Options::new(0), &|_| {}).unwrap_err();
    assert!(err.to_string().contains("apply a scheme"), "{err}");
    assert_eq!(files_or_dirs(dir.path()).len(), 0);
}

/// FNV-1a (64-bit) over the shard files in name order: a fingerprint of the bytes written.
fn shard_fingerprint(dir: &Path) -> (usize, u64) {
    let shards: Vec<Vec<u8>> =
        files(dir).into_iter().filter(|(name, _)| name.ends_with(".safetensors")).map(|(_, bytes)| bytes).collect();
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for byte in shards.iter().flatten() {
        h = (h ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
    }
    (shards.len(), h)
}

/// The bytes written must not change (same seed, same bytes): fingerprints of the shards the
/// first streaming writer (a generator thread and buffered writes) wrote, via `nninit materialize
/// --config ... --scheme S --dtype D --seed N [--max-shard-size 60000B]`, for every write mode
/// and buffer size.
#[test]
fn shard_bytes_are_pinned_for_every_write_mode_and_buffer_size() {
    let cases = [
        (TINY_GPT2, "hf", DType::BF16, 7, None, (1, 0xf82a_34c0_4861_1bb2)),
        (TINY_LLAMA, "megatron", DType::F16, 3, Some(60_000), (7, 0xab02_081e_544f_143b)),
        (TINY_LLAMA, "zero", DType::F32, 0, None, (1, 0xe068_5a80_ea27_e41e)),
    ];
    for (config, scheme, dtype, seed, max_shard, want) in cases {
        let (model, plan) = planned(config, scheme, dtype);
        for mode in [WriteMode::Direct, WriteMode::PageCache] {
            for chunk in [1, 4096, 12_345, DEFAULT_CHUNK_BYTES] {
                let dir = tempfile::tempdir().unwrap();
                let mut opts = Options::new(seed);
                opts.write_mode = mode;
                opts.chunk_bytes = chunk;
                if let Some(m) = max_shard {
                    opts.max_shard_size = m;
                }
                materialize(&plan, model.config(), dir.path(), &opts, &|_| {}).unwrap();
                let got = shard_fingerprint(dir.path());
                assert_eq!(got, want, "{scheme} {dtype:?} {mode:?} chunk {chunk}: {:#x}", got.1);
                assert!(!files_or_dirs(dir.path()).iter().any(|f| f.contains(".tmp-")));
                assert_manifest_digests(dir.path(), Digest::Sha256);
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let mut opts = Options::new(seed);
        opts.digest = Digest::None;
        opts.chunk_bytes = 4096;
        if let Some(m) = max_shard {
            opts.max_shard_size = m;
        }
        materialize(&plan, model.config(), dir.path(), &opts, &|_| {}).unwrap();
        assert_eq!(shard_fingerprint(dir.path()), want, "{scheme} {dtype:?} without a digest");
        assert_manifest_digests(dir.path(), Digest::None);
    }
}

/// Each manifest record's `sha256` is the SHA-256 of its file (hashed in order while the
/// next buffer is generated), or absent without a digest.
fn assert_manifest_digests(dir: &Path, digest: Digest) {
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join(MANIFEST_FILE)).unwrap()).unwrap();
    for r in manifest["shards"].as_array().unwrap() {
        let bytes = std::fs::read(dir.join(r["file"].as_str().unwrap())).unwrap();
        match digest {
            Digest::Sha256 => assert_eq!(r["sha256"], hex(&Sha256::digest(&bytes).into()), "{r}"),
            Digest::None => assert!(r.get("sha256").is_none(), "{r}"),
        }
    }
}

#[test]
fn progress_counts_every_data_byte_once() {
    let (model, plan) = planned(TINY_LLAMA, "hf", DType::BF16);
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Options::new(2);
    opts.chunk_bytes = 8192;
    opts.max_shard_size = 60_000;
    let seen = std::sync::atomic::AtomicU64::new(0);
    materialize(&plan, model.config(), dir.path(), &opts, &|n| {
        seen.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(seen.into_inner(), plan.bytes());
}
