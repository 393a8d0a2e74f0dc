//! The trait every initializer implements, and what the built-in rules share.

use std::fmt;

use super::Explanation;
use super::sample::Sampler;
use crate::error::{Error, Result};
use crate::spec::TensorSpec;
use crate::stream::{Philox, Source, Stream, TorchCall, torch_fill};
use crate::tensor::Element;

/// An initialization rule: validated once when it is built, after which it
/// fills any tensor it can initialize, from any [`Stream`], in any
/// [`Element`] type, and says what it does before doing it.
///
/// Every rule in [`crate::init`] implements it ([`Normal`](super::Normal),
/// [`VarianceScaling`](super::VarianceScaling), [`Orthogonal`](super::Orthogonal),
/// ...), and [`Init`](super::Init) delegates to them. A rule of your own implements
/// it too, usually by working out the parameters of a built-in rule for the tensor
/// and delegating to it, so it inherits every stream and element type:
///
/// ```
/// use nninit::init::{Equivalent, Explanation, Initializer, Normal};
/// use nninit::stream::{Philox, Stream};
/// use nninit::{Element, Result, Shape, TensorSpec};
///
/// /// µP's output layer: N(0, (c / fan_in)²), variance 1/fan_in² rather than 1/fan_in.
/// struct MupReadout {
///     c: f64,
/// }
///
/// impl MupReadout {
///     fn normal(&self, spec: &TensorSpec) -> Result<Normal> {
///         Normal::new(0.0, self.c / spec.fan()?.fan_in() as f64)
///     }
/// }
///
/// impl Initializer for MupReadout {
///     fn name(&self) -> &'static str {
///         "mup_readout"
///     }
///     fn needs_fan(&self) -> bool {
///         true
///     }
///     fn fill_slice<E: Element, S: Stream + ?Sized>(
///         &self,
///         spec: &TensorSpec,
///         stream: &S,
///         start: u64,
///         out: &mut [E],
///     ) -> Result<()> {
///         self.normal(spec)?.fill_slice(spec, stream, start, out)
///     }
///     fn explain(&self, spec: &TensorSpec) -> Result<Explanation> {
///         let mut x = self.normal(spec)?.explain(spec)?;
///         x.init = self.name();
///         x.formula = format!("w ~ N(0, (c / fan_in)²), c = {}; {}", self.c, x.formula);
///         x.equivalent = self.equivalent().to_string();
///         Ok(x)
///     }
///     fn equivalent(&self) -> Equivalent {
///         Equivalent::NONE
///     }
/// }
///
/// let spec = TensorSpec::new(Shape::new(vec![10, 256])?);
/// let mut w = vec![0.0f32; 2560];
/// MupReadout { c: 1.0 }.fill(&spec, &Philox::new(0, "lm_head.weight"), &mut w)?;
/// assert_eq!(MupReadout { c: 1.0 }.explain(&spec)?.std, Some(1.0 / 256.0));
/// # Ok::<(), nninit::Error>(())
/// ```
pub trait Initializer {
    /// The rule's canonical snake_case name.
    fn name(&self) -> &'static str;

    /// Whether the rule needs the tensor's fans (so a rank < 2 tensor needs
    /// explicit ones, [`TensorSpec::with_fan`]).
    fn needs_fan(&self) -> bool {
        false
    }

    /// Whether every element is drawn independently, so that any slice is
    /// generated alone in time proportional to its length. Structured rules
    /// (orthogonal, sparse, ...) compute the whole tensor and copy the slice.
    fn is_elementwise(&self) -> bool {
        false
    }

    /// Fills `out` with the flattened elements `start..start + out.len()` of
    /// the tensor, identical to the same elements of [`Initializer::fill`].
    ///
    /// # Errors
    /// [`Error::InvalidSlice`] for a range outside the tensor,
    /// [`Error::SequentialStream`] for a part of a tensor from a sequential
    /// stream ([`TorchStream`](crate::stream::TorchStream)), and the errors of
    /// [`Initializer::check`].
    fn fill_slice<E: Element, S: Stream + ?Sized>(
        &self,
        spec: &TensorSpec,
        stream: &S,
        start: u64,
        out: &mut [E],
    ) -> Result<()>;

