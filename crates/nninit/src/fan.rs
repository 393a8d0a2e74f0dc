//! Fans from shape and layout: the only place nninit computes a fan.
//!
//! A shape means nothing without its layout. The same 3×3 convolution from 16
//! to 32 channels is stored as
//!
//! | layout | shape | where |
//! |---|---|---|
//! | [`Layout::Torch`] | `[32, 16, 3, 3]` = `[out, in/groups, k…]` | `nn.Conv2d.weight`, `nn.Linear.weight` (`[out, in]`) |
//! | [`Layout::TorchTransposed`] | `[16, 32, 3, 3]` = `[in, out/groups, k…]` | `nn.ConvTranspose2d.weight` |
//! | [`Layout::Jax`] | `[3, 3, 16, 32]` = `[k…, in/groups, out]` | Flax/Keras kernels (HWIO), `Dense` `[in, out]` |
//! | [`Layout::Axes`] | any | explicit input and output axes, e.g. an attention kernel `[d_model, heads, head_dim]` with in = `[0]`, out = `[1, 2]` |
//! | [`Layout::TorchStacked`] | `[8, 14336, 4096]` = `[experts, out, in]` | a stack of independent PyTorch weights: a mixture of experts' fused `[E, out, in]` (transformers 5's `MixtralExperts.down_proj`, torchtitan's `GroupedExperts`) |
//!
//! and in every case
//!
//! ```text
//! receptive field = product of the axes that are neither input nor output
//! fan_in  = (input extent per group)  · receptive field
//! fan_out = (output extent per group) · receptive field
//! ```
//!
//! so a permutation of the storage never changes the fans. The stack axes of
//! [`Layout::TorchStacked`] index separate matrices and count in neither fan:
//! an `[experts, out, in]` tensor has the fans of one expert.
//!
//! # Groups
//! A grouped convolution with `G` groups connects each output to `in/G`
//! inputs and each input to `out/G` outputs. PyTorch and JAX layouts store the
//! per-group input extent and the full output extent, so `fan_out = out/G · k`;
//! a transposed convolution stores the full input extent and the per-group
//! output extent, so `fan_in = in/G · k`.
//!
//! # Differences from PyTorch and JAX
//! - `torch.nn.init._calculate_fan_in_and_fan_out` reads every tensor as
//!   `[out, in, k…]`. For a `ConvTranspose` weight it therefore returns our
//!   `fan_out` as its `fan_in` (pytorch PR #130122 documents this), and for a
//!   grouped convolution it does not divide `fan_out` by the groups. To get
//!   PyTorch's exact numbers, use [`Layout::Torch`] with `groups = 1` whatever
//!   the module (that is what PyTorch does).
//! - `jax.nn.initializers.variance_scaling` uses `in_axis = -2`,
//!   `out_axis = -1` ([`Layout::Jax`]) and knows no groups.
//! - Rank < 2 is an error rather than a silent fan of 1 (PyTorch raises too;
//!   JAX computes a fan from a 1-D shape). A bias takes its weight's fans:
//!   pass them with [`Fan::new`].

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::tensor::Shape;

/// How a weight tensor's axes map to inputs, outputs and the receptive field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Layout {
    /// PyTorch `[out, in/groups, k…]` (Linear, Conv, Bilinear's `[out, in1, in2]`).
    #[default]
    Torch,
    /// PyTorch transposed convolution `[in, out/groups, k…]`.
    TorchTransposed,
    /// JAX/Flax/Keras `[k…, in/groups, out]` (Dense `[in, out]`, Conv HWIO).
    Jax,
    /// Explicit input and output axes; every other axis is receptive field.
    /// Input axes hold the per-group extent, output axes the full extent.
    Axes {
        /// The input axes (their product is the input extent).
        in_axes: Vec<usize>,
        /// The output axes (their product is the output extent).
        out_axes: Vec<usize>,
    },
    /// `stack_axes` leading axes indexing independent PyTorch weights,
    /// `[stack…, out, in/groups, k…]`: each member's fans, the stack axes in
    /// neither (a mixture of experts' `[experts, out, in]`).
    TorchStacked {
        /// How many leading axes index the members of the stack.
        stack_axes: usize,
    },
}

