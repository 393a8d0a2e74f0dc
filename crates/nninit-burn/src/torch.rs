//! PyTorch's own default initialization for a burn model whose modules mirror a PyTorch model.
//!
//! The burn modules are grouped into the PyTorch modules they mirror, in the order burn visits
//! them (field order, which must be the order the PyTorch model constructs its modules, as for
//! any `nn.Sequential` or a `__init__` that creates its layers in order). nninit's
//! [`nninit::torch::state_dict`] replays those modules' `reset_parameters` on PyTorch's
//! generator bit for bit, and each tensor is put into burn's layout:
//!
//! | burn | PyTorch | conversion |
//! |---|---|---|
//! | `Linear` `weight [in, out]`, `bias` | `nn.Linear` `weight [out, in]`, `bias` | transpose |
//! | `Conv1d/2d/3d` | `nn.Conv1d/2d/3d` | none |
//! | `ConvTranspose1d/2d/3d` | `nn.ConvTranspose1d/2d/3d` | none |
//! | `Embedding` | `nn.Embedding` (no `padding_idx`) | none |
//! | `MultiHeadAttention` `query`, `key`, `value`, `output` | `nn.MultiheadAttention` `in_proj_weight` rows `[0, d)`, `[d, 2d)`, `[2d, 3d)`, `out_proj` | row block, transposed |
//! | `Lstm` gates `input`, `forget`, `cell`, `output` | `nn.LSTM` gates `i`, `f`, `g`, `o` of `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0` | row block, transposed |
//! | `BiLstm` | `nn.LSTM(bidirectional=True)` (its `_reverse` tensors are drawn after the forward ones, as burn's `reverse` Lstm after its `forward`) | as `Lstm` |
//! | `Gru` gates `reset`, `update`, `new` | `nn.GRU` gates `r`, `z`, `n` | row block, transposed |
//! | `LayerNorm`, `RmsNorm`, `BatchNorm`, `GroupNorm`, `InstanceNorm` | the norms | `gamma` 1, `beta` 0, `running_mean` 0, `running_var` 1 (no draws) |
//!
//! Convolution groups do not change PyTorch's draws for a direct convolution (the weight's
//! shape and the bias bound come from the stored shape); for a transposed one the output
//! channels are read from the bias.

use std::collections::HashMap;

use nninit::torch::{StateValues, TorchDType, TorchGenerator};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::walk::Record;

/// The PyTorch module a group of burn parameters mirrors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Linear,
    Conv { rank: usize, transposed: bool },
    Embedding,
    Norm,
    Attention,
    Lstm,
    Gru,
}

/// Which unit a parameter belongs to, and the unit's path.
fn unit_of(r: &Record) -> Result<(Unit, String)> {
    let unsupported = |reason: String| Error::TorchUnsupported { path: r.path(), reason };
    // Composite modules first: their Linears belong to them.
    for (name, unit) in [("MultiHeadAttention", Unit::Attention), ("Lstm", Unit::Lstm), ("Gru", Unit::Gru)] {
        if let Some(j) = r.containers.iter().rposition(|c| c.strip_prefix("Struct:") == Some(name)) {
            return Ok((unit, r.names[..j].join(".")));
        }
    }
    let owner = r.owner().unwrap_or("");
    let unit = match owner {
        "Linear" => Unit::Linear,
        "Conv1d" => Unit::Conv { rank: 1, transposed: false },
        "Conv2d" => Unit::Conv { rank: 2, transposed: false },
        "Conv3d" => Unit::Conv { rank: 3, transposed: false },
        "ConvTranspose1d" => Unit::Conv { rank: 1, transposed: true },
        "ConvTranspose2d" => Unit::Conv { rank: 2, transposed: true },
        "ConvTranspose3d" => Unit::Conv { rank: 3, transposed: true },
        "Embedding" => Unit::Embedding,
        "LayerNorm" | "RmsNorm" | "BatchNorm" | "GroupNorm" | "InstanceNorm" => Unit::Norm,
        "" => return Err(unsupported("a parameter outside any burn module".into())),
        other => {
            return Err(unsupported(format!(
                "`{other}` is not a burn module with a PyTorch counterpart nninit reproduces \
                 (Linear, Conv*, ConvTranspose*, Embedding, the norms, MultiHeadAttention, Lstm, BiLstm, Gru)"
            )));
        }
    };
    Ok((unit, r.parent()))
}

