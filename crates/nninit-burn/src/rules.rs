//! Which nninit rule each parameter of a burn module gets, and the geometry its fans come from.

use std::collections::HashMap;

use nninit::plan::{Plan, PlannedTensor};
use nninit::{Fan, Init, Layout, Shape, TensorSpec};

use crate::error::{Error, Result};
use crate::walk::Record;

/// The burn modules whose storage layouts nninit-burn knows (burn 0.22's `burn::nn`), named by
/// the type name burn reports while visiting a module.
///
/// The layout of a module's `weight` decides its fans ([`Layout`], computed by nninit's
/// [`fan`](nninit::fan) module):
///
/// | module | burn stores the weight as | nninit layout |
/// |---|---|---|
/// | `Linear` (default row layout) | `[in, out]` | [`Layout::Jax`] |
/// | `Conv1d`, `Conv2d`, `Conv3d` | `[out, in/groups, k...]` | [`Layout::Torch`] |
/// | `ConvTranspose1d/2d/3d` | `[in, out/groups, k...]` | [`Layout::TorchTransposed`] |
/// | `Embedding` | `[n_embedding, d_model]` | [`Layout::Torch`] (fan_in = d_model) |
///
/// `MultiHeadAttention`, `Lstm`, `BiLstm` and `Gru` hold `Linear`s (burn's gate controllers), so
/// their weights are `[in, out]` too. A bias takes the fans of the `weight` beside it, as burn's
/// own initializers do. Grouped convolutions: a visit sees no `groups`, so the fans are those
/// of the stored shape with one group (PyTorch's convention); give the groups with
/// [`Rules::groups`] for per-group fans.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// `burn::nn::Linear`.
    Linear,
    /// `burn::nn::conv::Conv1d`.
    Conv1d,
    /// `burn::nn::conv::Conv2d`.
    Conv2d,
    /// `burn::nn::conv::Conv3d`.
    Conv3d,
    /// `burn::nn::conv::ConvTranspose1d`.
    ConvTranspose1d,
    /// `burn::nn::conv::ConvTranspose2d`.
    ConvTranspose2d,
    /// `burn::nn::conv::ConvTranspose3d`.
    ConvTranspose3d,
    /// `burn::nn::Embedding`.
    Embedding,
    /// `burn::nn::LayerNorm` (`gamma`, `beta`).
    LayerNorm,
    /// `burn::nn::RmsNorm` (`gamma`).
    RmsNorm,
    /// `burn::nn::BatchNorm` (`gamma`, `beta`, `running_mean`, `running_var`).
    BatchNorm,
    /// `burn::nn::GroupNorm` (`gamma`, `beta`).
    GroupNorm,
    /// `burn::nn::InstanceNorm` (`gamma`, `beta`).
    InstanceNorm,
    /// `burn::nn::attention::MultiHeadAttention` (its `query`, `key`, `value`, `output` Linears).
    MultiHeadAttention,
    /// `burn::nn::Lstm` (four gate controllers of two Linears each).
    Lstm,
    /// `burn::nn::BiLstm` (a `forward` and a `reverse` Lstm).
    BiLstm,
    /// `burn::nn::Gru` (three gate controllers).
    Gru,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 17] = [
        Kind::Linear,
        Kind::Conv1d,
        Kind::Conv2d,
        Kind::Conv3d,
        Kind::ConvTranspose1d,
        Kind::ConvTranspose2d,
        Kind::ConvTranspose3d,
        Kind::Embedding,
        Kind::LayerNorm,
        Kind::RmsNorm,
        Kind::BatchNorm,
        Kind::GroupNorm,
        Kind::InstanceNorm,
        Kind::MultiHeadAttention,
        Kind::Lstm,
        Kind::BiLstm,
        Kind::Gru,
    ];

    /// The type name burn reports for the module (`Linear`, `Conv2d`, ...).
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::Linear => "Linear",
            Kind::Conv1d => "Conv1d",
            Kind::Conv2d => "Conv2d",
            Kind::Conv3d => "Conv3d",
            Kind::ConvTranspose1d => "ConvTranspose1d",
            Kind::ConvTranspose2d => "ConvTranspose2d",
            Kind::ConvTranspose3d => "ConvTranspose3d",
            Kind::Embedding => "Embedding",
            Kind::LayerNorm => "LayerNorm",
            Kind::RmsNorm => "RmsNorm",
            Kind::BatchNorm => "BatchNorm",
            Kind::GroupNorm => "GroupNorm",
            Kind::InstanceNorm => "InstanceNorm",
            Kind::MultiHeadAttention => "MultiHeadAttention",
            Kind::Lstm => "Lstm",
            Kind::BiLstm => "BiLstm",
            Kind::Gru => "Gru",
        }
    }

    /// The kind of a burn type name.
    pub fn from_type_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.type_name() == name)
    }

    /// Whether this is a normalization layer (no fans; 1 and 0 by default everywhere).
    pub fn is_norm(self) -> bool {
        matches!(self, Kind::LayerNorm | Kind::RmsNorm | Kind::BatchNorm | Kind::GroupNorm | Kind::InstanceNorm)
    }

    /// The nninit layout of this module's `weight` as burn stores it.
    pub fn weight_layout(self) -> Layout {
        match self {
            Kind::ConvTranspose1d | Kind::ConvTranspose2d | Kind::ConvTranspose3d => Layout::TorchTransposed,
            Kind::Linear | Kind::MultiHeadAttention | Kind::Lstm | Kind::BiLstm | Kind::Gru => Layout::Jax,
            _ => Layout::Torch,
        }
    }
}