impl Layout {
    /// Parses `torch`, `torch-transposed`, `jax` (also `pytorch`, `keras`,
    /// `flax`, `tf`), `axes:IN;OUT` with comma-separated axis lists, e.g.
    /// `axes:0;1,2`, or `torch-stacked:N` (N leading stack axes, e.g. experts).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for anything else.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || Error::InvalidConfig {
            reason: format!(
                "unknown layout `{text}` (known: torch, torch-transposed, jax, axes:IN;OUT such as axes:0;1,2, \
                 torch-stacked:N)"
            ),
        };
        match text.to_ascii_lowercase().as_str() {
            "torch" | "pytorch" => Ok(Self::Torch),
            "torch-transposed" | "torch_transposed" | "transposed" => Ok(Self::TorchTransposed),
            "jax" | "flax" | "keras" | "tf" | "tensorflow" => Ok(Self::Jax),
            other => {
                if let Some(n) = other.strip_prefix("torch-stacked:") {
                    return Ok(Self::TorchStacked { stack_axes: n.trim().parse().map_err(|_| bad())? });
                }
                let spec = other.strip_prefix("axes:").ok_or_else(bad)?;
                let (ins, outs) = spec.split_once(';').ok_or_else(bad)?;
                let list = |s: &str| -> Result<Vec<usize>> {
                    s.split(',').map(|a| a.trim().parse::<usize>().map_err(|_| bad())).collect()
                };
                Ok(Self::Axes { in_axes: list(ins)?, out_axes: list(outs)? })
            }
        }
    }

    /// The axes of a rank-`rank` tensor: inputs, outputs and receptive field.
    ///
    /// # Errors
    /// [`Error::RankTooSmall`] below rank 2 (below the stack axes + 2 for
    /// [`Layout::TorchStacked`]; the `shape` is only used for the message),
    /// [`Error::InvalidAxis`] for axes out of range, repeated, or an empty
    /// input or output list.
    pub fn roles(&self, shape: &Shape) -> Result<Roles> {
        let rank = shape.rank();
        let stack = match self {
            Self::TorchStacked { stack_axes } => *stack_axes,
            _ => 0,
        };
        if rank < 2 || rank - 2 < stack {
            return Err(Error::RankTooSmall { rank, shape: shape.dims().to_vec() });
        }
        let (inputs, outputs) = match self {
            Self::Torch => (vec![1], vec![0]),
            Self::TorchTransposed => (vec![0], vec![1]),
            Self::Jax => (vec![rank - 2], vec![rank - 1]),
            Self::Axes { in_axes, out_axes } => (in_axes.clone(), out_axes.clone()),
            Self::TorchStacked { .. } => (vec![stack + 1], vec![stack]),
        };
        let stacked: Vec<usize> = (0..stack).collect();
        let mut seen = vec![false; rank];
        for &axis in &stacked {
            seen[axis] = true;
        }
        for &axis in inputs.iter().chain(&outputs) {
            if axis >= rank {
                return Err(Error::InvalidAxis { axis, rank, reason: "out of range" });
            }
            if std::mem::replace(&mut seen[axis], true) {
                return Err(Error::InvalidAxis { axis, rank, reason: "named twice" });
            }
        }
        if inputs.is_empty() || outputs.is_empty() {
            return Err(Error::InvalidAxis {
                axis: 0,
                rank,
                reason: "a layout needs at least one input and one output axis",
            });
        }
        let spatial = (0..rank).filter(|a| !seen[*a]).collect();
        let per_group = match self {
            Self::TorchTransposed => PerGroup::Outputs,
            Self::Torch | Self::Jax | Self::Axes { .. } | Self::TorchStacked { .. } => PerGroup::Inputs,
        };
        Ok(Roles { inputs, outputs, spatial, stacked, per_group })
    }
}

