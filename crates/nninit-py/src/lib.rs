//! The native half of the `nninit` Python package (`nninit._native`).
//!
//! Every function takes already-typed arguments from the pure-Python layer (`nninit/__init__.py`),
//! builds what it needs with the same library calls as the `nninit` command, and returns either
//! a filled numpy array or the JSON text of the command's `--json` report (the Python layer turns
//! it into a dict, so the dict is the command's JSON exactly). Library errors become `ValueError`
//! (bad arguments) or `OSError` (files) with the command's one-line message; nothing a user
//! passes reaches a panic. Fills and file work run with the GIL released.

use std::collections::BTreeMap;
use std::path::PathBuf;

use numpy::{PyArrayDyn, PyArrayMethods, PyReadwriteArrayDyn};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

use nninit::activation::Activation;
use nninit::report::{
    self, DoctorReport, EdgeReport, ExplainReport, GainReport, MaterializeReport, PlanReport, RecommendReport,
    TheoryReport,
};
use nninit::scheme::Scheme;
use nninit::stream::Philox;
use nninit::torch::{TorchFloat, TorchGenerator, TorchKernel};
use nninit::{DType, Element, Error, Fan, Init, InitParams, Layout, Shape, TensorSpec};

/// The error's message as the command prints it after `nninit: `: the error and its sources,
/// joined by `: ` (as anyhow's `{:#}` does), on one line.
fn message(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Whether an error is about a file (OSError) rather than an argument (ValueError).
fn is_file_error(err: &Error) -> bool {
    match err {
        Error::Io { .. } | Error::DamagedFile { .. } => true,
        Error::InFile { source, .. } => is_file_error(source),
        _ => false,
    }
}

/// A library error as a Python exception.
fn py_err(err: Error) -> PyErr {
    let text = message(&err);
    if is_file_error(&err) { PyOSError::new_err(text) } else { PyValueError::new_err(text) }
}

/// A bad argument as a `ValueError`.
fn value_error(text: impl Into<String>) -> PyErr {
    PyValueError::new_err(text.into())
}

fn to_json(value: &impl serde::Serialize) -> PyResult<String> {
    serde_json::to_string(value).map_err(|e| value_error(format!("cannot serialize the report: {e}")))
}

/// The rule and its tensor, from the arguments of `nninit sample`/`explain`.
#[allow(clippy::too_many_arguments)]
fn rule_and_spec(
    rule: &str,
    shape: Vec<usize>,
    layout: &str,
    groups: usize,
    fan: Option<(u64, u64)>,
    params: &BTreeMap<String, String>,
    param: Option<f64>,
) -> Result<(Init, TensorSpec), Error> {
    let mut spec = TensorSpec::new(Shape::new(shape)?).with_layout(Layout::parse(layout)?).with_groups(groups);
    if let Some((fan_in, fan_out)) = fan {
        spec = spec.with_fan(Fan::new(fan_in, fan_out)?);
    }
    let mut p = InitParams::default();
    for (key, value) in params {
        p.set(key, value)?;
    }
    if let (Some(param), Some(name)) = (param, params.get("nonlinearity")) {
        p.nonlinearity = Some(Activation::parse(name, Some(param))?);
    }
    if groups != 1 {
        p.groups = Some(groups);
    }
    let init = Init::parse(rule, &p)?;
    Ok((init, spec))
}

/// What to fill: the rule, its tensor, the stream and the elements.
struct Fill {
    init: Init,
    spec: TensorSpec,
    seed: u64,
    name: String,
    torch: Option<TorchKernel>,
    start: u64,
}

impl Fill {
    /// Fills `out` with elements `start..start + out.len()` from Philox.
    fn philox<E: Element>(&self, out: &mut [E]) -> Result<(), Error> {
        self.init.fill_slice(&self.spec, &Philox::new(self.seed, &self.name), self.start, out)
    }

    /// Fills `out` from PyTorch's generator (the whole tensor drawn, the slice cut from it).
    fn torch<E: Element + TorchFloat>(&self, kernel: TorchKernel, out: &mut [E]) -> Result<(), Error> {
        let mut generator = TorchGenerator::new(self.seed).with_kernel(kernel);
        let numel = self.spec.numel();
        if self.start == 0 && out.len() as u64 == numel {
            return nninit::torch::apply(&mut generator, &self.init, &self.spec, out);
        }
        let whole_len = usize::try_from(numel).map_err(|_| Error::OutOfRange {
            what: format!("elements of shape {}", self.spec.shape()),
            value: numel as i128,
            min: 1,
            max: usize::MAX as u64,
        })?;
        let mut whole = vec![E::default(); whole_len];
        nninit::torch::apply(&mut generator, &self.init, &self.spec, &mut whole)?;
        let start = self.start as usize;
        out.copy_from_slice(&whole[start..start + out.len()]);
        Ok(())
    }
}

/// Fills a numpy array of `E` (given, or made of `dims`) with the GIL released.
fn fill_array<'py, E: numpy::Element>(
    py: Python<'py>,
    out: Option<&Bound<'py, PyAny>>,
    dims: &[usize],
    len: usize,
    run: impl FnOnce(&mut [E]) -> Result<(), Error> + Send,
) -> PyResult<Bound<'py, PyAny>> {
    let array = match out {
        Some(array) => array
            .cast::<PyArrayDyn<E>>()
            .map_err(|_| value_error("out= must be a numpy array of the dtype asked for"))?
            .clone(),
        None => PyArrayDyn::<E>::zeros(py, dims, false),
    };
    {
        let mut view: PyReadwriteArrayDyn<'_, E> =
            array.try_readwrite().map_err(|_| value_error("out= is not writeable (or is borrowed elsewhere)"))?;
        let slice = view.as_slice_mut().map_err(|_| value_error("out= must be C-contiguous"))?;
        if slice.len() != len {
            return Err(value_error(format!("out= holds {} elements, the tensor or slice has {len}", slice.len())));
        }
        py.detach(|| run(slice)).map_err(py_err)?;
    }
    Ok(array.into_any())
}