/// The parameters of one unit, by their path below the unit (`query.weight`).
struct Group<'a> {
    unit: Unit,
    prefix: String,
    params: Vec<(String, &'a Record)>,
}

impl Group<'_> {
    fn get(&self, rel: &str) -> Option<&Record> {
        self.params.iter().find(|(p, _)| p == rel).map(|(_, r)| *r)
    }

    fn path(&self, rel: &str) -> String {
        if self.prefix.is_empty() { rel.to_owned() } else { format!("{}.{rel}", self.prefix) }
    }

    fn fail(&self, reason: String) -> Error {
        Error::TorchUnsupported {
            path: if self.prefix.is_empty() { "(root)".into() } else { self.prefix.clone() },
            reason,
        }
    }

    /// The shape of `rel` with rank `rank`.
    fn shape(&self, rel: &str, rank: usize) -> Result<&[usize]> {
        let r = self.get(rel).ok_or_else(|| self.fail(format!("no `{rel}` parameter")))?;
        if r.shape.len() != rank {
            return Err(self.fail(format!("`{rel}` has rank {} where {rank} was expected", r.shape.len())));
        }
        Ok(&r.shape)
    }

    /// Checks that the unit has exactly the parameters `expected` names.
    fn expect(&self, expected: &[String]) -> Result<()> {
        for (rel, _) in &self.params {
            if !expected.contains(rel) {
                return Err(self.fail(format!("unexpected parameter `{rel}`")));
            }
        }
        Ok(())
    }
}

/// Rows `[from, to)` of the row-major `[.., cols]` matrix `m`, transposed: `[cols, to - from]`.
fn rows_transposed(m: &[f32], cols: usize, from: usize, to: usize) -> Vec<f32> {
    let rows = to - from;
    let mut out = vec![0f32; rows * cols];
    for i in 0..rows {
        for j in 0..cols {
            out[j * rows + i] = m[(from + i) * cols + j];
        }
    }
    out
}

/// The PyTorch module (as nninit's JSON module list has it) and how its state dict becomes
/// the burn parameters: `(burn relative path, torch key, conversion)`.
enum Convert {
    /// As is.
    Same,
    /// Rows `[from, to)` of a `[.., cols]` matrix, transposed.
    RowsT { cols: usize, from: usize, to: usize },
    /// Elements `[from, to)`.
    Range { from: usize, to: usize },
}

type Spec = (Value, Vec<(String, String, Convert)>);

fn linear(g: &Group, name: &str) -> Result<Spec> {
    let w = g.shape("weight", 2)?;
    let (d_in, d_out) = (w[0], w[1]);
    let bias = g.get("bias").is_some();
    if bias && g.shape("bias", 1)? != [d_out] {
        return Err(g.fail(format!("bias {:?} for a weight [{d_in}, {d_out}]", g.shape("bias", 1)?)));
    }
    g.expect(&["weight".into(), "bias".into()])?;
    let mut map = vec![("weight".into(), format!("{name}.weight"), Convert::RowsT { cols: d_in, from: 0, to: d_out })];
    if bias {
        map.push(("bias".into(), format!("{name}.bias"), Convert::Same));
    }
    Ok((json!({"type": "Linear", "name": name, "in_features": d_in, "out_features": d_out, "bias": bias}), map))
}

