//! The streams an initializer can draw from, behind one small trait.
//!
//! Two kinds exist and the set is closed ([`Stream`] is sealed), because a rule
//! must know how a stream orders its numbers to give the documented values:
//!
//! - [`Philox`]: counter-based, random access. Element `i` depends only on
//!   (seed, name, `i`), so any slice of a tensor is drawn alone.
//! - [`TorchStream`]: PyTorch's CPU generator, sequential. Every draw moves the
//!   generator on, so tensors come out as PyTorch's would only when they are
//!   filled whole and in the order a PyTorch script fills them. A slice fill is
//!   an [`Error::SequentialStream`].
//!
//! Rules take the stream by shared reference (`rule.fill(&spec, &stream, &mut
//! buf)`), so a [`TorchStream`] keeps its generator in a [`RefCell`]: filling
//! moves it on although the reference is shared. It is therefore not `Sync`:
//! one tensor at a time, as PyTorch's generator.

use std::cell::RefCell;

use crate::error::{Error, Result};
use crate::fan::Layout;
use crate::spec::TensorSpec;
use crate::tensor::Element;
use crate::torch::{TorchFloat, TorchGenerator};

use super::Philox;

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Philox {}
    impl Sealed for super::TorchStream {}
}

/// Which stream a rule is drawing from, with access to it.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Source<'a> {
    /// nninit's counter-based stream (random access).
    Philox(&'a Philox),
    /// PyTorch's CPU generator (sequential).
    Torch(&'a TorchStream),
}

/// A source of random numbers for [`Initializer`](crate::init::Initializer)s:
/// [`Philox`] or [`TorchStream`] (sealed; see the [stream module docs](crate::stream)).
pub trait Stream: sealed::Sealed {
    /// The stream, for a rule to dispatch on.
    fn source(&self) -> Source<'_>;

    /// Whether any slice of a tensor can be drawn alone (`true` for
    /// [`Philox`], `false` for [`TorchStream`]).
    fn random_access(&self) -> bool {
        matches!(self.source(), Source::Philox(_))
    }
}

impl Stream for Philox {
    fn source(&self) -> Source<'_> {
        Source::Philox(self)
    }
}

impl Stream for TorchStream {
    fn source(&self) -> Source<'_> {
        Source::Torch(self)
    }
}

/// PyTorch's CPU generator as a [`Stream`]: rules drawn from it give what the
/// equivalent `torch.nn.init` call gives after `torch.manual_seed(seed)`, bit
/// for bit where [`crate::torch`] says so.
///
/// # Example
/// ```
/// use nninit::init::{Initializer, Normal};
/// use nninit::stream::TorchStream;
/// use nninit::{Shape, TensorSpec};
///
/// // torch.manual_seed(42); torch.nn.init.normal_(torch.empty(100), 0, 1)
/// let stream = TorchStream::new(42);
/// let spec = TensorSpec::new(Shape::new(vec![100])?);
/// let mut w = vec![0.0f32; 100];
/// Normal::new(0.0, 1.0)?.fill(&spec, &stream, &mut w)?;
/// assert_eq!(w[0], 1.9269153);
/// // Sequential: a slice cannot be drawn alone.
/// assert!(Normal::new(0.0, 1.0)?.fill_slice(&spec, &stream, 10, &mut w[..5]).is_err());
/// # Ok::<(), nninit::Error>(())
/// ```
#[derive(Debug)]
pub struct TorchStream {
    generator: RefCell<TorchGenerator>,
}

impl TorchStream {
    /// The stream in the state `torch.manual_seed(seed)` leaves.
    pub fn new(seed: u64) -> Self {
        Self::from_generator(TorchGenerator::new(seed))
    }

    /// A stream that continues from `generator`'s state.
    pub fn from_generator(generator: TorchGenerator) -> Self {
        Self { generator: RefCell::new(generator) }
    }

    /// The generator, in the state the fills so far left it.
    pub fn into_generator(self) -> TorchGenerator {
        self.generator.into_inner()
    }

    /// The generator, to draw from it directly ([`crate::torch`]'s functions).
    pub fn generator_mut(&mut self) -> &mut TorchGenerator {
        self.generator.get_mut()
    }

    /// Runs `f` on the generator.
    ///
    /// # Errors
    /// [`Error::StreamBusy`] when called from inside another `with_generator`
    /// on the same stream (a rule that draws while it holds the generator).
    pub fn with_generator<T>(&self, f: impl FnOnce(&mut TorchGenerator) -> Result<T>) -> Result<T> {
        let mut generator = self.generator.try_borrow_mut().map_err(|_| Error::StreamBusy { stream: TORCH })?;
        f(&mut generator)
    }
}

const TORCH: &str = "PyTorch's generator";

/// A `torch.nn.init` call, generic over PyTorch's float types, for
/// [`torch_fill`].
pub(crate) trait TorchCall {
    /// Fills the whole of `out` (the tensor `spec`, row-major) as PyTorch would.
    fn call<T: TorchFloat>(&self, g: &mut TorchGenerator, spec: &TensorSpec, out: &mut [T]) -> Result<()>;
}

/// Fills `out`, elements `start..start + out.len()` of `spec`, by `call` from
/// PyTorch's generator: only whole tensors (the generator is sequential), only
/// `f32` and `f64` (the kernels reproduced), only PyTorch's layout (which
/// `torch.nn.init` assumes for every shape).
///
/// # Errors
/// [`Error::SequentialStream`] for a part of the tensor, [`Error::StreamDType`]
/// for `bf16` and `f16`, [`Error::InvalidConfig`] for another layout or
/// groups, and `call`'s errors.
pub(crate) fn torch_fill<E: Element>(
    stream: &TorchStream,
    call: &impl TorchCall,
    spec: &TensorSpec,
    start: u64,
    out: &mut [E],
) -> Result<()> {
    let len = spec.numel();
    if start != 0 || out.len() as u64 != len {
        return Err(Error::SequentialStream { stream: TORCH, start, end: start.saturating_add(out.len() as u64), len });
    }
    if *spec.layout() != Layout::Torch || spec.groups() != 1 {
        return Err(Error::InvalidConfig {
            reason: "PyTorch's generator reproduces torch.nn.init, which reads every shape as [out, in, k...]: \
                     use the torch layout with groups = 1"
                .into(),
        });
    }
    stream.with_generator(|g| {
        if let Some(out) = E::as_f32_slice(out) {
            call.call(g, spec, out)
        } else if let Some(out) = E::as_f64_slice(out) {
            call.call(g, spec, out)
        } else {
            Err(Error::StreamDType { stream: TORCH, dtype: E::DTYPE.name() })
        }
    })
}