/// sample(rule, shape, seed, name, dtype, layout, rng, torch_kernel, start, end, out, params, param, fan, groups)
///
/// Draws the tensor `nninit sample` draws with the same arguments (elements `start..end` of the
/// flattened tensor) into `out` or a new array of shape `shape` (or `(end - start,)` for a slice).
/// `dtype` is `f32`, `f64`, `f16`, or `bf16` (bfloat16 bits in a uint16 array).
#[pyfunction]
#[pyo3(signature = (rule, shape, seed, name, dtype, layout, rng, torch_kernel, start, end, out, params, param, fan, groups))]
#[allow(clippy::too_many_arguments)]
fn sample<'py>(
    py: Python<'py>,
    rule: &str,
    shape: Vec<usize>,
    seed: u64,
    name: String,
    dtype: &str,
    layout: &str,
    rng: &str,
    torch_kernel: &str,
    start: Option<u64>,
    end: Option<u64>,
    out: Option<Bound<'py, PyAny>>,
    params: BTreeMap<String, String>,
    param: Option<f64>,
    fan: Option<(u64, u64)>,
    groups: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let (init, spec) = rule_and_spec(rule, shape, layout, groups, fan, &params, param).map_err(py_err)?;
    init.check(&spec).map_err(py_err)?;
    let dtype = DType::parse(dtype).map_err(py_err)?;
    let numel = spec.numel();
    nninit::io::check_write_elements(&format!("shape {}", spec.shape()), numel).map_err(py_err)?;
    let sliced = start.is_some() || end.is_some();
    let (start, end) = (start.unwrap_or(0), end.unwrap_or(numel));
    if start >= end || end > numel {
        return Err(value_error(format!(
            "invalid slice {start}:{end} for a tensor of {numel} elements (need START < END <= {numel})"
        )));
    }
    let len = usize::try_from(end - start).map_err(|_| value_error("slice too large for this machine"))?;
    let dims = if sliced { vec![len] } else { spec.shape().dims().to_vec() };
    let torch = match rng {
        "philox" => None,
        "torch" => Some(TorchKernel::parse(torch_kernel).map_err(py_err)?),
        other => return Err(value_error(format!("unknown rng `{other}` (known: philox, torch)"))),
    };
    let job = Fill { init, spec, seed, name, torch, start };
    let out = out.as_ref();
    match (job.torch, dtype) {
        (_, DType::I64) => Err(value_error("i64 is an integer type; initializers draw floats (f32, f64, bf16, f16)")),
        (Some(_), DType::BF16 | DType::F16) => Err(value_error(
            "rng=\"torch\" reproduces PyTorch's f32 and f64 kernels; bf16/f16 are not reproduced bit for bit",
        )),
        (Some(k), DType::F32) => fill_array::<f32>(py, out, &dims, len, |o| job.torch(k, o)),
        (Some(k), DType::F64) => fill_array::<f64>(py, out, &dims, len, |o| job.torch(k, o)),
        (None, DType::F32) => fill_array::<f32>(py, out, &dims, len, |o| job.philox(o)),
        (None, DType::F64) => fill_array::<f64>(py, out, &dims, len, |o| job.philox(o)),
        (None, DType::F16) => fill_array::<half::f16>(py, out, &dims, len, |o| job.philox(o)),
        (None, DType::BF16) => {
            fill_array::<u16>(py, out, &dims, len, |o| job.philox::<half::bf16>(bytemuck::cast_slice_mut(o)))
        }
    }
}

