//! The checkpoint reader never panics on any bytes, and what it accepts is
//! safe to read: every tensor's byte range lies in the file, has the length
//! its shape and dtype need, and overlaps no other.
//! `cargo +nightly fuzz run safetensors_reader`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nninit::io::reader::parse_header;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = parse_header(data) else { return };
    let mut last_end = 0;
    for t in &header.tensors {
        let bytes = &data[t.bytes.clone()];
        assert_eq!(bytes.len() as u64, t.numel() * t.dtype.size() as u64);
        if !bytes.is_empty() {
            assert!(t.bytes.start >= last_end, "overlap accepted");
            last_end = t.bytes.end;
        }
    }
});
