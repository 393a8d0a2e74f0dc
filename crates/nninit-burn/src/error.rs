//! What can go wrong when a burn module is initialized.

/// An error of [`init`](crate::init) or [`init_torch`](crate::init_torch). Every variant names
/// the parameter it is about by its burn path (`encoder.layers.0.linear.weight`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No rule of the [`Rules`](crate::Rules) matched a parameter, so it would keep whatever
    /// burn drew for it. Add a rule, or [`Rules::keep`](crate::Rules::keep) it explicitly.
    #[error("no rule for parameter `{path}` {shape:?}")]
    NoRule {
        /// The parameter's path.
        path: String,
        /// Its shape, as burn records it.
        shape: Vec<usize>,
    },
    /// The rule that matched refuses the parameter's shape (a fan-based rule on a rank-1
    /// tensor with no weight beside it, an orthogonal rule on a vector, ...).
    #[error("rule `{rule}` refuses parameter `{path}` {shape:?}: {source}")]
    Refused {
        /// The parameter's path.
        path: String,
        /// Its shape, as burn records it.
        shape: Vec<usize>,
        /// The rule's name.
        rule: &'static str,
        /// Why, from nninit (boxed: nninit's error is large).
        source: Box<nninit::Error>,
    },
    /// A tensor of the plan given to [`Rules::from_plan`](crate::Rules::from_plan) has
    /// another shape than the burn parameter of the same name.
    #[error("plan tensor `{path}` is {planned:?} but the burn parameter is {found:?}")]
    PlanShape {
        /// The parameter's path (the plan tensor's name).
        path: String,
        /// The shape in the plan.
        planned: Vec<usize>,
        /// The shape in the burn module.
        found: Vec<usize>,
    },
    /// A stored tensor of the plan has no burn parameter of that name.
    #[error("plan tensor `{name}` is not a parameter of the burn module")]
    PlanMissing {
        /// The plan tensor's name.
        name: String,
    },
    /// A stored tensor of the plan has no rule (no scheme was applied to it).
    #[error("plan tensor `{name}` has no rule; apply a scheme to the plan first")]
    PlanUnruled {
        /// The plan tensor's name.
        name: String,
    },
    /// A path pattern that cannot match anything.
    #[error("bad path pattern `{pattern}`: {reason}")]
    BadPattern {
        /// The pattern as given.
        pattern: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// [`init_torch`](crate::init_torch) found a parameter outside the burn modules whose
    /// PyTorch counterpart it knows, or a module it cannot mirror.
    #[error("cannot reproduce PyTorch's default for `{path}`: {reason}")]
    TorchUnsupported {
        /// The parameter's path.
        path: String,
        /// Why.
        reason: String,
    },
    /// nninit refused something (a tensor too large to fill, PyTorch module arguments that
    /// PyTorch would refuse).
    #[error("`{path}`: {source}")]
    Nninit {
        /// The parameter or module path.
        path: String,
        /// nninit's error (boxed: it is large).
        source: Box<nninit::Error>,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