/// Which extent a grouped tensor stores per group; the other is stored in full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PerGroup {
    /// The input extent is per group (`in/groups`): convolutions in every layout
    /// but the transposed one.
    Inputs,
    /// The output extent is per group (`out/groups`): [`Layout::TorchTransposed`].
    Outputs,
}

/// The role of each axis of a tensor under a [`Layout`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roles {
    /// Input axes, in order.
    pub inputs: Vec<usize>,
    /// Output axes, in order.
    pub outputs: Vec<usize>,
    /// Receptive-field (spatial) axes, in storage order.
    pub spatial: Vec<usize>,
    /// Stack axes (the experts of [`Layout::TorchStacked`]): in neither fan.
    pub stacked: Vec<usize>,
    /// Which extent is stored per group.
    pub per_group: PerGroup,
}

impl Roles {
    fn extent(shape: &Shape, axes: &[usize]) -> u64 {
        axes.iter().map(|&a| shape.dims()[a] as u64).product()
    }

    /// The stored input extent (product of the input axes).
    pub fn in_extent(&self, shape: &Shape) -> u64 {
        Self::extent(shape, &self.inputs)
    }

    /// The stored output extent (product of the output axes).
    pub fn out_extent(&self, shape: &Shape) -> u64 {
        Self::extent(shape, &self.outputs)
    }

    /// The receptive field (product of the spatial axes; 1 if none).
    pub fn receptive_field(&self, shape: &Shape) -> u64 {
        Self::extent(shape, &self.spatial)
    }
}

/// Which fan a variance-scaling rule divides by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FanMode {
    /// `fan_in`: preserves the variance of activations in the forward pass.
    #[default]
    #[serde(alias = "in")]
    FanIn,
    /// `fan_out`: preserves the variance of gradients in the backward pass.
    #[serde(alias = "out")]
    FanOut,
    /// `(fan_in + fan_out) / 2` (Glorot's compromise).
    #[serde(alias = "avg", alias = "fan_average")]
    FanAvg,
}

impl FanMode {
    /// Parses `fan_in`, `fan_out`, `fan_avg` (also `in`, `out`, `avg`).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for anything else.
    pub fn parse(text: &str) -> Result<Self> {
        match text.to_ascii_lowercase().replace('-', "_").as_str() {
            "fan_in" | "in" => Ok(Self::FanIn),
            "fan_out" | "out" => Ok(Self::FanOut),
            "fan_avg" | "avg" | "fan_average" => Ok(Self::FanAvg),
            _ => Err(Error::InvalidConfig {
                reason: format!("unknown fan mode `{text}` (known: fan_in, fan_out, fan_avg)"),
            }),
        }
    }

    /// The name as PyTorch and JAX spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::FanIn => "fan_in",
            Self::FanOut => "fan_out",
            Self::FanAvg => "fan_avg",
        }
    }
}

/// Fan-in and fan-out of a weight tensor: the number of inputs feeding each
/// output unit and of outputs each input unit feeds.
///
/// # Example
/// ```
/// use nninit::{Fan, Layout, Shape};
/// // nn.Conv2d(16, 32, 3).weight and the same kernel in Flax's HWIO layout
/// let torch = Fan::from_shape(&Shape::new(vec![32, 16, 3, 3])?, &Layout::Torch, 1)?;
/// let jax = Fan::from_shape(&Shape::new(vec![3, 3, 16, 32])?, &Layout::Jax, 1)?;
/// assert_eq!(torch, jax);
/// assert_eq!((torch.fan_in(), torch.fan_out()), (144, 288));
/// # Ok::<(), nninit::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fan {
    fan_in: u64,
    fan_out: u64,
}

