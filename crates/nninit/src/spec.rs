//! The geometry of one tensor: shape, layout, groups, and optionally explicit fans.

use crate::error::Result;
use crate::fan::{Fan, Layout, MatrixView};
use crate::tensor::Shape;

/// Everything an initializer needs to know about a tensor besides its name
/// (which keys the random stream): shape, layout, groups, and explicit fans
/// for tensors whose fans cannot come from the shape (a bias takes its
/// weight's fans).
///
/// # Example
/// ```
/// use nninit::{Fan, Layout, Shape, TensorSpec};
/// let weight = TensorSpec::new(Shape::new(vec![3, 3, 16, 32])?).with_layout(Layout::Jax);
/// assert_eq!(weight.fan()?.fan_in(), 144);
/// let bias = TensorSpec::new(Shape::new(vec![32])?).with_fan(weight.fan()?);
/// assert_eq!(bias.fan()?.fan_in(), 144);
/// # Ok::<(), nninit::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    shape: Shape,
    layout: Layout,
    groups: usize,
    fan: Option<Fan>,
}

impl TensorSpec {
    /// A tensor in PyTorch layout with one group.
    pub fn new(shape: Shape) -> Self {
        Self { shape, layout: Layout::Torch, groups: 1, fan: None }
    }

    /// Sets the storage layout.
    pub fn with_layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    /// Sets the number of groups of a grouped convolution (checked when the
    /// fans are computed).
    pub fn with_groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }

    /// Gives the fans explicitly instead of computing them from the shape.
    pub fn with_fan(mut self, fan: Fan) -> Self {
        self.fan = Some(fan);
        self
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// The layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The number of groups.
    pub fn groups(&self) -> usize {
        self.groups
    }

    /// The number of elements.
    pub fn numel(&self) -> u64 {
        self.shape.numel()
    }

    /// The explicit fans if given, else the fans computed from the shape.
    ///
    /// # Errors
    /// Those of [`Fan::from_shape`].
    pub fn fan(&self) -> Result<Fan> {
        match self.fan {
            Some(fan) => Ok(fan),
            None => Fan::from_shape(&self.shape, &self.layout, self.groups),
        }
    }

    /// The `[out, in · k]` matrix view of the tensor.
    ///
    /// # Errors
    /// Those of [`Layout::roles`].
    pub fn matrix_view(&self) -> Result<MatrixView> {
        MatrixView::new(&self.shape, &self.layout)
    }
}
