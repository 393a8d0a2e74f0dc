use super::*;
use crate::io::{Bytes, TensorData, write_safetensors};

/// A file from a header (as JSON text) and a data section.
fn file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[test]
fn reads_what_write_safetensors_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    let a = Bytes::from_slice(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], vec![2, 3]);
    let b = Bytes::from_slice(&[half::bf16::from_f32(0.5); 4], vec![4]);
    let tensors =
        [TensorData { name: "b".into(), bytes: b.clone() }, TensorData { name: "a".into(), bytes: a.clone() }];
    let meta = std::collections::BTreeMap::from([("k".to_string(), "v".to_string())]);
    write_safetensors(&path, &tensors, &meta).unwrap();
    let ck = Checkpoint::open(&path).unwrap();
    assert_eq!(ck.tensors().len(), 2);
    let ta = ck.tensors().iter().find(|t| t.name == "a").unwrap();
    assert_eq!((ta.dtype, ta.shape.as_slice(), ta.numel()), (StoredDType::F32, &[2usize, 3][..], 6));
    assert_eq!(ck.data(ta), &a.data[..]);
    let tb = ck.tensors().iter().find(|t| t.name == "b").unwrap();
    assert_eq!((tb.dtype.float(), ck.data(tb)), (Some(DType::BF16), &b.data[..]));
    assert_eq!(ck.files()[0].header().metadata["k"], "v");
    assert_eq!(ck.data_bytes(), 24 + 8);
    assert!(ck.config_json().is_none());
}

#[test]
fn every_damage_is_named() {
    let ok = r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    parse_header(&file(ok, &[0; 8])).unwrap();
    type Check = fn(&Damage) -> bool;
    let cases: Vec<(Vec<u8>, Check)> = vec![
        (vec![1, 2, 3], |d| matches!(d, Damage::TooShort { len: 3 })),
        ((u64::MAX).to_le_bytes().to_vec(), |d| matches!(d, Damage::HeaderTooLarge { .. })),
        (file(ok, &[0; 8])[..20].to_vec(), |d| matches!(d, Damage::HeaderPastEnd { .. })),
        (file("{not json", &[]), |d| matches!(d, Damage::InvalidJson { .. })),
        (file("[1, 2]", &[]), |d| matches!(d, Damage::InvalidJson { .. })),
        (
            file(r#"{"w":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}"#, &[0; 8]),
            |d| matches!(d, Damage::UnknownDtype { dtype, .. } if dtype == "F33"),
        ),
        (file(r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}"#, &[0; 8]), |d| {
            matches!(d, Damage::OffsetsOutOfRange { end: 16, data_len: 8, .. })
        }),
        (file(r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, &[0; 8]), |d| {
            matches!(d, Damage::OffsetsOutOfRange { .. })
        }),
        (file(r#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, &[0; 8]), |d| {
            matches!(d, Damage::SizeMismatch { expected: 12, got: 8, .. })
        }),
        (
            file(
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                &[0; 12],
            ),
            |d| matches!(d, Damage::Overlap { first, second } if first == "a" && second == "b"),
        ),
        (file(r#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}}"#, &[0; 8]), |d| {
            matches!(d, Damage::InvalidEntry { .. })
        }),
        (
            file(r#"{"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}}"#, &[0; 8]),
            |d| matches!(d, Damage::InvalidEntry { .. }),
        ),
        (file(r#"{"__metadata__":{"a":1}}"#, &[]), |d| matches!(d, Damage::InvalidEntry { .. })),
        (file(r#"{"w":{"dtype":"F32","shape":[2]}}"#, &[0; 8]), |d| matches!(d, Damage::InvalidEntry { .. })),
    ];
    for (i, (bytes, check)) in cases.iter().enumerate() {
        let damage = parse_header(bytes).unwrap_err();
        assert!(check(&damage), "case {i}: {damage}");
        assert!(!damage.to_string().is_empty());
    }
}

#[test]
fn empty_tensors_overlap_nothing_and_sort_by_offset() {
    let h = r#"{"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
    let header = parse_header(&file(h, &[0; 8])).unwrap();
    let names: Vec<&str> = header.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["a", "z", "b"]);
}

#[test]
fn folders_index_and_config() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let t = |name: &str| TensorData { name: name.into(), bytes: Bytes::from_slice(&[1.0f32; 4], vec![4]) };
    let none = std::collections::BTreeMap::new();
    write_safetensors(&d.join("s1.safetensors"), &[t("a")], &none).unwrap();
    write_safetensors(&d.join("s2.safetensors"), &[t("b")], &none).unwrap();
    let err = Checkpoint::open(d).unwrap_err();
    assert!(err.to_string().contains("2 .safetensors files"), "{err}");
    std::fs::write(d.join(INDEX_FILE), r#"{"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}}"#).unwrap();
    std::fs::write(d.join(CONFIG_FILE), "{}").unwrap();
    let ck = Checkpoint::open(d).unwrap();
    assert_eq!(ck.tensors().len(), 2);
    assert_eq!(ck.config_json(), Some("{}"));
    for (index, needle) in [
        (r#"{"weight_map":{"a":"s2.safetensors","b":"s2.safetensors"}}"#, "not in its shard"),
        (r#"{"weight_map":{"a":"../s1.safetensors"}}"#, "plain file name"),
        (r#"{"weight_map":{"a":"s1.safetensors","x":"s1.safetensors"}}"#, "not in its shard"),
        (r#"{"weights":{}}"#, "weight_map"),
        ("{", "invalid JSON"),
    ] {
        std::fs::write(d.join(INDEX_FILE), index).unwrap();
        let err = Checkpoint::open(d).unwrap_err();
        assert!(matches!(err, Error::DamagedFile { .. }) && err.to_string().contains(needle), "{index}: {err}");
    }
    std::fs::write(d.join(INDEX_FILE), r#"{"weight_map":{"a":"s1.safetensors","b":"s3.safetensors"}}"#).unwrap();
    assert!(matches!(Checkpoint::open(d).unwrap_err(), Error::Io { .. }));
    let empty = tempfile::tempdir().unwrap();
    assert!(Checkpoint::open(empty.path()).unwrap_err().to_string().contains("pytorch_model.bin"));
}