impl Fan {
    /// Explicit fans, for tensors of rank < 2 (a bias takes its weight's fans)
    /// or layouts nninit does not model.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if either fan is 0.
    pub fn new(fan_in: u64, fan_out: u64) -> Result<Self> {
        for (name, v) in [("fan_in", fan_in), ("fan_out", fan_out)] {
            if v == 0 {
                return Err(Error::InvalidParameter { name, value: 0.0, expected: ">= 1" });
            }
        }
        Ok(Self { fan_in, fan_out })
    }

    /// Computes the fans of a tensor of `shape` stored in `layout` with
    /// `groups` groups (1 for anything but a grouped convolution).
    ///
    /// # Errors
    /// [`Error::RankTooSmall`] below rank 2, [`Error::InvalidAxis`] for a bad
    /// [`Layout::Axes`], [`Error::InvalidParameter`] for `groups = 0`, and
    /// [`Error::GroupsMismatch`] when the groups do not divide the extent
    /// stored in full.
    pub fn from_shape(shape: &Shape, layout: &Layout, groups: usize) -> Result<Self> {
        let roles = layout.roles(shape)?;
        if groups == 0 {
            return Err(Error::InvalidParameter { name: "groups", value: 0.0, expected: ">= 1" });
        }
        let rf = roles.receptive_field(shape);
        let (in_extent, out_extent) = (roles.in_extent(shape), roles.out_extent(shape));
        let g = groups as u64;
        let (per_group_in, per_group_out) = match roles.per_group {
            PerGroup::Outputs => {
                if in_extent % g != 0 {
                    return Err(Error::GroupsMismatch { groups, what: "input", size: in_extent as usize });
                }
                (in_extent / g, out_extent)
            }
            PerGroup::Inputs => {
                if out_extent % g != 0 {
                    return Err(Error::GroupsMismatch { groups, what: "output", size: out_extent as usize });
                }
                (in_extent, out_extent / g)
            }
        };
        // Overflow is impossible: the products divide the validated numel.
        Ok(Self { fan_in: per_group_in * rf, fan_out: per_group_out * rf })
    }

    /// Inputs per output unit.
    pub fn fan_in(&self) -> u64 {
        self.fan_in
    }

    /// Outputs per input unit.
    pub fn fan_out(&self) -> u64 {
        self.fan_out
    }

    /// The fan a [`FanMode`] selects, as `f64` (`fan_avg` may be a half-integer).
    pub fn get(&self, mode: FanMode) -> f64 {
        match mode {
            FanMode::FanIn => self.fan_in as f64,
            FanMode::FanOut => self.fan_out as f64,
            FanMode::FanAvg => (self.fan_in as f64 + self.fan_out as f64) / 2.0,
        }
    }

    /// The std of variance scaling with `gain` over the fan `mode` selects, evaluated
    /// in `torch.nn.init`'s double-precision steps (so its values are PyTorch's, bit for
    /// bit): `gain / √fan_in`, `gain / √fan_out` (Kaiming), and
    /// `gain · √(2 / (fan_in + fan_out))` for fan_avg (Xavier), the fans summed as
    /// integers.
    ///
    /// ```
    /// use nninit::{Fan, FanMode};
    /// let fan = Fan::new(32, 64)?;
    /// assert_eq!(fan.variance_scaling_std(FanMode::FanIn, 2f64.sqrt()), 2f64.sqrt() / 32f64.sqrt());
    /// assert_eq!(fan.variance_scaling_std(FanMode::FanAvg, 1.0), (2.0f64 / 96.0).sqrt());
    /// # Ok::<(), nninit::Error>(())
    /// ```
    pub fn variance_scaling_std(&self, mode: FanMode, gain: f64) -> f64 {
        match mode {
            FanMode::FanIn => gain / (self.fan_in as f64).sqrt(),
            FanMode::FanOut => gain / (self.fan_out as f64).sqrt(),
            FanMode::FanAvg => gain * (2.0 / (self.fan_in + self.fan_out) as f64).sqrt(),
        }
    }
}