/// A path pattern: `*` matches any run of characters (dots included), everything else
/// itself. `*.bias` matches every bias, `encoder.*.weight` every weight under `encoder`, and a
/// pattern without `*` one path exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pattern(String);

impl Pattern {
    fn new(text: &str) -> Result<Self> {
        let bad = |reason| Err(Error::BadPattern { pattern: text.to_owned(), reason });
        if text.is_empty() {
            return bad("it is empty");
        }
        if text.chars().any(char::is_whitespace) {
            return bad("burn paths hold no whitespace");
        }
        if text.starts_with('.') || text.ends_with('.') || text.contains("..") {
            return bad("an empty path segment (burn paths are `a.b.c`)");
        }
        Ok(Self(text.to_owned()))
    }

    fn matches(&self, path: &str) -> bool {
        glob(self.0.as_bytes(), path.as_bytes())
    }
}

/// `*`-only glob matching, iterative with one backtrack point (linear in practice, never
/// exponential).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// What selects the parameters of a rule.
#[derive(Clone, Debug, PartialEq)]
enum Selector {
    /// Paths matching a pattern.
    Path(Pattern),
    /// The parameter `field` (`weight`, `bias`, `gamma`, ...) of every module of a kind, at any
    /// depth inside it (so `Lstm`'s `weight`s are its gate controllers' Linear weights).
    Module { kind: Kind, field: String },
}

impl Selector {
    fn matches(&self, record: &Record, path: &str) -> bool {
        match self {
            Selector::Path(p) => p.matches(path),
            Selector::Module { kind, field } => record.field() == field && record.inside(kind.type_name()),
        }
    }
}

/// What a rule does with a parameter.
#[derive(Clone, Debug, PartialEq)]
enum Action {
    /// Draw it with this rule from the stream of (seed, path).
    Init(Init),
    /// Leave it as burn made it.
    Keep,
}

/// A plan tensor's rule, geometry and stream name (its tie source for a tied tensor).
#[derive(Clone, Debug, PartialEq)]
struct Planned {
    spec: TensorSpec,
    init: Init,
    stream: String,
    /// The plan's tensor, for a fused tensor whose parts have rules of their own (T-Fixup's
    /// and DeepNorm's GPT-2 `c_attn`): drawn part by part with
    /// [`PlannedTensor::fill_slice`](nninit::plan::PlannedTensor::fill_slice).
    parts: Option<Box<PlannedTensor>>,
}