/// explain(rule, shape, layout, params, param, fan, groups) -> str
///
/// The JSON of `nninit explain RULE --shape ... --json`.
#[pyfunction]
#[pyo3(signature = (rule, shape, layout, params, param, fan, groups))]
fn explain(
    rule: &str,
    shape: Vec<usize>,
    layout: &str,
    params: BTreeMap<String, String>,
    param: Option<f64>,
    fan: Option<(u64, u64)>,
    groups: usize,
) -> PyResult<String> {
    let (init, spec) = rule_and_spec(rule, shape, layout, groups, fan, &params, param).map_err(py_err)?;
    to_json(&ExplainReport::new(&init, &spec).map_err(py_err)?)
}

/// explain_plan(config, preset, scheme, dtype) -> str
///
/// The JSON of `nninit explain --config/--preset ... --scheme S --json`.
#[pyfunction]
#[pyo3(signature = (config, preset, scheme, dtype))]
fn explain_plan(
    py: Python<'_>,
    config: Option<PathBuf>,
    preset: Option<String>,
    scheme: &str,
    dtype: &str,
) -> PyResult<String> {
    let dtype = DType::parse(dtype).map_err(py_err)?;
    let report = py
        .detach(|| {
            let model = report::model(config.as_deref(), preset.as_deref())?;
            let scheme = Scheme::parse(scheme)?;
            PlanReport::new(&scheme.plan(&model, dtype)?, &scheme)
        })
        .map_err(py_err)?;
    to_json(&report)
}

/// gain(activation, param) -> str
///
/// The JSON of `nninit gain A --json`.
#[pyfunction]
#[pyo3(signature = (activation, param))]
fn gain(activation: &str, param: Option<f64>) -> PyResult<String> {
    let activation = Activation::parse(activation, param).map_err(py_err)?;
    to_json(&GainReport::new(&activation))
}

/// theory(activation, param, sigma_w2, sigma_b2, q0, depth, recommend, edge, sigma_w2_max, sigma_b2_max) -> str
///
/// The JSON of `nninit theory A [--recommend | --edge] --json`.
#[pyfunction]
#[pyo3(signature = (activation, param, sigma_w2, sigma_b2, q0, depth, recommend, edge, sigma_w2_max, sigma_b2_max))]
#[allow(clippy::too_many_arguments)]
fn theory(
    py: Python<'_>,
    activation: &str,
    param: Option<f64>,
    sigma_w2: Option<f64>,
    sigma_b2: f64,
    q0: f64,
    depth: usize,
    recommend: bool,
    edge: bool,
    sigma_w2_max: f64,
    sigma_b2_max: f64,
) -> PyResult<String> {
    let activation = Activation::parse(activation, param).map_err(py_err)?;
    report::check_theory_args(depth, sigma_w2_max, sigma_b2_max).map_err(py_err)?;
    py.detach(|| -> Result<String, Error> {
        let json = if edge {
            serde_json::to_string(&EdgeReport::new(activation, sigma_b2_max)?)
        } else if recommend {
            serde_json::to_string(&RecommendReport::new(activation, depth, q0)?)
        } else {
            let w = sigma_w2.unwrap_or_else(|| report::default_sigma_w2(&activation));
            serde_json::to_string(&TheoryReport::at(activation, w, sigma_b2, q0, depth)?)
        };
        json.map_err(|e| Error::InvalidConfig { reason: format!("cannot serialize the report: {e}") })
    })
    .map_err(py_err)
}

