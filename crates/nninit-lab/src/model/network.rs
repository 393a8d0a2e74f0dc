//! The networks as burn modules: built from a [`ModelSpec`], initialized through nninit-burn or
//! loaded from host weights, and run forward with every hidden layer's trace.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation as act;
use burn::tensor::{Device, Tensor, TensorData};
use nninit::activation::Activation;

use super::{Bias, LAYERS_PER_BRANCH, LayerRole, ModelSpec, Residual};
use crate::error::{LabError, Result};
use crate::record::ModelKind;

/// Applies `activation` to a tensor.
pub fn activate<const D: usize>(activation: Activation, x: Tensor<D>) -> Tensor<D> {
    match activation {
        Activation::Sigmoid => act::sigmoid(x),
        Activation::Tanh => act::tanh(x),
        Activation::Relu => act::relu(x),
        Activation::LeakyRelu { negative_slope, .. } => act::leaky_relu(x, negative_slope),
        Activation::Elu { alpha, .. } => act::elu(x, alpha),
        Activation::Selu => act::selu(x),
        Activation::Gelu => act::gelu(x),
        Activation::GeluTanh => gelu_tanh(x),
        Activation::Silu => act::silu(x),
        Activation::Mish => act::mish(x),
        Activation::Softplus { beta, .. } => act::softplus(x, beta),
        Activation::Hardtanh { min_val, max_val, .. } => act::hardtanh(x, min_val, max_val),
        Activation::Sin => x.sin(),
        // Linear, and anything `ModelSpec::validate` let through.
        _ => x,
    }
}

/// The tanh-approximate GELU, `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` (PyTorch
/// `nn.GELU(approximate="tanh")`, transformers' `gelu_new`), computed as the equal
/// `x·σ(2·√(2/π)·x·(1 + 0.044715·x²))` since `(1 + tanh u)/2 = σ(2u)`.
///
/// burn's `gelu_approximate` computes the same function as the tanh form with `x³` as a power:
/// on the flex backend both the power and the tanh are scalar library calls per element, and
/// they took a quarter of a char-GPT training step (`scripts/bench-lab.py --workload gpt-step`).
/// Here `x³` is two multiplications and the tanh is burn's sigmoid, whose backward reads its
/// output.
pub fn gelu_tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    const SQRT_2_OVER_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI * std::f64::consts::FRAC_1_SQRT_2;
    const CUBIC: f64 = 0.044715;
    let inner =
        x.clone().square().mul_scalar(2.0 * SQRT_2_OVER_PI * CUBIC).add_scalar(2.0 * SQRT_2_OVER_PI) * x.clone();
    x * act::sigmoid(inner)
}

/// One layer's initial values on the host, in burn's layout.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerWeights {
    /// The weight, row-major in [`LayerShape::weight_dims`](super::LayerShape::weight_dims).
    pub weight: Vec<f32>,
    /// The bias, when the model has biases.
    pub bias: Option<Vec<f32>>,
}

/// A network as burn modules. Initialize it with [`Network::init`] (nninit-burn, by parameter
/// path), or load host weights with [`Network::new`].
///
/// The field names are the layer names of [`ModelSpec::layers`], so a parameter's burn path
/// (`hidden.3.weight`, `conv.0.bias`, `head.weight`) is the name its nninit stream is keyed by.
#[derive(Module, Debug)]
pub struct Network {
    /// The MLP's hidden layers (empty for a CNN).
    pub hidden: Vec<Linear>,
    /// The CNN's convolutions (empty for an MLP).
    pub conv: Vec<Conv2d>,
    /// What each residual block of the two-layer forms holds besides its two layers (which
    /// are `hidden.{2i+1}`, `hidden.{2i+2}`); empty for the other forms.
    pub block: Vec<Block>,
    /// The classifier.
    pub head: Linear,
}

/// The parameters of one two-layer residual block besides its layers, by block form
/// ([`Residual`]): paths `block.<i>.multiplier`, `block.<i>.bias1a`, `block.<i>.norm1.gamma`, ...
#[derive(Module, Debug)]
pub struct Block {
    /// The scalar at the end of the branch (SkipInit's and ReZero's α, Fixup's `scale`).
    pub multiplier: Option<Param<Tensor<1>>>,
    /// Fixup's scalar bias before the first layer.
    pub bias1a: Option<Param<Tensor<1>>>,
    /// Fixup's scalar bias before the activation.
    pub bias1b: Option<Param<Tensor<1>>>,
    /// Fixup's scalar bias before the second layer.
    pub bias2a: Option<Param<Tensor<1>>>,
    /// Fixup's scalar bias after the multiplier.
    pub bias2b: Option<Param<Tensor<1>>>,
    /// BatchNorm after the first layer.
    pub norm1: Option<BatchNorm>,
    /// BatchNorm after the second layer.
    pub norm2: Option<BatchNorm>,
}