/// Which rule each parameter of a burn module gets.
///
/// Built from one rule for all ([`Rules::all`]), rules per path pattern ([`Rules::path`]),
/// rules per burn module ([`Rules::module`], [`Rules::modules`]) or a whole nninit plan
/// ([`Rules::from_plan`]); patterns and module rules are tried in the order they were added
/// and the first that matches wins. Every parameter is drawn from nninit's [`Philox`] stream
/// keyed by (seed, its burn path), so the values are those of `nninit sample --seed S --name
/// PATH` for the same rule and shape, whatever the backend, device or thread count.
///
/// [`Philox`]: nninit::stream::Philox
///
/// # Example
/// ```
/// use nninit::init::{Init, VarianceScaling};
/// use nninit_burn::{Kind, Rules};
///
/// // He-normal weights, zero biases, norms at 1 and 0, the classifier N(0, 0.01²).
/// let rules = Rules::modules(VarianceScaling::he_normal(), Init::Zeros)
///     .path("head.weight", nninit::init::Normal::new(0.0, 0.01)?);
/// # let _ = rules;
/// # Ok::<(), nninit::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rules {
    entries: Vec<(String, Option<Selector>, Action)>,
    plan: HashMap<String, Planned>,
    plan_order: Vec<String>,
    layouts: Vec<(String, Layout)>,
    groups: Vec<(String, usize)>,
}

impl Rules {
    /// No rules yet: every parameter is an [`Error::NoRule`] until one is added.
    pub fn new() -> Self {
        Self::default()
    }

    /// One rule for every parameter (biases take their weight's fans; a fan-based rule on a
    /// norm's `gamma` is an [`Error::Refused`]).
    pub fn all(init: impl Into<Init>) -> Self {
        Self::new().path("*", init)
    }

    /// A scheme over burn's own modules: `weight` for the weights of every `Linear`, conv,
    /// conv-transpose, `Embedding`, attention and recurrent module, `bias` for their biases,
    /// and the norms' values ones and zeros (`gamma` 1, `beta` 0, `running_mean` 0,
    /// `running_var` 1), as every nninit scheme sets them.
    pub fn modules(weight: impl Into<Init>, bias: impl Into<Init>) -> Self {
        let mut rules = Self::new();
        for kind in Kind::ALL.into_iter().filter(|k| k.is_norm()) {
            rules = rules
                .module(kind, "gamma", Init::Ones)
                .module(kind, "beta", Init::Zeros)
                .module(kind, "running_mean", Init::Zeros)
                .module(kind, "running_var", Init::Ones);
        }
        rules.path("*.weight", weight).path("*.bias", bias)
    }

    /// The rule for every parameter whose path matches `pattern` (`*` matches anything,
    /// dots included). A bad pattern is reported by [`init`](crate::init) as
    /// [`Error::BadPattern`].
    pub fn path(mut self, pattern: &str, init: impl Into<Init>) -> Self {
        self.entries.push((pattern.to_owned(), None, Action::Init(init.into())));
        self
    }

    /// Leaves every parameter matching `pattern` as burn made it.
    pub fn keep(mut self, pattern: &str) -> Self {
        self.entries.push((pattern.to_owned(), None, Action::Keep));
        self
    }

    /// The rule for the parameter `field` (`weight`, `bias`, `gamma`, `beta`, ...) of every
    /// burn module of `kind`, at any depth inside it.
    pub fn module(mut self, kind: Kind, field: &str, init: impl Into<Init>) -> Self {
        let selector = Selector::Module { kind, field: field.to_owned() };
        self.entries.push((String::new(), Some(selector), Action::Init(init.into())));
        self
    }

    /// Takes the fans of parameters matching `pattern` from `layout` instead of their
    /// module's (for a `Linear` built with burn's column layout, `[out, in]`: [`Layout::Torch`]).
    pub fn layout(mut self, pattern: &str, layout: Layout) -> Self {
        self.layouts.push((pattern.to_owned(), layout));
        self
    }

    /// The groups of the grouped convolutions whose weights match `pattern`, for per-group
    /// fans.
    pub fn groups(mut self, pattern: &str, groups: usize) -> Self {
        self.groups.push((pattern.to_owned(), groups));
        self
    }