    /// Fills `out`, the whole tensor in row-major order.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] unless `out` holds `spec.numel()` elements;
    /// the errors of [`Initializer::fill_slice`].
    fn fill<E: Element, S: Stream + ?Sized>(&self, spec: &TensorSpec, stream: &S, out: &mut [E]) -> Result<()> {
        if out.len() as u64 != spec.numel() {
            return Err(Error::LengthMismatch { expected: spec.numel(), got: out.len() as u64 });
        }
        self.fill_slice(spec, stream, 0, out)
    }

    /// What the rule will do to `spec`: formula, fans, gain, std and bound.
    ///
    /// # Errors
    /// [`Error::RankTooSmall`] when the rule needs fans and `spec` has rank
    /// < 2 without explicit ones; [`Error::UnsupportedShape`] for a shape the
    /// rule cannot fill.
    fn explain(&self, spec: &TensorSpec) -> Result<Explanation>;

    /// The rule's counterparts in PyTorch, JAX and Keras.
    fn equivalent(&self) -> Equivalent;

    /// Checks that the rule can initialize `spec`, without drawing anything.
    ///
    /// # Errors
    /// What [`Initializer::explain`] returns for this tensor.
    fn check(&self, spec: &TensorSpec) -> Result<()> {
        self.explain(spec).map(|_| ())
    }
}

/// A rule's counterparts in PyTorch, JAX and Keras, with the differences that
/// matter. Each built-in rule states its own once, next to its definition; the
/// table in [`Init`](super::Init)'s docs, [`Initializer::explain`] and
/// [`crate::torch::apply`] read them from there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Equivalent {
    torch: &'static str,
    jax: &'static str,
    keras: &'static str,
}

/// What marks a missing counterpart in the strings of [`Equivalent`].
const MISSING: &str = "—";

impl Equivalent {
    /// A rule no framework ships.
    pub const NONE: Self = Self { torch: MISSING, jax: MISSING, keras: MISSING };

    /// From the three calls, `"—"` where a framework has none.
    pub const fn new(torch: &'static str, jax: &'static str, keras: &'static str) -> Self {
        Self { torch, jax, keras }
    }

    fn some(text: &'static str) -> Option<&'static str> {
        (text != MISSING).then_some(text)
    }

    /// The `torch.nn.init` call, if PyTorch has one.
    pub fn torch(&self) -> Option<&'static str> {
        Self::some(self.torch)
    }

    /// The `jax.nn.initializers` call, if JAX has one.
    pub fn jax(&self) -> Option<&'static str> {
        Self::some(self.jax)
    }

    /// The `keras.initializers` class, if Keras has one.
    pub fn keras(&self) -> Option<&'static str> {
        Self::some(self.keras)
    }
}

impl fmt::Display for Equivalent {
    /// `PyTorch: ...; JAX: ...; Keras: ...`, leaving out the frameworks that
    /// have none (`no PyTorch/JAX/Keras equivalent` when none has it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = [("PyTorch", self.torch()), ("JAX", self.jax()), ("Keras", self.keras())]
            .into_iter()
            .filter_map(|(who, call)| call.map(|c| format!("{who}: {}", c.replace('`', ""))))
            .collect();
        if parts.is_empty() { f.write_str("no PyTorch/JAX/Keras equivalent") } else { f.write_str(&parts.join("; ")) }
    }
}

/// Builds an [`Equivalent`] from the literals a rule's `*_equivalent!` macro gives.
macro_rules! equivalent {
    ($torch:literal, $jax:literal, $keras:literal) => {
        $crate::init::Equivalent::new($torch, $jax, $keras)
    };
}

/// One row of the docs table in [`Init`](super::Init), from the same literals.
macro_rules! table_row {
    ($rule:literal, $torch:literal, $jax:literal, $keras:literal) => {
        concat!("| ", $rule, " | ", $torch, " | ", $jax, " | ", $keras, " |\n")
    };
}