impl Block {
    /// The block's extra parameters for `form` on `device`, lazily zero until
    /// [`nninit_burn::init`] gives them their scheme's values.
    fn build(form: Residual, width: usize, device: &Device) -> Self {
        let scalar = |on: bool| on.then(|| Initializer::Zeros.init([1], device));
        let norm = || (form == Residual::BatchNorm).then(|| BatchNormConfig::new(width).init(device));
        let fixup = form == Residual::Fixup;
        Self {
            multiplier: scalar(form.has_multiplier()),
            bias1a: scalar(fixup),
            bias1b: scalar(fixup),
            bias2a: scalar(fixup),
            bias2b: scalar(fixup),
            norm1: norm(),
            norm2: norm(),
        }
    }
}

/// `x + p` for an optional scalar parameter `p` (broadcast over the batch and units).
fn shift(x: Tensor<2>, p: &Option<Param<Tensor<1>>>) -> Tensor<2> {
    match p {
        Some(p) => x + p.val().unsqueeze::<2>(),
        None => x,
    }
}

/// A hidden activation: flat for the MLP, an image for the CNN.
#[derive(Clone, Debug)]
pub enum Hidden {
    /// `[batch, units]`.
    Flat(Tensor<2>),
    /// `[batch, channels, height, width]`.
    Image(Tensor<4>),
}

/// A hidden tensor copied to the host, with the axes statistics need.
#[derive(Clone, Debug, PartialEq)]
pub struct HostHidden {
    /// Values in `[batch, units, spatial]` order.
    pub values: Vec<f32>,
    /// Examples in the batch.
    pub batch: usize,
    /// Units (MLP) or channels (CNN).
    pub units: usize,
    /// Spatial positions per channel (1 for the MLP).
    pub spatial: usize,
}

impl Hidden {
    /// Copies the values to the host.
    pub fn to_host(&self) -> HostHidden {
        match self {
            Self::Flat(t) => {
                let [batch, units] = t.dims();
                HostHidden { values: host(t.to_data()), batch, units, spatial: 1 }
            }
            Self::Image(t) => {
                let [batch, units, h, w] = t.dims();
                HostHidden { values: host(t.to_data()), batch, units, spatial: h * w }
            }
        }
    }

    /// A zero tensor of the same shape that requires a gradient: added to a pre-activation,
    /// its gradient is the loss gradient with respect to that pre-activation.
    pub fn zeros_tracked(&self) -> Self {
        match self {
            Self::Flat(t) => Self::Flat(Tensor::zeros(t.dims(), &t.device()).require_grad()),
            Self::Image(t) => Self::Image(Tensor::zeros(t.dims(), &t.device()).require_grad()),
        }
    }

    /// The gradient of this (tracked) tensor in `grads`, on the host.
    pub fn grad_host(&self, grads: &burn::tensor::Gradients) -> Option<HostHidden> {
        match self {
            Self::Flat(t) => t.grad(grads).map(Hidden::Flat).map(|g| g.to_host()),
            Self::Image(t) => t.grad(grads).map(Hidden::Image).map(|g| g.to_host()),
        }
    }

    fn add(self, other: &Self) -> Self {
        match (self, other) {
            (Self::Flat(a), Self::Flat(b)) => Self::Flat(a + b.clone()),
            (Self::Image(a), Self::Image(b)) => Self::Image(a + b.clone()),
            (a, _) => a,
        }
    }
}

/// Converts tensor data to `Vec<f32>` whatever its float type.
pub fn host(data: TensorData) -> Vec<f32> {
    data.convert::<f32>().try_into_vec::<f32>().unwrap_or_default()
}

/// What one forward pass returns.
#[derive(Debug)]
pub struct Forward {
    /// `[batch, classes]` logits.
    pub logits: Tensor<2>,
    /// Each hidden layer's pre-activation (the layer's output before φ).
    pub preacts: Vec<Hidden>,
    /// Each hidden layer's post-activation output.
    pub acts: Vec<Hidden>,
}

impl Network {
    /// The network's modules on `device` with burn's lazy parameters: nothing is drawn or
    /// allocated until [`nninit_burn::init`] (or a load) gives them values.
    ///
    /// # Errors
    /// As [`ModelSpec::validate`].
    pub fn build(spec: &ModelSpec, device: &Device) -> Result<Self> {
        let with_bias = spec.bias == Bias::On;
        let mut hidden = Vec::new();
        let mut conv = Vec::new();
        let mut head = None;
        for shape in spec.layers()? {
            match *shape.weight_dims.as_slice() {
                [d_in, d_out] => {
                    let linear = LinearConfig::new(d_in, d_out).with_bias(with_bias).init(device);
                    match shape.role {
                        LayerRole::Hidden | LayerRole::Branch { .. } => hidden.push(linear),
                        LayerRole::Head => head = Some(linear),
                    }
                }
                [c_out, c_in, kh, kw] => {
                    let stride = if conv.is_empty() { spec.first_stride() } else { 1 };
                    conv.push(
                        Conv2dConfig::new([c_in, c_out], [kh, kw])
                            .with_stride([stride, stride])
                            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                            .with_bias(with_bias)
                            .init(device),
                    );
                }
                _ => return Err(LabError::Model { reason: format!("layer {}: unexpected rank", shape.name) }),
            }
        }
        let head = head.ok_or_else(|| LabError::Model { reason: "no head layer".into() })?;
        let block = (0..spec.blocks()).map(|_| Block::build(spec.residual, spec.width, device)).collect();
        Ok(Self { hidden, conv, block, head })
    }