    /// Every stored tensor of `plan`, by name, with the plan's rule and geometry (a tied
    /// tensor takes its source's values). The plan's names must be the burn paths, and the
    /// shapes burn's: checked by [`init`](crate::init) ([`Error::PlanShape`],
    /// [`Error::PlanMissing`]). Rules added after this one apply to parameters the plan does
    /// not name.
    ///
    /// A fused tensor whose parts have rules of their own ([`PlannedTensor::has_part_rules`]:
    /// GPT-2's `c_attn` under `t-fixup` or `deepnorm`) is drawn part by part, each part from
    /// its stream `"{tensor}#{part}"`, exactly as [`PlannedTensor::fill_slice`] (and so
    /// `nninit materialize`) draws it.
    ///
    /// # Errors
    /// [`Error::PlanUnruled`] for a stored tensor without a rule.
    pub fn from_plan(plan: &Plan) -> Result<Self> {
        let mut rules = Self::new();
        for t in &plan.tensors {
            let source = match &t.tied_to {
                Some(s) => plan.get(s).ok_or_else(|| Error::PlanMissing { name: s.clone() })?,
                None => t,
            };
            let (init, parts) = match (source.init, source.has_part_rules()) {
                (Some(init), _) => (init, None),
                // Checked: every part has a rule; the first names the tensor's rule in errors.
                (None, true) => (source.parts[0].init.expect("has_part_rules"), Some(Box::new(source.clone()))),
                (None, false) => return Err(Error::PlanUnruled { name: source.name.clone() }),
            };
            rules.plan_order.push(t.name.clone());
            rules.plan.insert(
                t.name.clone(),
                Planned { spec: source.spec.clone(), init, stream: source.name.clone(), parts },
            );
        }
        Ok(rules)
    }

    /// The compiled form, patterns checked.
    pub(crate) fn compile(&self) -> Result<Compiled<'_>> {
        let entries = self
            .entries
            .iter()
            .map(|(pattern, selector, action)| match selector {
                Some(s) => Ok((s.clone(), action)),
                None => Ok((Selector::Path(Pattern::new(pattern)?), action)),
            })
            .collect::<Result<Vec<_>>>()?;
        let layouts = self.layouts.iter().map(|(p, l)| Ok((Pattern::new(p)?, l))).collect::<Result<Vec<_>>>()?;
        let groups = self.groups.iter().map(|(p, g)| Ok((Pattern::new(p)?, *g))).collect::<Result<Vec<_>>>()?;
        Ok(Compiled { rules: self, entries, layouts, groups })
    }
}

/// One parameter's fill: rule, geometry, stream name.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Fill {
    pub init: Init,
    pub spec: TensorSpec,
    pub stream: String,
    /// A fused plan tensor drawn part by part (its parts' rules and streams), instead of `init`.
    pub parts: Option<Box<PlannedTensor>>,
}

