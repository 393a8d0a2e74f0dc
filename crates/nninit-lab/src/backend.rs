//! The compute backend, chosen at run time.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

use crate::error::{LabError, Result};

/// Where the lab's tensors live.
///
/// `flex` (pure Rust, SIMD and rayon) is always available. `wgpu` and `cuda` exist when the
/// crate is built with the features of the same names, so a GPU machine runs the same
/// experiments: `cargo run --release --features nninit-lab/cuda -- lab run he2015 --backend cuda`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// burn's pure-Rust CPU backend.
    #[default]
    Flex,
    /// WebGPU (Vulkan, Metal, DX12) through burn-wgpu.
    Wgpu,
    /// NVIDIA CUDA through burn-cuda, device 0.
    Cuda,
}

impl Backend {
    /// The autodiff device to train on.
    ///
    /// # Errors
    /// [`LabError::Backend`] when the backend was not compiled in.
    pub fn device(self) -> Result<Device> {
        let device = match self {
            Self::Flex => Device::flex(),
            #[cfg(feature = "wgpu")]
            Self::Wgpu => Device::wgpu(burn::tensor::DeviceKind::default()),
            #[cfg(feature = "cuda")]
            Self::Cuda => Device::cuda(0),
            #[allow(unreachable_patterns)]
            other => {
                return Err(LabError::Backend {
                    name: other.to_string(),
                    reason: format!("not compiled in; rebuild with `--features nninit-lab/{other}`"),
                });
            }
        };
        Ok(device.autodiff())
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Flex => "flex",
            Self::Wgpu => "wgpu",
            Self::Cuda => "cuda",
        })
    }
}

impl FromStr for Backend {
    type Err = LabError;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "flex" | "cpu" => Ok(Self::Flex),
            "wgpu" => Ok(Self::Wgpu),
            "cuda" => Ok(Self::Cuda),
            other => Err(LabError::Backend { name: other.into(), reason: "unknown (known: flex, wgpu, cuda)".into() }),
        }
    }
}