/// A tensor seen as a matrix `[out, in · receptive field]`, whatever its
/// storage layout: the view that structured initializers (orthogonal, eye,
/// dirac, delta-orthogonal, sparse, ZerO) work in.
///
/// Rows run over the output axes (row-major over them, in the layout's
/// order); columns over the input axes, then the receptive field, so for
/// [`Layout::Torch`] the view is PyTorch's `weight.view(out, -1)` and
/// [`MatrixView::offset`] is the identity.
#[derive(Clone, Debug)]
pub struct MatrixView {
    rows: usize,
    inputs: usize,
    taps: usize,
    row_axes: Vec<(usize, usize)>,
    in_axes: Vec<(usize, usize)>,
    tap_axes: Vec<(usize, usize)>,
    spatial_dims: Vec<usize>,
}

impl MatrixView {
    /// The view of `shape` under `layout`.
    ///
    /// # Errors
    /// Those of [`Layout::roles`]; [`Error::UnsupportedShape`] for a
    /// [`Layout::TorchStacked`] tensor (several matrices, not one).
    pub fn new(shape: &Shape, layout: &Layout) -> Result<Self> {
        let roles = layout.roles(shape)?;
        if !roles.stacked.is_empty() {
            return Err(Error::UnsupportedShape {
                init: "structured",
                shape: shape.dims().to_vec(),
                reason: "a stacked layout holds several matrices; structured rules work on one matrix".into(),
            });
        }
        let strides = shape.strides();
        let dims = shape.dims();
        let pairs = |axes: &[usize]| axes.iter().map(|&a| (dims[a], strides[a])).collect::<Vec<_>>();
        Ok(Self {
            rows: roles.out_extent(shape) as usize,
            inputs: roles.in_extent(shape) as usize,
            taps: roles.receptive_field(shape) as usize,
            row_axes: pairs(&roles.outputs),
            in_axes: pairs(&roles.inputs),
            tap_axes: pairs(&roles.spatial),
            spatial_dims: roles.spatial.iter().map(|&a| dims[a]).collect(),
        })
    }

    /// Number of rows (the output extent).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of input units (the stored input extent).
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// Number of receptive-field positions (taps).
    pub fn taps(&self) -> usize {
        self.taps
    }

    /// Number of columns (`inputs · taps`).
    pub fn cols(&self) -> usize {
        self.inputs * self.taps
    }

    /// The receptive-field dimensions, in storage order.
    pub fn spatial_dims(&self) -> &[usize] {
        &self.spatial_dims
    }

    /// The flat index of the centre tap (`k // 2` along every spatial axis).
    pub fn centre_tap(&self) -> usize {
        self.spatial_dims.iter().fold(0, |acc, &d| acc * d + d / 2)
    }

    /// Whether [`offset`](Self::offset)`(r, i, t)` is `(r·inputs + i)·taps + t` for every
    /// index: the `[rows, cols]` matrix is the storage itself, row-major (PyTorch's layout
    /// for weights and convolutions, for instance).
    pub fn is_row_major(&self) -> bool {
        // Each group of axes must hold its flattened index densely, last axis fastest,
        // starting at the stride the group below it spans.
        fn dense(axes: &[(usize, usize)], mut unit: usize) -> bool {
            axes.iter().rev().all(|&(dim, stride)| {
                let ok = dim == 1 || stride == unit;
                unit *= dim;
                ok
            })
        }
        dense(&self.tap_axes, 1) && dense(&self.in_axes, self.taps) && dense(&self.row_axes, self.cols())
    }

    fn scatter(axes: &[(usize, usize)], mut index: usize) -> usize {
        let mut offset = 0;
        for &(dim, stride) in axes.iter().rev() {
            offset += (index % dim) * stride;
            index /= dim;
        }
        offset
    }