pub(crate) struct Compiled<'a> {
    rules: &'a Rules,
    entries: Vec<(Selector, &'a Action)>,
    layouts: Vec<(Pattern, &'a Layout)>,
    groups: Vec<(Pattern, usize)>,
}

impl Compiled<'_> {
    /// The fill of every parameter (`None`: keep it), checked against its rule, in visiting
    /// order; nothing is drawn.
    pub fn resolve(&self, records: &[Record]) -> Result<Vec<(String, Option<Fill>)>> {
        let by_path: HashMap<String, &Record> = records.iter().map(|r| (r.path(), r)).collect();
        for name in &self.rules.plan_order {
            if !by_path.contains_key(name) {
                return Err(Error::PlanMissing { name: name.clone() });
            }
        }
        records
            .iter()
            .map(|r| {
                let path = r.path();
                let fill = self.fill(r, &path, &by_path)?;
                Ok((path, fill))
            })
            .collect()
    }

    fn fill(&self, r: &Record, path: &str, by_path: &HashMap<String, &Record>) -> Result<Option<Fill>> {
        let refused = |init: &Init, source| Error::Refused {
            path: path.to_owned(),
            shape: r.shape.clone(),
            rule: init.name(),
            source: Box::new(source),
        };
        if let Some(p) = self.rules.plan.get(path) {
            if p.spec.shape().dims() != r.shape.as_slice() {
                return Err(Error::PlanShape {
                    path: path.to_owned(),
                    planned: p.spec.shape().dims().to_vec(),
                    found: r.shape.clone(),
                });
            }
            match &p.parts {
                Some(t) => {
                    for part in &t.parts {
                        if let Some(init) = &part.init {
                            init.check(&part.spec).map_err(|e| refused(init, e))?;
                        }
                    }
                }
                None => p.init.check(&p.spec).map_err(|e| refused(&p.init, e))?,
            }
            return Ok(Some(Fill {
                init: p.init,
                spec: p.spec.clone(),
                stream: p.stream.clone(),
                parts: p.parts.clone(),
            }));
        }
        let action = self
            .entries
            .iter()
            .find(|(s, _)| s.matches(r, path))
            .map(|(_, a)| *a)
            .ok_or_else(|| Error::NoRule { path: path.to_owned(), shape: r.shape.clone() })?;
        let init = match action {
            Action::Keep => return Ok(None),
            Action::Init(init) => *init,
        };
        let spec = self.spec(r, path, by_path).map_err(|e| refused(&init, e))?;
        nninit::io::check_write_elements(path, spec.numel())
            .map_err(|source| Error::Nninit { path: path.to_owned(), source: Box::new(source) })?;
        init.check(&spec).map_err(|e| refused(&init, e))?;
        Ok(Some(Fill { init, spec, stream: path.to_owned(), parts: None }))
    }

    /// The geometry of a parameter: its module's layout (or an override), groups, and for a
    /// rank-1 parameter the fans of the `weight` beside it.
    fn spec(&self, r: &Record, path: &str, by_path: &HashMap<String, &Record>) -> nninit::Result<TensorSpec> {
        let shape = Shape::new(r.shape.clone())?;
        let mut spec = TensorSpec::new(shape).with_layout(self.layout(r, path));
        if let Some((_, g)) = self.groups.iter().find(|(p, _)| p.matches(path)) {
            spec = spec.with_groups(*g);
        }
        if r.shape.len() < 2 && r.field() != "weight" {
            let parent = r.parent();
            let weight = if parent.is_empty() { "weight".to_owned() } else { format!("{parent}.weight") };
            if let Some(w) = by_path.get(&weight).filter(|w| w.shape.len() >= 2) {
                let wspec = self.spec(w, &weight, by_path)?;
                let fan: Fan = wspec.fan()?;
                spec = spec.with_fan(fan);
            }
        }
        Ok(spec)
    }

    fn layout(&self, r: &Record, path: &str) -> Layout {
        if let Some((_, l)) = self.layouts.iter().find(|(p, _)| p.matches(path)) {
            return (*l).clone();
        }
        // The innermost module the weight belongs to decides; MHA and recurrent cells hold
        // Linears, which the owner already is.
        r.owner().and_then(Kind::from_type_name).map_or(Layout::Torch, Kind::weight_layout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_runs_including_dots() {
        let m = |p: &str, t: &str| Pattern::new(p).unwrap().matches(t);
        assert!(m("*", "a.b.c"));
        assert!(m("*.bias", "encoder.0.bias"));
        assert!(!m("*.bias", "encoder.0.bias_hh"));
        assert!(m("encoder.*.weight", "encoder.3.linear.weight"));
        assert!(!m("encoder.*.weight", "decoder.3.weight"));
        assert!(m("head.weight", "head.weight"));
        assert!(!m("head.weight", "head.weight2"));
        assert!(m("a*b*c", "abbbc"));
        assert!(!m("a*b*c", "acb"));
        // A long pattern against a long text stays fast.
        let text = "a".repeat(10_000);
        assert!(!m(&format!("{}b", "*a".repeat(50)), &text));
    }

    #[test]
    fn bad_patterns_are_typed_errors() {
        for p in ["", "a..b", ".a", "a.", "a b"] {
            assert!(matches!(Pattern::new(p), Err(Error::BadPattern { .. })), "{p:?}");
        }
    }
}
