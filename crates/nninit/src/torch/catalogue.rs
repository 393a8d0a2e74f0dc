//! nninit's catalogue on PyTorch's generator: which [`Init`] rules have a
//! `torch.nn.init` function, and the call that reproduces it.

use super::generator::TorchGenerator;
use super::init::{self as nn, TorchFloat};
use crate::error::{Error, Result};
use crate::fan::Layout;
use crate::init::Init;
use crate::spec::TensorSpec;

/// Fills `out` as the `torch.nn.init` function equivalent to `init` would,
/// drawing from `g` (so calls in the same order as a PyTorch script give the
/// same tensors).
///
/// | [`Init`] | PyTorch call |
/// |---|---|
/// | `Uniform` | `uniform_(w, low, high)` |
/// | `Normal` | `normal_(w, mean, std)` |
/// | `TruncatedNormal` | `trunc_normal_(w, mean, σ, low, high)` with its absolute bounds |
/// | `XavierUniform`, `XavierNormal` | `xavier_uniform_(w, gain)`, `xavier_normal_(w, gain)` |
/// | `KaimingUniform`, `KaimingNormal` | `kaiming_uniform_(w, a, mode, nonlinearity)`, `kaiming_normal_(...)` |
/// | `Orthogonal` | `orthogonal_(w, gain)` (to about 1e-6: the QR is not LAPACK's) |
/// | `Sparse` | `sparse_(w, sparsity, std)` |
/// | `Constant`, `Zeros`, `Ones`, `Eye`, `Dirac` | `constant_`, `zeros_`, `ones_`, `eye_`, `dirac_` |
///
/// # Errors
/// [`Error::InvalidConfig`] for a rule `torch.nn.init` does not have (the
/// JAX presets, general variance scaling, delta-orthogonal, ZerO), for a
/// layout other than [`Layout::Torch`] (PyTorch reads every shape as
/// `[out, in, k…]`) and for explicit fans; [`Error::LengthMismatch`] and the
/// shape errors of the PyTorch function.
pub fn apply<T: TorchFloat>(g: &mut TorchGenerator, init: &Init, spec: &TensorSpec, out: &mut [T]) -> Result<()> {
    if *spec.layout() != Layout::Torch || spec.groups() != 1 {
        return Err(Error::InvalidConfig {
            reason: "PyTorch's generator reproduces torch.nn.init, which reads every shape as [out, in, k...]: \
                     use the torch layout with groups = 1"
                .into(),
        });
    }
    let shape = spec.shape();
    match *init {
        Init::Constant(c) => nn::constant_(out, c.value()),
        Init::Zeros => nn::zeros_(out),
        Init::Ones => nn::ones_(out),
        Init::Uniform(u) => return nn::uniform_(g, out, u.low(), u.high()),
        Init::Normal(n) => return nn::normal_(g, out, n.mean(), n.std()),
        Init::TruncatedNormal(t) => {
            let (low, high) = t.bounds();
            return nn::trunc_normal_(g, out, t.mean(), t.sigma(), low, high);
        }
        Init::XavierUniform { gain } => return nn::xavier_uniform_(g, out, shape, gain.get()),
        Init::XavierNormal { gain } => return nn::xavier_normal_(g, out, shape, gain.get()),
        Init::KaimingUniform { mode, nonlinearity } => return nn::kaiming_uniform_(g, out, shape, mode, &nonlinearity),
        Init::KaimingNormal { mode, nonlinearity } => return nn::kaiming_normal_(g, out, shape, mode, &nonlinearity),
        Init::Orthogonal(o) => return nn::orthogonal_(g, out, shape, o.gain()),
        Init::Sparse(s) => return nn::sparse_(g, out, shape, s.sparsity(), s.std()),
        Init::Eye => return nn::eye_(out, shape),
        Init::Dirac(d) => return nn::dirac_(out, shape, d.groups()),
        _ => {
            return Err(Error::InvalidConfig {
                reason: format!(
                    "torch.nn.init has no `{}`; PyTorch's generator reproduces uniform, normal, truncated_normal, \
                     xavier_*, kaiming_*, orthogonal, sparse, constant, zeros, ones, eye and dirac",
                    init.name()
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Activation;
    use crate::fan::FanMode;
    use crate::tensor::Shape;

    #[test]
    fn the_bridge_calls_the_pytorch_function() {
        let spec = TensorSpec::new(Shape::new(vec![64, 32]).unwrap());
        let init = Init::KaimingNormal { mode: FanMode::FanIn, nonlinearity: Activation::Relu };
        let mut via_bridge = vec![0.0f32; 64 * 32];
        apply(&mut TorchGenerator::new(3), &init, &spec, &mut via_bridge).unwrap();
        let mut direct = vec![0.0f32; 64 * 32];
        nn::kaiming_normal_(&mut TorchGenerator::new(3), &mut direct, spec.shape(), FanMode::FanIn, &Activation::Relu)
            .unwrap();
        assert_eq!(via_bridge, direct);
    }

    #[test]
    fn rules_and_layouts_torch_lacks_are_errors() {
        let spec = TensorSpec::new(Shape::new(vec![4, 4]).unwrap());
        let mut out = vec![0.0f64; 16];
        assert!(matches!(
            apply(&mut TorchGenerator::new(0), &Init::LecunNormal, &spec, &mut out),
            Err(Error::InvalidConfig { .. })
        ));
        let jax = spec.clone().with_layout(Layout::Jax);
        assert!(matches!(
            apply(&mut TorchGenerator::new(0), &Init::Zeros, &jax, &mut out),
            Err(Error::InvalidConfig { .. })
        ));
    }
}