/// The same literals as a list for a rule type's `# Equivalent to` section.
macro_rules! doc_list {
    ($torch:literal, $jax:literal, $keras:literal) => {
        concat!(
            "- PyTorch (`torch.nn.init`): ",
            $torch,
            "\n- JAX (`jax.nn.initializers`): ",
            $jax,
            "\n- Keras (`keras.initializers`): ",
            $keras,
            "\n"
        )
    };
}

pub(crate) use {doc_list, equivalent, table_row};

/// The end of the slice `start..start + len` of `spec`.
///
/// # Errors
/// [`Error::InvalidSlice`] when it is not inside the tensor.
pub(crate) fn slice_end(spec: &TensorSpec, start: u64, len: usize) -> Result<u64> {
    let numel = spec.numel();
    start.checked_add(len as u64).filter(|&end| end <= numel).ok_or(Error::InvalidSlice {
        start,
        end: start.saturating_add(len as u64),
        len: numel,
    })
}

/// The error of a rule that `torch.nn.init` does not have, for its [`TorchCall`].
pub(crate) fn no_torch(rule: &impl Initializer) -> Error {
    Error::InvalidConfig {
        reason: format!(
            "torch.nn.init has no `{}`, so PyTorch's generator cannot reproduce it ({})",
            rule.name(),
            rule.equivalent()
        ),
    }
}

/// Refuses to fill `E` with a rule whose values can overflow it: its bound, or
/// |mean| + 9·std for unbounded rules (the streams never draw beyond 9σ), must be a finite
/// value of `E`. Without this, an f32 or f16 buffer would silently get infinities.
pub(crate) fn check_representable<E: Element>(rule: &impl Initializer, spec: &TensorSpec) -> Result<()> {
    let x = rule.explain(spec)?;
    let magnitude = match (x.bound, x.mean, x.std) {
        (Some(bound), _, _) => bound,
        (None, mean, Some(std)) => mean.unwrap_or(0.0).abs() + 9.0 * std,
        (None, _, None) => return Ok(()),
    };
    let max = E::DTYPE.max_finite();
    if magnitude <= max {
        Ok(())
    } else {
        Err(Error::Unrepresentable { init: rule.name(), magnitude, dtype: E::DTYPE, max })
    }
}

/// A rule that draws each element independently from one distribution.
pub(crate) trait Elementwise: Initializer + TorchCall {
    /// The distribution for `spec` (fans applied).
    fn sampler(&self, spec: &TensorSpec) -> Result<Sampler>;
}

/// [`Initializer::fill_slice`] of an element-wise rule.
pub(crate) fn fill_elementwise<E: Element, S: Stream + ?Sized>(
    rule: &impl Elementwise,
    spec: &TensorSpec,
    stream: &S,
    start: u64,
    out: &mut [E],
) -> Result<()> {
    slice_end(spec, start, out.len())?;
    check_representable::<E>(rule, spec)?;
    match stream.source() {
        Source::Philox(p) => {
            rule.sampler(spec)?.fill(p, start, out);
            Ok(())
        }
        Source::Torch(t) => torch_fill(t, rule, spec, start, out),
    }
}

/// [`Initializer::fill_slice`] of a structured rule: `generate` builds the
/// whole tensor from the Philox stream; a slice is cut from the whole.
pub(crate) fn fill_structured<E: Element, S: Stream + ?Sized>(
    rule: &(impl Initializer + TorchCall),
    spec: &TensorSpec,
    stream: &S,
    start: u64,
    out: &mut [E],
    generate: impl FnOnce(&Philox, &mut [E]) -> Result<()>,
) -> Result<()> {
    let end = slice_end(spec, start, out.len())?;
    check_representable::<E>(rule, spec)?;
    match stream.source() {
        Source::Philox(p) if start == 0 && end == spec.numel() => generate(p, out),
        Source::Philox(p) => {
            rule.check(spec)?;
            // Shape::new checked that numel fits a usize.
            let mut whole = vec![E::default(); spec.numel() as usize];
            generate(p, &mut whole)?;
            out.copy_from_slice(&whole[start as usize..end as usize]);
            Ok(())
        }
        Source::Torch(t) => torch_fill(t, rule, spec, start, out),
    }
}
