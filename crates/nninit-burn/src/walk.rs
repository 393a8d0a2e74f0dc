//! Walking a burn module: every float parameter with its path and the modules around it, and
//! putting new values in without running burn's own initializers.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};

use crate::error::{Error, Result};

/// One float parameter of a module, as a visit finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    /// Field names from the root: `["encoder", "0", "weight"]`.
    pub names: Vec<String>,
    /// The container type burn reports with each name: `"Struct:Linear"` for the field
    /// `weight` of a `Linear`, `"Vec"` for an index.
    pub containers: Vec<String>,
    /// The shape as burn records it (what it saves and loads).
    pub shape: Vec<usize>,
}

impl Record {
    /// The dotted path, burn's record key: `encoder.0.weight`.
    pub fn path(&self) -> String {
        self.names.join(".")
    }

    /// The path of the module that holds the parameter: `encoder.0`.
    pub fn parent(&self) -> String {
        self.names[..self.names.len().saturating_sub(1)].join(".")
    }

    /// The parameter's own field name: `weight`.
    pub fn field(&self) -> &str {
        self.names.last().map_or("", String::as_str)
    }

    /// The type name of the struct that holds the parameter (`Linear`), if a struct does.
    pub fn owner(&self) -> Option<&str> {
        self.containers.last().and_then(|c| type_name(c))
    }

    /// Whether a struct of type `name` encloses the parameter at any depth.
    pub fn inside(&self, name: &str) -> bool {
        self.containers.iter().any(|c| type_name(c) == Some(name))
    }
}

/// `Linear` from burn's `"Struct:Linear"` (or `"Enum:..."`).
fn type_name(container: &str) -> Option<&str> {
    container.strip_prefix("Struct:").or_else(|| container.strip_prefix("Enum:"))
}

/// The shape a parameter has in burn's record, without running a lazy initializer.
fn record_shape<const D: usize>(param: &Param<Tensor<D>>) -> Vec<usize> {
    if param.is_initialized() {
        // A save mapper (burn's column-major Linear) gives the record another layout.
        param.transform_for_save().lazy_shape().to_vec()
    } else {
        param.lazy_shape().to_vec()
    }
}

#[derive(Default)]
struct Collector {
    names: Vec<String>,
    containers: Vec<String>,
    out: Vec<Record>,
}

impl ModuleVisitor for Collector {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.names.push(name.to_owned());
        self.containers.push(container_type.to_owned());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.names.pop();
        self.containers.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.out.push(Record {
            names: self.names.clone(),
            containers: self.containers.clone(),
            shape: record_shape(param),
        });
    }
}

/// Every float parameter of `module`, in burn's visiting order (field order).
pub(crate) fn records<M: Module>(module: &M) -> Vec<Record> {
    let mut c = Collector::default();
    module.visit(&mut c);
    c.out
}

/// Where a parameter's new values come from.
pub(crate) trait Values {
    /// The values for the parameter at `path`, row-major in its record shape, or `None` to keep
    /// the parameter as it is. Called once per parameter, in visiting order.
    fn take(&mut self, path: &str) -> Result<Option<Vec<f32>>>;
}

struct Applier<'a, V> {
    names: Vec<String>,
    values: &'a mut V,
    error: Option<Error>,
}

impl<V: Values> ModuleMapper for Applier<'_, V> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.names.push(name.to_owned());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.names.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if self.error.is_some() {
            return param;
        }
        let path = self.names.join(".");
        match self.values.take(&path) {
            Ok(Some(values)) => {
                let shape = record_shape(&param);
                let device = param.lazy_device();
                let id = param.id;
                // The Vec becomes the TensorData's buffer as it is (no copy); the backend takes
                // it from there. `transform_for_load` keeps the id, the device, the gradient
                // setting and burn's load mapper, and never runs the lazy initializer.
                let tensor = Tensor::<D>::from_data(TensorData::new(values, shape), &device);
                param.transform_for_load(tensor, id)
            }
            Ok(None) => param,
            Err(e) => {
                self.error = Some(e);
                param
            }
        }
    }
}

/// Replaces every float parameter of `module` by what `values` gives for its path.
pub(crate) fn apply<M: Module, V: Values>(module: M, values: &mut V) -> Result<M> {
    let mut applier = Applier { names: Vec::new(), values, error: None };
    let module = module.map(&mut applier);
    match applier.error {
        Some(e) => Err(e),
        None => Ok(module),
    }
}

/// Values computed ahead, by path; each is moved out when its parameter is visited.
impl Values for HashMap<String, Vec<f32>> {
    fn take(&mut self, path: &str) -> Result<Option<Vec<f32>>> {
        Ok(self.remove(path))
    }
}