/// materialize(out, config, preset, scheme, seed, dtype, max_shard_size, rank, world_size, verify, digest, progress) -> (str, int)
///
/// Writes a model as `nninit materialize --config/--preset ... --scheme S` does and returns the
/// JSON of its `--json` report. `progress`, if given, is called with the bytes of each step (and
/// first with the total, as a negative number) from worker threads.
#[pyfunction]
#[pyo3(signature = (out, config, preset, scheme, seed, dtype, max_shard_size, rank, world_size, verify, digest, progress))]
#[allow(clippy::too_many_arguments)]
fn materialize(
    py: Python<'_>,
    out: PathBuf,
    config: Option<PathBuf>,
    preset: Option<String>,
    scheme: &str,
    seed: u64,
    dtype: &str,
    max_shard_size: &str,
    rank: usize,
    world_size: usize,
    verify: bool,
    digest: &str,
    progress: Option<Py<PyAny>>,
) -> PyResult<String> {
    let digest = match digest {
        "sha256" => nninit::io::materialize::Digest::Sha256,
        "none" => nninit::io::materialize::Digest::None,
        other => return Err(value_error(format!("digest `{other}`: expected sha256 or none"))),
    };
    let dtype = DType::parse(dtype).map_err(py_err)?;
    if dtype == DType::I64 {
        return Err(value_error("weights are floating point: dtype f32, bf16, f16 or f64"));
    }
    if out.is_file() {
        return Err(value_error(format!("out `{}` is a file; models are written into a folder", out.display())));
    }
    let report = py
        .detach(|| -> Result<MaterializeReport, Error> {
            let model = report::model(config.as_deref(), preset.as_deref())?;
            let scheme = Scheme::parse(scheme)?;
            let plan = scheme.plan(&model, dtype)?;
            let mut opts = nninit::io::Options::new(seed);
            opts.max_shard_size = nninit::io::materialize::parse_size(max_shard_size)?;
            opts.ranks = nninit::io::Ranks::new(rank, world_size)?;
            if verify {
                opts.resume = nninit::io::materialize::Resume::Rehash;
            }
            opts.digest = digest;
            let total = nninit::io::materialize::rank_bytes(&plan, &opts)?;
            let call = |n: i128| {
                if let Some(callback) = &progress {
                    // A failing callback (say a KeyboardInterrupt in it) does not stop the write.
                    Python::attach(|py| {
                        let _ = callback.call1(py, (n,));
                    });
                }
            };
            call(-(total as i128));
            let started = std::time::Instant::now();
            let written = nninit::io::materialize(&plan, model.config(), &out, &opts, &|n| call(n as i128))?;
            let preset_or_config = match (&preset, &config) {
                (Some(p), _) => format!("preset {p}"),
                (_, Some(c)) => c.display().to_string(),
                _ => String::new(),
            };
            let seconds = started.elapsed().as_secs_f64();
            Ok(MaterializeReport::new(&out, preset_or_config, &plan, &scheme, &opts, written, seconds))
        })
        .map_err(py_err)?;
    to_json(&report)
}

/// doctor(path, config, expect, iterations) -> str
///
/// The JSON of `nninit doctor PATH --json` (`{"report": ..., "seconds": ...}`).
#[pyfunction]
#[pyo3(signature = (path, config, expect, iterations))]
fn doctor(
    py: Python<'_>,
    path: PathBuf,
    config: Option<PathBuf>,
    expect: Option<String>,
    iterations: usize,
) -> PyResult<String> {
    let expect = expect.as_deref().map(Scheme::parse).transpose().map_err(py_err)?;
    let options = nninit::doctor::Options { expect, iterations };
    let report = py.detach(|| DoctorReport::examine(&path, config.as_deref(), &options)).map_err(py_err)?;
    to_json(&report)
}

/// One state-dict entry for Python: key, shape, flat values.
type StateEntry<'py> = (String, Vec<usize>, Bound<'py, PyAny>);

