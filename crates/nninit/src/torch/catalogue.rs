//! nninit's catalogue on PyTorch's generator: the [`Init`] rules that have a
//! `torch.nn.init` function, drawn as that function draws.
//!
//! Each rule type says which `torch.nn.init` call it corresponds to
//! ([`Initializer::equivalent`](crate::init::Initializer::equivalent), listed in
//! [`Init`]'s table) and makes that call when filled from a
//! [`TorchStream`]; [`apply`] is the same for a bare [`TorchGenerator`].

use super::generator::TorchGenerator;
use super::init::TorchFloat;
use crate::error::Result;
use crate::init::Init;
use crate::spec::TensorSpec;
use crate::stream::TorchStream;
use crate::tensor::Element;

/// Fills `out` as the `torch.nn.init` function equivalent to `init` would,
/// drawing from `g` (so calls in the same order as a PyTorch script give the
/// same tensors). The same as `init.fill(spec, &stream, out)` with a
/// [`TorchStream`] holding `g`.
///
/// The PyTorch call of each rule is the `PyTorch` column of [`Init`]'s table:
/// `orthogonal_` agrees to about 1e-6 (the QR is not LAPACK's), the others bit
/// for bit where [`crate::torch`] says so.
///
/// # Errors
/// [`Error::InvalidConfig`](crate::Error::InvalidConfig) for a rule
/// `torch.nn.init` does not have (the JAX presets, general variance scaling,
/// delta-orthogonal, ZerO) and for a layout other than
/// [`Layout::Torch`](crate::Layout::Torch) or groups (PyTorch reads every shape
/// as `[out, in, k…]`); [`Error::LengthMismatch`](crate::Error::LengthMismatch)
/// and the shape errors of the PyTorch function.
pub fn apply<T: TorchFloat + Element>(
    g: &mut TorchGenerator,
    init: &Init,
    spec: &TensorSpec,
    out: &mut [T],
) -> Result<()> {
    // The stream holds the generator for the fill and gives it back, moved on.
    let stream = TorchStream::from_generator(std::mem::replace(g, TorchGenerator::new(0)));
    let filled = init.fill(spec, &stream, out);
    *g = stream.into_generator();
    filled
}

#[cfg(test)]
mod tests {
    use super::super::init as nn;
    use super::*;
    use crate::activation::Activation;
    use crate::error::Error;
    use crate::fan::{FanMode, Layout};
    use crate::init::{InitParams, VarianceScaling};
    use crate::tensor::Shape;

    #[test]
    fn the_bridge_calls_the_pytorch_function() {
        let spec = TensorSpec::new(Shape::new(vec![64, 32]).unwrap());
        let init = Init::from(VarianceScaling::kaiming_normal(FanMode::FanIn, Activation::Relu).unwrap());
        let mut via_bridge = vec![0.0f32; 64 * 32];
        let mut g = TorchGenerator::new(3);
        apply(&mut g, &init, &spec, &mut via_bridge).unwrap();
        let mut direct = vec![0.0f32; 64 * 32];
        let mut h = TorchGenerator::new(3);
        nn::kaiming_normal_(&mut h, &mut direct, spec.shape(), FanMode::FanIn, &Activation::Relu).unwrap();
        assert_eq!(via_bridge, direct);
        // The generator moved on as PyTorch's does.
        assert_eq!(g.random(), h.random());
    }

    #[test]
    fn rules_and_layouts_torch_lacks_are_errors() {
        let spec = TensorSpec::new(Shape::new(vec![4, 4]).unwrap());
        let mut out = vec![0.0f64; 16];
        assert!(matches!(
            apply(&mut TorchGenerator::new(0), &VarianceScaling::lecun_normal().into(), &spec, &mut out),
            Err(Error::InvalidConfig { .. })
        ));
        let jax = spec.clone().with_layout(Layout::Jax);
        assert!(matches!(
            apply(&mut TorchGenerator::new(0), &Init::Zeros, &jax, &mut out),
            Err(Error::InvalidConfig { .. })
        ));
    }

    /// The rules PyTorch's generator reproduces are exactly those whose stated
    /// equivalent has a PyTorch call.
    #[test]
    fn torch_fills_exactly_the_rules_with_a_pytorch_equivalent() {
        let names = crate::init::INIT_NAMES.split(", ").map(|n| n.split(' ').next().unwrap_or(n));
        for name in names {
            let mut p = InitParams::default();
            match name {
                "constant" => p.value = Some(0.5),
                "sparse" => p.sparsity = Some(0.5),
                _ => {}
            }
            let init = Init::parse(name, &p).unwrap();
            let dims = if matches!(name, "dirac" | "delta_orthogonal") { vec![4, 4, 3] } else { vec![4, 4] };
            let spec = TensorSpec::new(Shape::new(dims).unwrap());
            let mut out = vec![0.0f32; spec.numel() as usize];
            let filled = apply(&mut TorchGenerator::new(0), &init, &spec, &mut out);
            assert_eq!(filled.is_ok(), init.equivalent().torch().is_some(), "{name}: {filled:?}");
        }
    }
}