    /// Builds the network on `device` and initializes every parameter under `method`'s
    /// data-free rule with nninit-burn: each from nninit's stream of (`seed`, its burn path),
    /// so the values are the same on every backend and device.
    ///
    /// # Errors
    /// As [`ModelSpec::validate`]; the rule's own errors (for example a rule that refuses a
    /// layer's shape).
    pub fn init(spec: &ModelSpec, method: &crate::rules::InitMethod, seed: u64, device: &Device) -> Result<Self> {
        let rules = crate::rules::rules(spec, method)?;
        Ok(nninit_burn::init(Self::build(spec, device)?, &rules, seed)?)
    }

    /// Builds the network on `device` with the given host values (for example weights a
    /// data-dependent init adjusted); a missing bias is zeros. BatchNorm starts at burn's γ = 1,
    /// β = 0.
    ///
    /// # Errors
    /// [`LabError::Model`] when the spec is invalid or the weights do not match it, and for the
    /// block forms with learned scalars ([`Residual::Scaled`], [`Residual::Fixup`]), whose
    /// scalars host weights do not carry (build those with [`Network::init`]).
    pub fn new(spec: &ModelSpec, weights: &[LayerWeights], device: &Device) -> Result<Self> {
        if spec.residual.has_multiplier() {
            return Err(LabError::Model {
                reason: format!(
                    "residual = \"{}\" has learned scalars that host weights do not carry; initialize it by rule",
                    spec.residual.name()
                ),
            });
        }
        let shapes = spec.layers()?;
        if shapes.len() != weights.len() {
            return Err(LabError::Model {
                reason: format!("{} layers of weights for {} layers", weights.len(), shapes.len()),
            });
        }
        for (shape, w) in shapes.iter().zip(weights) {
            let numel: usize = shape.weight_dims.iter().product();
            if w.weight.len() != numel || w.bias.as_ref().is_some_and(|b| b.len() != shape.units) {
                return Err(LabError::Model { reason: format!("layer {}: weights of the wrong size", shape.name) });
            }
        }
        let mut net = Self::build(spec, device)?;
        let bias = |b: &mut Option<Param<Tensor<1>>>, w: &LayerWeights, units: usize| {
            if b.is_some() {
                let values = w.bias.clone().unwrap_or_else(|| vec![0.0; units]);
                *b = Some(Param::from_tensor(Tensor::<1>::from_data(TensorData::new(values, [units]), device)));
            }
        };
        let mut layers = weights.iter().zip(&shapes);
        for l in &mut net.hidden {
            let (w, shape) = layers.next().ok_or_else(|| LabError::Model { reason: "too few layers".into() })?;
            l.weight =
                Param::from_tensor(Tensor::from_data(TensorData::new(w.weight.clone(), l.weight.lazy_shape()), device));
            bias(&mut l.bias, w, shape.units);
        }
        for c in &mut net.conv {
            let (w, shape) = layers.next().ok_or_else(|| LabError::Model { reason: "too few layers".into() })?;
            c.weight =
                Param::from_tensor(Tensor::from_data(TensorData::new(w.weight.clone(), c.weight.lazy_shape()), device));
            bias(&mut c.bias, w, shape.units);
        }
        let (w, shape) = layers.next().ok_or_else(|| LabError::Model { reason: "too few layers".into() })?;
        net.head.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(w.weight.clone(), net.head.weight.lazy_shape()),
            device,
        ));
        bias(&mut net.head.bias, w, shape.units);
        Ok(net)
    }

    /// The current values of every layer, in [`ModelSpec::layers`] order.
    pub fn weights(&self) -> Vec<LayerWeights> {
        let bias = |b: &Option<Param<Tensor<1>>>| b.as_ref().map(|b| host(b.val().to_data()));
        let mut out: Vec<LayerWeights> = self
            .hidden
            .iter()
            .map(|l| LayerWeights { weight: host(l.weight.val().to_data()), bias: bias(&l.bias) })
            .collect();
        out.extend(
            self.conv.iter().map(|c| LayerWeights { weight: host(c.weight.val().to_data()), bias: bias(&c.bias) }),
        );
        out.push(LayerWeights { weight: host(self.head.weight.val().to_data()), bias: bias(&self.head.bias) });
        out
    }

    /// The input tensor for a batch of flattened examples.
    pub fn input(spec: &ModelSpec, x: Vec<f32>, batch: usize, device: &Device) -> Hidden {
        match spec.kind {
            ModelKind::Mlp => Hidden::Flat(Tensor::from_data(TensorData::new(x, [batch, spec.features]), device)),
            ModelKind::Cnn => {
                Hidden::Image(Tensor::from_data(TensorData::new(x, [batch, 1, spec.image.0, spec.image.1]), device))
            }
        }
    }

    /// Runs the network. With `probes` (one tracked zero tensor per hidden layer, see
    /// [`Hidden::zeros_tracked`]), each is added to its layer's pre-activation so that the
    /// backward pass yields the gradient with respect to every pre-activation.
    pub fn forward(&self, spec: &ModelSpec, x: Hidden, probes: Option<&[Hidden]>) -> Forward {
        self.forward_upto(spec, x, probes, usize::MAX)
    }

    /// Like [`forward`](Self::forward), but stops after `layers` hidden layers; `logits` is then
    /// the last computed hidden output, flattened (data-dependent inits only read the traces).
    pub fn forward_upto(&self, spec: &ModelSpec, x: Hidden, probes: Option<&[Hidden]>, layers: usize) -> Forward {
        let mut preacts = Vec::new();
        let mut acts = Vec::new();
        let hidden_layers = self.hidden.len() + self.conv.len();
        let h = match x {
            Hidden::Flat(x) if spec.residual.has_branches() => {
                Hidden::Flat(self.blocks_upto(spec, x, probes, layers, &mut preacts, &mut acts))
            }
            x => self.stack_upto(spec, x, probes, layers, &mut preacts, &mut acts),
        };
        let features = match h {
            Hidden::Flat(t) => t,
            Hidden::Image(t) => {
                let [b, c, _, _] = t.dims();
                t.mean_dim(3).mean_dim(2).reshape([b, c])
            }
        };
        let logits = if layers >= hidden_layers { self.head.forward(features) } else { features };
        Forward { logits, preacts, acts }
    }

    /// The plain stack and the one-layer residual form (`Residual::Off`, `Residual::On`), MLP
    /// or CNN: each layer's pre-activation and φ of it; returns the last hidden output.
    fn stack_upto(
        &self,
        spec: &ModelSpec,
        x: Hidden,
        probes: Option<&[Hidden]>,
        layers: usize,
        preacts: &mut Vec<Hidden>,
        acts: &mut Vec<Hidden>,
    ) -> Hidden {
        let mut h = x;
        let hidden_layers = self.hidden.len() + self.conv.len();
        for l in 0..hidden_layers.min(layers) {
            let mut z = match &h {
                Hidden::Flat(t) => Hidden::Flat(self.hidden[l].forward(t.clone())),
                Hidden::Image(t) => Hidden::Image(self.conv[l].forward(t.clone())),
            };
            if let Some(p) = probes.and_then(|p| p.get(l)) {
                z = z.add(p);
            }
            let a = match &z {
                Hidden::Flat(t) => Hidden::Flat(activate(spec.activation, t.clone())),
                Hidden::Image(t) => Hidden::Image(activate(spec.activation, t.clone())),
            };
            let out = if spec.residual == Residual::On && l > 0 { a.clone().add(&h) } else { a.clone() };
            preacts.push(z);
            acts.push(a);
            h = out;
        }
        h
    }

    /// The two-layer block forms (MLP): the stem, then per block `h ← h + m·F(h)`. A branch's
    /// first layer traces the input of φ (after its BatchNorm or Fixup bias) and φ of it; its
    /// last layer traces the residual stream after the addition (both traces, and the probe's
    /// gradient there), so the probe follows the stream block by block, and its gradient,
    /// which a zero multiplier does not silence as it does the branch's own.
    fn blocks_upto(
        &self,
        spec: &ModelSpec,
        x: Tensor<2>,
        probes: Option<&[Hidden]>,
        layers: usize,
        preacts: &mut Vec<Hidden>,
        acts: &mut Vec<Hidden>,
    ) -> Tensor<2> {
        let probe = |l: usize, z: Tensor<2>| match probes.and_then(|p| p.get(l)) {
            Some(Hidden::Flat(p)) => z + p.clone(),
            _ => z,
        };
        let norm = |n: &Option<BatchNorm>, z: Tensor<2>| match n {
            Some(n) => n.forward(z),
            None => z,
        };
        let upto = self.hidden.len().min(layers);
        if upto == 0 {
            return x;
        }
        let z = probe(0, self.hidden[0].forward(x));
        let mut h = activate(spec.activation, z.clone());
        preacts.push(Hidden::Flat(z));
        acts.push(Hidden::Flat(h.clone()));
        for (i, b) in self.block.iter().enumerate() {
            let (first, last) = (LAYERS_PER_BRANCH * i + 1, LAYERS_PER_BRANCH * i + 2);
            if first >= upto {
                break;
            }
            let z1 = norm(&b.norm1, self.hidden[first].forward(shift(h.clone(), &b.bias1a)));
            let z1 = probe(first, shift(z1, &b.bias1b));
            let a1 = activate(spec.activation, z1.clone());
            preacts.push(Hidden::Flat(z1));
            acts.push(Hidden::Flat(a1.clone()));
            if last >= upto {
                return a1;
            }
            let z2 = norm(&b.norm2, self.hidden[last].forward(shift(a1, &b.bias2a)));
            let branch = match &b.multiplier {
                Some(m) => z2 * m.val().unsqueeze::<2>(),
                None => z2,
            };
            h = probe(last, h + shift(branch, &b.bias2b));
            preacts.push(Hidden::Flat(h.clone()));
            acts.push(Hidden::Flat(h.clone()));
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{InitMethod, initial_weights};
    use nninit::Init;

    #[test]
    fn gelu_tanh_is_the_tanh_form_and_its_gradient() {
        // Against the tanh form in f64 (burn's `gelu_approximate` is that form in f32), and its
        // derivative, over [-8, 8] where both the left tail (≈ 0) and the right (≈ x) are in.
        let xs: Vec<f32> = (0..=1600).map(|i| -8.0 + i as f32 * 0.01).collect();
        let device = Device::flex().autodiff();
        let x = Tensor::<1>::from_data(TensorData::new(xs.clone(), [xs.len()]), &device).require_grad();
        let y = gelu_tanh(x.clone());
        let grads = y.clone().sum().backward();
        let got = host(y.to_data());
        let slope = host(x.grad(&grads).unwrap().to_data());
        let c = (2.0 / std::f64::consts::PI).sqrt();
        for (i, &x) in xs.iter().enumerate() {
            let x = f64::from(x);
            let u = c * (x + 0.044715 * x.powi(3));
            let want = 0.5 * x * (1.0 + u.tanh());
            let du = c * (1.0 + 3.0 * 0.044715 * x * x);
            let want_slope = 0.5 * (1.0 + u.tanh()) + 0.5 * x * (1.0 - u.tanh().powi(2)) * du;
            // f32 arithmetic: a few ulps of the larger of |x| and the value.
            let tol = 4.0 * f64::from(f32::EPSILON) * x.abs().max(1.0);
            assert!((f64::from(got[i]) - want).abs() <= tol, "x = {x}: {} vs {want}", got[i]);
            assert!((f64::from(slope[i]) - want_slope).abs() <= tol, "x = {x}: slope {} vs {want_slope}", slope[i]);
        }
        // The exact GELU differs from the tanh form by up to ~5e-4 near |x| = 2: the test sees it.
        let exact = host(
            burn::tensor::activation::gelu(Tensor::<1>::from_data(TensorData::new(xs.clone(), [xs.len()]), &device))
                .to_data(),
        );
        assert!(exact.iter().zip(&got).any(|(a, b)| (a - b).abs() > 1e-4));
    }

    fn mlp(depth: usize, width: usize, activation: Activation) -> ModelSpec {
        ModelSpec::digits_mlp(depth, width, activation)
    }

    fn he() -> InitMethod {
        InitMethod::Rule {
            weight: Init::from(nninit::init::VarianceScaling::he_normal()),
            bias: crate::rules::BiasRule::Zero,
        }
    }

    #[test]
    fn mlp_and_cnn_forward_have_the_right_shapes() {
        let device = Device::flex();
        for kind in [ModelKind::Mlp, ModelKind::Cnn] {
            let spec = ModelSpec { kind, ..mlp(3, 8, Activation::Relu) };
            let net = Network::new(&spec, &initial_weights(&spec, &he(), 0).unwrap(), &device).unwrap();
            let fwd = net.forward(&spec, Network::input(&spec, vec![0.5; 5 * 64], 5, &device), None);
            assert_eq!(fwd.logits.dims(), [5, 10]);
            assert_eq!(fwd.preacts.len(), 3);
            let h = fwd.acts[2].to_host();
            assert_eq!((h.batch, h.units), (5, 8));
            assert_eq!(h.spatial, if kind == ModelKind::Cnn { 64 } else { 1 });
        }
    }

    #[test]
    fn weights_round_trip_through_burn() {
        let spec = mlp(2, 4, Activation::Tanh);
        let weights = initial_weights(&spec, &he(), 3).unwrap();
        let net = Network::new(&spec, &weights, &Device::flex()).unwrap();
        assert_eq!(net.weights(), weights);
    }

    #[test]
    fn init_on_a_training_device_gives_the_host_weights() {
        // The runner initializes on the training device (autodiff) directly; the CLI's probe and
        // the data-dependent inits go through the host weights. Both are the same network.
        for kind in [ModelKind::Mlp, ModelKind::Cnn] {
            let spec = ModelSpec { kind, ..mlp(2, 4, Activation::Tanh) };
            let net = Network::init(&spec, &he(), 9, &Device::flex().autodiff()).unwrap();
            assert_eq!(net.weights(), initial_weights(&spec, &he(), 9).unwrap());
            assert!(net.head.weight.val().is_require_grad());
        }
    }

    #[test]
    fn invalid_models_are_errors() {
        let out_of_range = [
            (ModelSpec { width: 0, ..mlp(2, 4, Activation::Relu) }, "width"),
            (ModelSpec { depth: 0, ..mlp(2, 4, Activation::Relu) }, "depth"),
            (ModelSpec { depth: 100_000_000, width: 100_000_000, ..mlp(2, 4, Activation::Relu) }, "depth"),
            (ModelSpec { width: 100_000_000, ..mlp(2, 4, Activation::Relu) }, "width"),
            // 1000 layers of 8192² weights: each size is in range, the network is not.
            (ModelSpec { depth: 1000, width: 8192, ..mlp(2, 4, Activation::Relu) }, "parameters"),
        ];
        for (spec, what) in out_of_range {
            match spec.validate() {
                Err(LabError::OutOfRange { name, .. }) => assert_eq!(name, what, "{spec:?}"),
                other => panic!("{spec:?}: {other:?}"),
            }
        }
        let cases = [
            ModelSpec { kind: ModelKind::Cnn, residual: Residual::On, ..mlp(2, 4, Activation::Relu) },
            ModelSpec { kind: ModelKind::Cnn, image: (7, 7), ..mlp(2, 4, Activation::Relu) },
        ];
        for spec in cases {
            assert!(matches!(spec.validate(), Err(LabError::Model { .. })), "{spec:?}");
        }
        let spec = mlp(2, 4, Activation::Relu);
        let mut weights = initial_weights(&spec, &he(), 0).unwrap();
        weights[1].weight.pop();
        assert!(matches!(Network::new(&spec, &weights, &Device::flex()), Err(LabError::Model { .. })));
    }

    #[test]
    fn residual_blocks_add_their_input() {
        let device = Device::flex();
        let spec = ModelSpec { residual: Residual::On, ..mlp(3, 4, Activation::Relu) };
        let mut weights = initial_weights(&spec, &he(), 0).unwrap();
        // Zero the second and third layers: each residual block is then the identity.
        for w in &mut weights[1..3] {
            w.weight.iter_mut().for_each(|v| *v = 0.0);
        }
        let net = Network::new(&spec, &weights, &device).unwrap();
        let fwd = net.forward(&spec, Network::input(&spec, vec![0.25; 64], 1, &device), None);
        let first = fwd.acts[0].to_host().values;
        let zeros = fwd.acts[2].to_host().values;
        assert!(zeros.iter().all(|&v| v == 0.0));
        // Logits = head(h1) since h3 = h2 = h1.
        let direct = net.head.forward(Tensor::<2>::from_data(TensorData::new(first, [1, 4]), &device));
        assert_eq!(host(fwd.logits.to_data()), host(direct.to_data()));
    }

    fn blocks(residual: Residual, depth: usize, width: usize) -> ModelSpec {
        ModelSpec { residual, bias: Bias::Off, ..mlp(depth, width, Activation::Relu) }
    }

    fn scheme(s: nninit::scheme::residual::ResidualScheme) -> InitMethod {
        InitMethod::Residual(s)
    }

    /// A batch of `n` digits-sized examples with varied values.
    fn batch(spec: &ModelSpec, n: usize, device: &Device) -> Hidden {
        let x = (0..n * spec.features).map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0).collect();
        Network::input(spec, x, n, device)
    }

    /// The network's stem alone, `relu(hidden.0(x))`, through the head: the path of the skip
    /// connections when every branch contributes nothing.
    fn skip_path(net: &Network, spec: &ModelSpec, x: &Hidden) -> Vec<f32> {
        let Hidden::Flat(x) = x.clone() else { panic!("flat input") };
        let stem = activate(spec.activation, net.hidden[0].forward(x));
        host(net.head.forward(stem).to_data())
    }

    #[test]
    fn every_block_form_has_the_right_shapes_and_parameter_count() {
        use nninit::scheme::residual::ResidualScheme;
        let device = Device::flex().autodiff();
        let forms = [
            (Residual::Plain, he()),
            (Residual::Scaled, scheme(ResidualScheme::SkipInit)),
            (Residual::Fixup, scheme(ResidualScheme::Fixup)),
            (Residual::BatchNorm, he()),
        ];
        for (form, method) in forms {
            let spec = blocks(form, 3, 8);
            assert_eq!(spec.hidden_layers(), 7);
            let net = Network::init(&spec, &method, 0, &device).unwrap();
            let fwd = net.forward(&spec, batch(&spec, 5, &device), None);
            assert_eq!(fwd.logits.dims(), [5, 10], "{form:?}");
            assert_eq!((fwd.preacts.len(), fwd.acts.len()), (7, 7), "{form:?}");
            assert!(fwd.acts.iter().all(|a| a.to_host().units == 8));
            assert_eq!(net.block.len(), 3);
            let counted = burn::module::Module::num_params(&net) as u128;
            // burn counts BatchNorm's running mean and variance too; they are state, not learned.
            let running = if form == Residual::BatchNorm { 2 * 2 * 3 * 8 } else { 0 };
            assert_eq!(counted, spec.parameters() + running, "{form:?}");
        }
        // The forms keep the old one-layer form's meaning of depth.
        assert_eq!(ModelSpec { residual: Residual::On, ..mlp(3, 8, Activation::Relu) }.hidden_layers(), 3);
    }

    #[test]
    fn skipinit_and_rezero_networks_start_as_their_skip_path() {
        use nninit::scheme::residual::ResidualScheme;
        let device = Device::flex();
        for s in [ResidualScheme::SkipInit, ResidualScheme::ReZero] {
            let spec = blocks(Residual::Scaled, 4, 16);
            let net = Network::init(&spec, &scheme(s), 3, &device).unwrap();
            assert!(net.block.iter().all(|b| host(b.multiplier.as_ref().unwrap().val().to_data()) == [0.0]));
            // The branches are not zero: only α silences them.
            assert!(host(net.hidden[2].weight.val().to_data()).iter().any(|&v| v != 0.0));
            let x = batch(&spec, 6, &device);
            let fwd = net.forward(&spec, x.clone(), None);
            assert_eq!(host(fwd.logits.to_data()), skip_path(&net, &spec, &x), "{s:?}");
            // With α = 1 the same weights give another function.
            let plain = blocks(Residual::Plain, 4, 16);
            let unscaled = Network::new(&plain, &net.weights(), &device).unwrap();
            let other = unscaled.forward(&plain, x.clone(), None);
            assert_ne!(host(other.logits.to_data()), skip_path(&net, &spec, &x), "{s:?}");
        }
    }

    #[test]
    fn fixup_zeroes_last_layers_and_head_and_scales_the_first() {
        use nninit::scheme::residual::ResidualScheme;
        let device = Device::flex();
        let spec = blocks(Residual::Fixup, 16, 256);
        let net = Network::init(&spec, &scheme(ResidualScheme::Fixup), 1, &device).unwrap();
        let w = net.weights();
        for b in 0..16 {
            assert!(w[2 * b + 2].weight.iter().all(|&v| v == 0.0), "block {b}'s last layer");
            // He fan_out on 256 × 256, × 16^(-1/2): std √(2/256)/4; 65,536 values, 5 SE = 1.4 %.
            let (_, std) = crate::probe::mean_std(&w[2 * b + 1].weight);
            let expected = (2.0f64 / 256.0).sqrt() / 4.0;
            assert!((std / expected - 1.0).abs() < 0.014, "block {b}: {std} vs {expected}");
        }
        assert!(w[16 * 2 + 1].weight.iter().all(|&v| v == 0.0), "the classifier");
        for b in &net.block {
            assert_eq!(host(b.multiplier.as_ref().unwrap().val().to_data()), [1.0]);
            for p in [&b.bias1a, &b.bias1b, &b.bias2a, &b.bias2b] {
                assert_eq!(host(p.as_ref().unwrap().val().to_data()), [0.0]);
            }
        }
        // Every branch adds zero, so the stream after the last block is the stem's output.
        let x = batch(&spec, 4, &device);
        let fwd = net.forward(&spec, x, None);
        assert_eq!(fwd.acts[32].to_host().values, fwd.acts[0].to_host().values);
        assert!(host(fwd.logits.to_data()).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn he_on_plain_blocks_triples_the_streams_second_moment_per_block() {
        // relu(W₁h) with He has E[a²] = E[h²]; W₂a with He has 2·E[h²]; the sum 3·E[h²].
        let device = Device::flex();
        let spec = blocks(Residual::Plain, 6, 512);
        let net = Network::init(&spec, &he(), 5, &device).unwrap();
        let fwd = net.forward(&spec, batch(&spec, 64, &device), None);
        let moment = |l: usize| {
            let v = fwd.acts[l].to_host().values;
            v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / v.len() as f64
        };
        let per_block = (moment(12) / moment(0)).powf(1.0 / 6.0);
        assert!((per_block - 3.0).abs() < 0.3, "{per_block}");
        // The BatchNorm reference does not grow like that: each branch adds a unit-variance term.
        let bn = blocks(Residual::BatchNorm, 6, 512);
        let net = Network::init(&bn, &he(), 5, &Device::flex().autodiff()).unwrap();
        let fwd = net.forward(&bn, batch(&bn, 64, &Device::flex().autodiff()), None);
        let last = fwd.acts[12].to_host().values;
        let m = last.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / last.len() as f64;
        assert!(m < 3.0 * 6.0, "{m}");
    }

    #[test]
    fn inits_that_do_not_fit_the_block_form_are_typed_errors() {
        use nninit::scheme::residual::ResidualScheme;
        let lsuv = InitMethod::DataDependent(crate::rules::DataDependent::Lsuv { tolerance: 0.1, max_iterations: 10 });
        let cases = [
            (mlp(3, 8, Activation::Relu), scheme(ResidualScheme::Fixup), "fixup", "off", "\"fixup\""),
            (blocks(Residual::Scaled, 3, 8), scheme(ResidualScheme::Fixup), "fixup", "scaled", "\"fixup\""),
            (blocks(Residual::Fixup, 3, 8), scheme(ResidualScheme::SkipInit), "skipinit", "fixup", "\"scaled\""),
            (blocks(Residual::BatchNorm, 3, 8), scheme(ResidualScheme::ReZero), "rezero", "batch-norm", "\"scaled\""),
            (blocks(Residual::Plain, 3, 8), lsuv, "lsuv", "plain", "\"off\" or \"on\""),
        ];
        for (spec, method, init_name, form, wanted) in cases {
            match Network::init(&spec, &method, 0, &Device::flex()) {
                Err(LabError::InitForModel { init, residual, needs }) => {
                    assert_eq!((init.as_str(), residual, needs.as_str()), (init_name, form, wanted));
                }
                other => panic!("{init_name} on {form}: {other:?}"),
            }
        }
        // Host weights do not carry the multipliers, so a Scaled network is refused there.
        let spec = blocks(Residual::Scaled, 2, 4);
        let w = initial_weights(&spec, &he(), 0).unwrap();
        assert!(matches!(Network::new(&spec, &w, &Device::flex()), Err(LabError::Model { .. })));
        for form in [Residual::Plain, Residual::Scaled, Residual::Fixup, Residual::BatchNorm] {
            let cnn = ModelSpec { kind: ModelKind::Cnn, ..blocks(form, 2, 4) };
            assert!(matches!(cnn.validate(), Err(LabError::Model { .. })), "{form:?}");
        }
    }

    #[test]
    fn a_tiny_experiment_of_every_block_form_runs_to_the_end() {
        let src = crate::experiment::BUILT_IN
            .iter()
            .find(|(n, _)| *n == "resnet-depth")
            .unwrap()
            .1
            .replace("dataset = \"mnist\"", "dataset = \"digits\"")
            .replace("depth = [16, 64, 128]", "depth = [2, 3]")
            .replace("width = 32", "width = 8");
        let exp = crate::experiment::Experiment::parse(&src, "tiny-resnet-depth").unwrap();
        assert_eq!(exp.configs.len(), 10);
        let opts =
            crate::experiment::RunOptions { seeds: Some(1), steps: Some(4), jobs: Some(1), ..Default::default() };
        let results = crate::experiment::run(&exp, &opts, &|_| ()).unwrap();
        assert_eq!(results.runs.len(), 10);
        for r in &results.runs {
            assert_eq!(r.steps.len(), 4, "{}", r.config.label);
            assert_eq!(r.probe.as_ref().unwrap().layers.len(), 2 * r.config.depth + 1, "{}", r.config.label);
        }
        let labels: Vec<&str> = results.runs.iter().map(|r| r.config.label.as_str()).collect();
        assert!(labels.contains(&"relu-d3/Fixup [fixup block]"), "{labels:?}");
        assert!(labels.contains(&"relu-d2/He + BatchNorm [batch-norm block]"), "{labels:?}");
    }

    #[test]
    fn the_probe_sees_he_explode_and_skipinit_start_level() {
        use crate::record::SignalKind;
        use nninit::scheme::residual::ResidualScheme;
        let device = Device::flex().autodiff();
        let spec = blocks(Residual::Plain, 16, 32);
        let x: Vec<f32> = (0..32 * 64).map(|i| (i * 37 % 17) as f32 / 16.0).collect();
        let y: Vec<u8> = (0..32).map(|i| (i % 10) as u8).collect();
        let probe = |spec: &ModelSpec, method: &InitMethod| {
            let net = Network::init(spec, method, 0, &device).unwrap();
            crate::probe::probe(spec, &net, &x, &y, crate::loss::LossKind::CrossEntropy, &device).unwrap()
        };
        let he = probe(&spec, &he());
        assert_eq!(he.verdict.kind, SignalKind::Exploding, "{}", he.verdict.sentence);
        // The stream's std at the last block against the stem's: 3^16 in variance, ~6561x in std.
        let growth = he.layers[32].act_std / he.layers[0].act_std;
        assert!(growth > 1000.0, "{growth}");
        let scaled = blocks(Residual::Scaled, 16, 32);
        let skip = probe(&scaled, &scheme(ResidualScheme::SkipInit));
        assert_eq!(skip.verdict.kind, SignalKind::Healthy, "{}", skip.verdict.sentence);
        assert_eq!(skip.layers[32].act_std, skip.layers[0].act_std);
    }
}