/// torch_state_dict(modules, seed, dtype, torch_kernel) -> list[tuple[str, list[int], numpy.ndarray]]
///
/// The state dict a JSON list of PyTorch modules (the format of `nninit materialize
/// --torch-modules`) has right after `torch.manual_seed(seed)` and their construction, in
/// PyTorch's order: (key, shape, flat values) per entry. `dtype` is `f32` or `f64`.
#[pyfunction]
#[pyo3(signature = (modules, seed, dtype, torch_kernel))]
fn torch_state_dict<'py>(
    py: Python<'py>,
    modules: &str,
    seed: u64,
    dtype: &str,
    torch_kernel: &str,
) -> PyResult<Vec<StateEntry<'py>>> {
    use nninit::torch::{StateValues, TorchDType};
    let kernel = TorchKernel::parse(torch_kernel).map_err(py_err)?;
    let dtype = match dtype {
        "f32" => TorchDType::F32,
        "f64" => TorchDType::F64,
        other => return Err(value_error(format!("rng=\"torch\" replays f32 or f64 parameters, not `{other}`"))),
    };
    let tensors = py
        .detach(|| {
            let mut generator = TorchGenerator::new(seed).with_kernel(kernel);
            nninit::torch::state_dict_from_json(modules, &mut generator, dtype)
        })
        .map_err(py_err)?;
    Ok(tensors
        .into_iter()
        .map(|t| {
            let values = match t.data {
                StateValues::F32(v) => numpy::PyArray1::from_vec(py, v).into_any(),
                StateValues::F64(v) => numpy::PyArray1::from_vec(py, v).into_any(),
                StateValues::I64(v) => numpy::PyArray1::from_vec(py, v).into_any(),
            };
            (t.name, t.shape, values)
        })
        .collect())
}

/// A model's plan under a scheme: the tensors `nninit materialize` writes, each filled on
/// demand with the same bytes.
#[pyclass(frozen, module = "nninit._native")]
#[derive(Debug)]
struct ModelPlan {
    plan: nninit::plan::Plan,
}

#[pymethods]
impl ModelPlan {
    /// ModelPlan(config_json, scheme, dtype): the plan of a Hugging Face config (JSON text).
    #[new]
    fn new(py: Python<'_>, config_json: &str, scheme: &str, dtype: &str) -> PyResult<Self> {
        let dtype = DType::parse(dtype).map_err(py_err)?;
        let plan = py
            .detach(|| {
                let model = nninit::arch::Model::from_config_json(config_json)?;
                Scheme::parse(scheme)?.plan(&model, dtype)
            })
            .map_err(py_err)?;
        Ok(Self { plan })
    }

    /// The planned tensors in order: (name, shape, tied_to or None).
    fn tensors(&self) -> Vec<(String, Vec<usize>, Option<String>)> {
        self.plan.tensors.iter().map(|t| (t.name.clone(), t.spec.shape().dims().to_vec(), t.tied_to.clone())).collect()
    }

    /// fill(name, seed, out): fills `out` (C-contiguous, of the plan's dtype; uint16 for bf16)
    /// with the tensor's values under `seed`, the bytes materialize writes.
    fn fill<'py>(&self, py: Python<'py>, name: &str, seed: u64, out: Bound<'py, PyAny>) -> PyResult<()> {
        let t = self
            .plan
            .tensors
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| value_error(format!("the plan has no tensor `{name}`")))?;
        if t.tied_to.is_some() {
            return Err(value_error(format!("`{name}` is tied to another tensor: fill that one")));
        }
        let dims = t.spec.shape().dims().to_vec();
        let len = usize::try_from(t.spec.numel()).map_err(|_| value_error("tensor too large for this machine"))?;
        let out = Some(&out);
        match self.plan.dtype {
            DType::F32 => fill_array::<f32>(py, out, &dims, len, |o| t.fill_slice(seed, 0, o)),
            DType::F64 => fill_array::<f64>(py, out, &dims, len, |o| t.fill_slice(seed, 0, o)),
            DType::F16 => fill_array::<half::f16>(py, out, &dims, len, |o| t.fill_slice(seed, 0, o)),
            DType::BF16 => fill_array::<u16>(py, out, &dims, len, |o| {
                t.fill_slice::<half::bf16>(seed, 0, bytemuck::cast_slice_mut(o))
            }),
            DType::I64 => Err(value_error("weights are floating point")),
        }
        .map(|_| ())
    }
}

/// The native module `nninit._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("SPECTRAL_ITERATIONS", nninit::doctor::SPECTRAL_ITERATIONS)?;
    m.add_function(wrap_pyfunction!(sample, m)?)?;
    m.add_function(wrap_pyfunction!(explain, m)?)?;
    m.add_function(wrap_pyfunction!(explain_plan, m)?)?;
    m.add_function(wrap_pyfunction!(gain, m)?)?;
    m.add_function(wrap_pyfunction!(theory, m)?)?;
    m.add_function(wrap_pyfunction!(materialize, m)?)?;
    m.add_function(wrap_pyfunction!(doctor, m)?)?;
    m.add_function(wrap_pyfunction!(torch_state_dict, m)?)?;
    m.add_class::<ModelPlan>()?;
    Ok(())
}