fn conv(g: &Group, name: &str, rank: usize, transposed: bool) -> Result<Spec> {
    let w = g.shape("weight", rank + 2)?;
    let kernel = w[2..].to_vec();
    let bias = match g.get("bias") {
        Some(_) => Some(g.shape("bias", 1)?[0]),
        None => None,
    };
    g.expect(&["weight".into(), "bias".into()])?;
    let (in_channels, out_channels, groups) = if transposed {
        // [in, out/groups, k...]; the bias holds all the output channels.
        let out = bias.unwrap_or(w[1]);
        if out % w[1] != 0 {
            return Err(g.fail(format!("bias of {out} for a transposed weight {w:?}")));
        }
        (w[0], out, out / w[1])
    } else {
        // [out, in/groups, k...]: PyTorch's draws depend on the stored shape only.
        if bias.is_some_and(|b| b != w[0]) {
            return Err(g.fail(format!("bias of {} for a weight {w:?}", bias.unwrap_or(0))));
        }
        (w[1], w[0], 1)
    };
    let kind = format!("Conv{}{rank}d", if transposed { "Transpose" } else { "" });
    let mut map = vec![("weight".into(), format!("{name}.weight"), Convert::Same)];
    if bias.is_some() {
        map.push(("bias".into(), format!("{name}.bias"), Convert::Same));
    }
    let module = json!({"type": kind, "name": name, "in_channels": in_channels, "out_channels": out_channels,
        "kernel_size": kernel, "groups": groups, "bias": bias.is_some()});
    Ok((module, map))
}

fn embedding(g: &Group, name: &str) -> Result<Spec> {
    let w = g.shape("weight", 2)?;
    g.expect(&["weight".into()])?;
    let module = json!({"type": "Embedding", "name": name, "num_embeddings": w[0], "embedding_dim": w[1]});
    Ok((module, vec![("weight".into(), format!("{name}.weight"), Convert::Same)]))
}

fn attention(g: &Group, name: &str) -> Result<Spec> {
    let d = g.shape("query.weight", 2)?[0];
    let roles = ["query", "key", "value", "output"];
    let mut expected = Vec::new();
    for role in roles {
        expected.push(format!("{role}.weight"));
        expected.push(format!("{role}.bias"));
        if g.shape(&format!("{role}.weight"), 2)? != [d, d] || g.shape(&format!("{role}.bias"), 1)? != [d] {
            return Err(g.fail(format!("`{role}` is not a [{d}, {d}] Linear with a bias")));
        }
    }
    g.expect(&expected)?;
    let mut map = Vec::new();
    for (i, role) in roles.into_iter().take(3).enumerate() {
        let (from, to) = (i * d, (i + 1) * d);
        map.push((format!("{role}.weight"), format!("{name}.in_proj_weight"), Convert::RowsT { cols: d, from, to }));
        map.push((format!("{role}.bias"), format!("{name}.in_proj_bias"), Convert::Range { from, to }));
    }
    map.push(("output.weight".into(), format!("{name}.out_proj.weight"), Convert::RowsT { cols: d, from: 0, to: d }));
    map.push(("output.bias".into(), format!("{name}.out_proj.bias"), Convert::Same));
    // num_heads does not change the draws; 1 divides every d.
    Ok((json!({"type": "MultiheadAttention", "name": name, "embed_dim": d, "num_heads": 1, "bias": true}), map))
}

/// An `Lstm` or a `Gru`: its gate controllers, in PyTorch's gate order.
fn recurrent(g: &Group, name: &str, kind: &str, gates: &[&str]) -> Result<Spec> {
    let w = g.shape(&format!("{}.input_transform.weight", gates[0]), 2)?;
    let (input, hidden) = (w[0], w[1]);
    let bias = g.get(&format!("{}.input_transform.bias", gates[0])).is_some();
    let mut expected = Vec::new();
    let mut map = Vec::new();
    for (i, gate) in gates.iter().enumerate() {
        let (from, to) = (i * hidden, (i + 1) * hidden);
        for (transform, d_in, suffix) in [("input_transform", input, "ih"), ("hidden_transform", hidden, "hh")] {
            let rel = format!("{gate}.{transform}");
            if g.shape(&format!("{rel}.weight"), 2)? != [d_in, hidden] {
                return Err(g.fail(format!("`{rel}.weight` is not [{d_in}, {hidden}]")));
            }
            expected.push(format!("{rel}.weight"));
            map.push((
                format!("{rel}.weight"),
                format!("{name}.weight_{suffix}_l0"),
                Convert::RowsT { cols: d_in, from, to },
            ));
            if bias {
                if g.shape(&format!("{rel}.bias"), 1)? != [hidden] {
                    return Err(g.fail(format!("`{rel}.bias` is not [{hidden}]")));
                }
                expected.push(format!("{rel}.bias"));
                map.push((format!("{rel}.bias"), format!("{name}.bias_{suffix}_l0"), Convert::Range { from, to }));
            }
        }
    }
    g.expect(&expected)?;
    Ok((json!({"type": kind, "name": name, "input_size": input, "hidden_size": hidden, "bias": bias}), map))
}