    /// The storage offset of (output `row`, input `input`, tap `tap`).
    pub fn offset(&self, row: usize, input: usize, tap: usize) -> usize {
        Self::scatter(&self.row_axes, row) + Self::scatter(&self.in_axes, input) + Self::scatter(&self.tap_axes, tap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn shape(d: &[usize]) -> Shape {
        Shape::new(d.to_vec()).unwrap()
    }

    #[test]
    fn stacked_experts_have_the_fans_of_one_expert() {
        let experts = Layout::TorchStacked { stack_axes: 1 };
        let fan = Fan::from_shape(&shape(&[8, 14336, 4096]), &experts, 1).unwrap();
        assert_eq!((fan.fan_in(), fan.fan_out()), (4096, 14336), "the expert axis counts in neither fan");
        assert_eq!(fan, Fan::from_shape(&shape(&[14336, 4096]), &Layout::Torch, 1).unwrap());
        // Axes would count the expert axis as receptive field: 8× both fans.
        let axes = Layout::Axes { in_axes: vec![2], out_axes: vec![1] };
        assert_eq!(Fan::from_shape(&shape(&[8, 14336, 4096]), &axes, 1).unwrap().fan_in(), 8 * 4096);
        // Two stack axes and a kernel: [2, 3, out 16, in 4, k 3]
        let two = Layout::TorchStacked { stack_axes: 2 };
        let fan = Fan::from_shape(&shape(&[2, 3, 16, 4, 3]), &two, 1).unwrap();
        assert_eq!((fan.fan_in(), fan.fan_out()), (12, 48));
        assert_eq!(Layout::parse("torch-stacked:1").unwrap(), experts);
        assert!(Layout::parse("torch-stacked:x").is_err());
        assert!(matches!(Fan::from_shape(&shape(&[8, 16]), &experts, 1), Err(Error::RankTooSmall { .. })));
        assert!(matches!(MatrixView::new(&shape(&[8, 16, 4]), &experts), Err(Error::UnsupportedShape { .. })));
        let json = serde_json::to_string(&experts).unwrap();
        assert_eq!(json, r#"{"kind":"torch_stacked","stack_axes":1}"#);
        assert_eq!(serde_json::from_str::<Layout>(&json).unwrap(), experts);
    }

    #[test]
    fn row_major_views_are_recognised() {
        let view = |d: &[usize], layout: Layout| MatrixView::new(&shape(d), &layout).unwrap();
        let every_offset_is_row_major = |v: &MatrixView| {
            (0..v.rows()).all(|r| (0..v.cols()).all(|c| v.offset(r, c / v.taps(), c % v.taps()) == r * v.cols() + c))
        };
        for (d, layout) in [
            (&[6, 4][..], Layout::Torch),
            (&[6, 4, 3, 2][..], Layout::Torch),
            (&[6, 1, 3][..], Layout::Torch),
            (&[1, 5][..], Layout::Jax),
            (&[4, 6][..], Layout::Jax),
            (&[3, 2, 4, 6][..], Layout::Jax),
            (&[4, 6, 3][..], Layout::TorchTransposed),
        ] {
            let v = view(d, layout.clone());
            assert_eq!(v.is_row_major(), every_offset_is_row_major(&v), "{d:?} {layout:?}");
        }
        assert!(view(&[6, 4, 3, 2], Layout::Torch).is_row_major());
        assert!(!view(&[4, 6], Layout::Jax).is_row_major());
        assert!(!view(&[3, 2, 4, 6], Layout::Jax).is_row_major());
    }

    #[test]
    fn linear_matches_pytorch() {
        let fan = Fan::from_shape(&shape(&[64, 32]), &Layout::Torch, 1).unwrap();
        assert_eq!((fan.fan_in(), fan.fan_out()), (32, 64));
        let fan = Fan::from_shape(&shape(&[32, 64]), &Layout::Jax, 1).unwrap();
        assert_eq!((fan.fan_in(), fan.fan_out()), (32, 64));
    }

    #[test]
    fn conv_matches_pytorch_and_jax() {
        let fan = Fan::from_shape(&shape(&[32, 16, 3, 5]), &Layout::Torch, 1).unwrap();
        assert_eq!((fan.fan_in(), fan.fan_out()), (16 * 15, 32 * 15));
        let fan = Fan::from_shape(&shape(&[3, 5, 16, 32]), &Layout::Jax, 1).unwrap();
        assert_eq!((fan.fan_in(), fan.fan_out()), (16 * 15, 32 * 15));
    }

    #[test]
    fn grouped_and_transposed() {
        // nn.Conv2d(16, 32, 3, groups=4).weight: [32, 4, 3, 3]
        let fan = Fan::from_shape(&shape(&[32, 4, 3, 3]), &Layout::Torch, 4).unwrap();
        assert_eq!((fan.fan_in(), fan.fan_out()), (36, 72));
        // nn.ConvTranspose2d(16, 32, 3, groups=4).weight: [16, 8, 3, 3]
        let fan = Fan::from_shape(&shape(&[16, 8, 3, 3]), &Layout::TorchTransposed, 4).unwrap();
        assert_eq!((fan.fan_in(), fan.fan_out()), (36, 72));
        // PyTorch's own rule reads the transposed weight as [out, in, k]: swapped.
        let torch = Fan::from_shape(&shape(&[16, 8, 3, 3]), &Layout::Torch, 1).unwrap();
        assert_eq!((torch.fan_in(), torch.fan_out()), (72, 144));
        assert!(matches!(
            Fan::from_shape(&shape(&[30, 4, 3, 3]), &Layout::Torch, 4),
            Err(Error::GroupsMismatch { groups: 4, size: 30, .. })
        ));
        assert!(Fan::from_shape(&shape(&[32, 4]), &Layout::Torch, 0).is_err());
    }

    #[test]
    fn attention_kernel_axes() {
        // Flax DenseGeneral q kernel [d_model, heads, head_dim], in = [0], out = [1, 2]
        let layout = Layout::Axes { in_axes: vec![0], out_axes: vec![1, 2] };
        let fan = Fan::from_shape(&shape(&[512, 8, 64]), &layout, 1).unwrap();
        assert_eq!((fan.fan_in(), fan.fan_out()), (512, 512));
    }

    #[test]
    fn rank_below_two_is_an_error() {
        assert!(matches!(Fan::from_shape(&shape(&[10]), &Layout::Torch, 1), Err(Error::RankTooSmall { rank: 1, .. })));
        assert!(matches!(Fan::from_shape(&shape(&[]), &Layout::Jax, 1), Err(Error::RankTooSmall { rank: 0, .. })));
        assert_eq!(Fan::new(10, 20).unwrap().fan_in(), 10);
        assert!(Fan::new(0, 20).is_err());
    }

    #[test]
    fn bad_axes_are_errors() {
        let s = shape(&[4, 5, 6]);
        let twice = Layout::Axes { in_axes: vec![0], out_axes: vec![0] };
        assert!(matches!(Fan::from_shape(&s, &twice, 1), Err(Error::InvalidAxis { .. })));
        let range = Layout::Axes { in_axes: vec![3], out_axes: vec![0] };
        assert!(matches!(Fan::from_shape(&s, &range, 1), Err(Error::InvalidAxis { .. })));
        let empty = Layout::Axes { in_axes: vec![], out_axes: vec![0] };
        assert!(matches!(Fan::from_shape(&s, &empty, 1), Err(Error::InvalidAxis { .. })));
    }

    #[test]
    fn layout_parses() {
        assert_eq!(Layout::parse("torch").unwrap(), Layout::Torch);
        assert_eq!(Layout::parse("torch-transposed").unwrap(), Layout::TorchTransposed);
        assert_eq!(Layout::parse("keras").unwrap(), Layout::Jax);
        assert_eq!(Layout::parse("axes:0;1,2").unwrap(), Layout::Axes { in_axes: vec![0], out_axes: vec![1, 2] });
        assert!(Layout::parse("nchw").is_err());
        assert!(Layout::parse("axes:0").is_err());
    }

    #[test]
    fn fan_modes() {
        let fan = Fan::new(3, 4).unwrap();
        assert_eq!(fan.get(FanMode::FanIn), 3.0);
        assert_eq!(fan.get(FanMode::FanOut), 4.0);
        assert_eq!(fan.get(FanMode::FanAvg), 3.5);
        assert_eq!(FanMode::parse("fan-out").unwrap(), FanMode::FanOut);
        assert!(FanMode::parse("fan_sum").is_err());
    }

    #[test]
    fn matrix_view_of_torch_layout_is_identity() {
        let s = shape(&[4, 3, 2, 2]);
        let view = MatrixView::new(&s, &Layout::Torch).unwrap();
        assert_eq!((view.rows(), view.cols(), view.taps()), (4, 12, 4));
        let mut k = 0;
        for r in 0..4 {
            for i in 0..3 {
                for t in 0..4 {
                    assert_eq!(view.offset(r, i, t), k);
                    k += 1;
                }
            }
        }
        assert_eq!(view.centre_tap(), 3);
    }

    /// Moves the axes of a torch-layout shape `[out, in, k…]` to JAX `[k…, in, out]`.
    fn to_jax(dims: &[usize]) -> Vec<usize> {
        let mut jax: Vec<usize> = dims[2..].to_vec();
        jax.push(dims[1]);
        jax.push(dims[0]);
        jax
    }

    proptest! {
        /// A permutation between layouts never changes the fans.
        #[test]
        fn permutation_between_layouts_keeps_fans(
            out_per_group in 1usize..8, inp in 1usize..9, groups in 1usize..5,
            k in proptest::collection::vec(1usize..5, 0..3),
            perm_seed in 0u64..1000,
        ) {
            let out = out_per_group * groups;
            let mut dims = vec![out, inp];
            dims.extend(&k);
            let torch = Fan::from_shape(&shape(&dims), &Layout::Torch, groups).unwrap();
            let jax = Fan::from_shape(&shape(&to_jax(&dims)), &Layout::Jax, groups).unwrap();
            prop_assert_eq!(torch, jax);
            // Any permutation, described with explicit axes.
            let rank = dims.len();
            let mut order: Vec<usize> = (0..rank).collect();
            let mut s = perm_seed;
            for i in (1..rank).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                order.swap(i, (s >> 33) as usize % (i + 1));
            }
            let permuted: Vec<usize> = order.iter().map(|&a| dims[a]).collect();
            let position = |axis: usize| order.iter().position(|&a| a == axis).unwrap();
            let layout = Layout::Axes { in_axes: vec![position(1)], out_axes: vec![position(0)] };
            let axes = Fan::from_shape(&shape(&permuted), &layout, groups).unwrap();
            prop_assert_eq!(torch, axes);
            // A transposed convolution [in, out/groups, k…] is the same connectivity read backwards.
            let mut tdims = vec![out, inp];
            tdims.extend(&k);
            let t = Fan::from_shape(&shape(&tdims), &Layout::TorchTransposed, groups).unwrap();
            let swapped = Fan::from_shape(&shape(&tdims), &Layout::Axes { in_axes: vec![0], out_axes: vec![1] }, 1).unwrap();
            prop_assert_eq!(t.fan_out(), swapped.fan_out());
            prop_assert_eq!(t.fan_in() * groups as u64, swapped.fan_in());
        }

        /// The matrix view visits every storage offset exactly once.
        #[test]
        fn matrix_view_is_a_bijection(dims in proptest::collection::vec(1usize..5, 2..5), jax in any::<bool>()) {
            let s = shape(&dims);
            let layout = if jax { Layout::Jax } else { Layout::TorchTransposed };
            let view = MatrixView::new(&s, &layout).unwrap();
            let mut seen = vec![false; s.numel() as usize];
            for r in 0..view.rows() { for i in 0..view.inputs() { for t in 0..view.taps() {
                let o = view.offset(r, i, t);
                prop_assert!(!seen[o]);
                seen[o] = true;
            }}}
            prop_assert!(seen.iter().all(|&b| b));
        }
    }
}
