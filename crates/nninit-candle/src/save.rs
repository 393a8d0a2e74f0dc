//! Saving candle tensors with nninit's atomic safetensors writer, from their storage.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{DType, Device, Storage, Tensor, WithDType};

use crate::error::{Error, Result};

/// Writes `tensors` to a `.safetensors` file, atomically (nninit's
/// [`write_safetensors_refs`](nninit::io::write_safetensors_refs): under a temporary name, renamed
/// into place once complete), in the order given, with `metadata`.
///
/// A contiguous CPU tensor is written from its storage as it is, without a copy (on a
/// little-endian machine); a view or a tensor on another device is first copied to the CPU.
/// Pass [`PlanBackend::served`](crate::PlanBackend::served) to save what a model was built from.
///
/// # Errors
/// [`Error::DType`] for an element type other than f32, f64, bf16 and f16; [`Error::Candle`]
/// where candle cannot copy a tensor to the CPU; [`Error::Nninit`] for a write error or two
/// tensors of one name.
pub fn save_safetensors(path: &Path, tensors: &[(String, Tensor)], metadata: &BTreeMap<String, String>) -> Result<()> {
    let cpu = tensors
        .iter()
        .map(|(name, t)| {
            let dtype = crate::dtype_of(name, t.dtype())?;
            let t = t
                .to_device(&Device::Cpu)
                .and_then(|t| t.contiguous())
                .map_err(|source| Error::Candle { name: name.clone(), source })?;
            Ok((name.as_str(), dtype, t))
        })
        .collect::<Result<Vec<_>>>()?;
    let storages: Vec<_> = cpu.iter().map(|(_, _, t)| t.storage_and_layout()).collect();
    let bytes = cpu
        .iter()
        .zip(&storages)
        .map(|((name, _, t), (storage, layout))| {
            let candle = |source| Error::Candle { name: (*name).to_owned(), source };
            let Storage::Cpu(storage) = &**storage else {
                return Err(candle(candle_core::Error::Msg("the tensor is not on the CPU after to_device".into())));
            };
            let (start, end) = layout
                .contiguous_offsets()
                .ok_or_else(|| candle(candle_core::Error::Msg("the tensor is not contiguous".into())))?;
            match t.dtype() {
                DType::F32 => le_bytes::<f32>(storage, start, end).map_err(candle),
                DType::F64 => le_bytes::<f64>(storage, start, end).map_err(candle),
                DType::BF16 => le_bytes::<half::bf16>(storage, start, end).map_err(candle),
                DType::F16 => le_bytes::<half::f16>(storage, start, end).map_err(candle),
                other => Err(Error::DType { name: (*name).to_owned(), dtype: other }),
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let refs: Vec<_> = cpu
        .iter()
        .zip(&bytes)
        .map(|((name, dtype, t), data)| nninit::io::TensorRef { name, dtype: *dtype, shape: t.dims(), data })
        .collect();
    nninit::io::write_safetensors_refs(path, &refs, metadata)
        .map_err(|e| Error::nninit(format!("saving `{}`", path.display()), e))
}

/// The little-endian bytes of elements `start..end` of a CPU storage: borrowed on a
/// little-endian machine, converted on a big-endian one.
fn le_bytes<E: WithDType + nninit::Element + bytemuck::Pod>(
    storage: &candle_core::CpuStorage,
    start: usize,
    end: usize,
) -> candle_core::Result<Cow<'_, [u8]>> {
    let values = &storage.as_slice::<E>()?[start..end];
    if cfg!(target_endian = "little") {
        Ok(Cow::Borrowed(bytemuck::cast_slice(values)))
    } else {
        let mut out = Vec::with_capacity(std::mem::size_of_val(values));
        E::extend_le_bytes(values, &mut out);
        Ok(Cow::Owned(out))
    }
}