/// The value of a norm parameter, by its field name; PyTorch's norms draw nothing.
fn norm(g: &Group) -> Result<Vec<(String, f32)>> {
    g.params
        .iter()
        .map(|(rel, _)| match rel.as_str() {
            "gamma" | "running_var" => Ok((rel.clone(), 1.0)),
            "beta" | "running_mean" => Ok((rel.clone(), 0.0)),
            other => Err(g.fail(format!("unexpected norm parameter `{other}`"))),
        })
        .collect()
}

/// The values of every parameter of `records` under PyTorch's default initialization from
/// `generator`, by burn path.
pub(crate) fn values(records: &[Record], generator: &mut TorchGenerator) -> Result<HashMap<String, Vec<f32>>> {
    let mut groups: Vec<Group> = Vec::new();
    for r in records {
        let (unit, prefix) = unit_of(r)?;
        let rel = r.names[prefix.split('.').filter(|s| !s.is_empty()).count()..].join(".");
        match groups.iter_mut().find(|g| g.unit == unit && g.prefix == prefix) {
            Some(g) => g.params.push((rel, r)),
            None => groups.push(Group { unit, prefix, params: vec![(rel, r)] }),
        }
    }
    let mut modules = Vec::new();
    let mut maps = Vec::new();
    let mut out = HashMap::new();
    for (i, g) in groups.iter().enumerate() {
        let name = format!("m{i}");
        let spec = match g.unit {
            Unit::Linear => linear(g, &name)?,
            Unit::Conv { rank, transposed } => conv(g, &name, rank, transposed)?,
            Unit::Embedding => embedding(g, &name)?,
            Unit::Attention => attention(g, &name)?,
            Unit::Lstm => recurrent(g, &name, "LSTM", &["input_gate", "forget_gate", "cell_gate", "output_gate"])?,
            Unit::Gru => recurrent(g, &name, "GRU", &["reset_gate", "update_gate", "new_gate"])?,
            Unit::Norm => {
                for (rel, value) in norm(g)? {
                    let n = g.get(&rel).map_or(0, |r| r.shape.iter().product());
                    out.insert(g.path(&rel), vec![value; n]);
                }
                continue;
            }
        };
        modules.push(spec.0);
        maps.push((g, spec.1));
    }
    let json = Value::Array(modules).to_string();
    let state = nninit::torch::state_dict_from_json(&json, generator, TorchDType::F32)
        .map_err(|source| Error::Nninit { path: "(PyTorch modules)".into(), source: Box::new(source) })?;
    let mut state: HashMap<String, Vec<f32>> = state
        .into_iter()
        .filter_map(|t| match t.data {
            StateValues::F32(v) => Some((t.name, v)),
            _ => None,
        })
        .collect();
    for (g, map) in maps {
        for (rel, key, convert) in map {
            let missing = || g.fail(format!("PyTorch's state dict has no `{key}`"));
            let v = match convert {
                // Moved, not copied: each such key feeds one burn parameter.
                Convert::Same => state.remove(&key).ok_or_else(missing)?,
                Convert::RowsT { cols, from, to } => {
                    rows_transposed(state.get(&key).ok_or_else(missing)?, cols, from, to)
                }
                Convert::Range { from, to } => state.get(&key).ok_or_else(missing)?[from..to].to_vec(),
            };
            out.insert(g.path(&rel), v);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_transposed_takes_a_block_and_transposes_it() {
        // [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]: rows 1..3 transposed.
        let m: Vec<f32> = (0..12).map(|x| x as f32).collect();
        assert_eq!(rows_transposed(&m, 3, 1, 3), vec![3.0, 6.0, 4.0, 7.0, 5.0, 8.0]);
    }
}
