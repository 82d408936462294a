//! Checkpoints: a module's named parameters and buffers (and any extra named tensors, such as
//! optimizer state) in the safetensors format, written atomically.

mod atomic;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors};

use crate::dtype::DType;
use crate::nn::Module;
use crate::optim::{Optimizer, StateError};
use crate::tensor::Tensor;

/// Why a checkpoint could not be saved or loaded. Each variant names the file and, where one
/// is at fault, the tensor.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading, writing or renaming failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid safetensors.
    #[error("{path}: not a valid safetensors file: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// The model has a tensor the file lacks.
    #[error("{path}: tensor {name:?} is missing")]
    Missing {
        /// The file.
        path: PathBuf,
        /// The tensor's dotted name.
        name: String,
    },
    /// The file has a tensor the model does not.
    #[error("{path}: unexpected tensor {name:?} (the model has no such parameter or buffer)")]
    Unexpected {
        /// The file.
        path: PathBuf,
        /// The tensor's name in the file.
        name: String,
    },
    /// The optimizer state in the file does not fit the optimizer.
    #[error("{path}: {source}")]
    OptimizerState {
        /// The file.
        path: PathBuf,
        /// Which entry and why.
        #[source]
        source: StateError,
    },
    /// Shapes or dtypes differ.
    #[error("{path}: tensor {name:?} is {found} in the file but {expected} in the model")]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// The tensor's dotted name.
        name: String,
        /// What the model has, e.g. `f32 [100, 10]`.
        expected: String,
        /// What the file has.
        found: String,
    },
}

fn module_tensors(module: &dyn Module) -> Vec<(String, Tensor)> {
    let mut all = module.named_parameters();
    all.extend(module.named_buffers());
    all
}

/// Saves the module's parameters and buffers to `path`.
pub fn save(module: &dyn Module, path: &Path) -> Result<(), CheckpointError> {
    save_tensors(&module_tensors(module), path)
}

/// Prefix of optimizer-state entries in a checkpoint.
const OPTIMIZER_PREFIX: &str = "optimizer.";

/// Saves the module's parameters and buffers and the optimizer's state (under `optimizer.`), so
/// training can resume exactly.
pub fn save_with_optimizer(
    module: &dyn Module,
    optimizer: &dyn Optimizer,
    path: &Path,
) -> Result<(), CheckpointError> {
    let mut all = module_tensors(module);
    all.extend(
        optimizer
            .state()
            .into_iter()
            .map(|(n, t)| (format!("{OPTIMIZER_PREFIX}{n}"), t)),
    );
    save_tensors(&all, path)
}

/// Loads a checkpoint written by [`save_with_optimizer`]; like [`load`], nothing changes
/// unless every entry fits.
pub fn load_with_optimizer(
    module: &dyn Module,
    optimizer: &mut dyn Optimizer,
    path: &Path,
) -> Result<(), CheckpointError> {
    let mut file: HashMap<String, Tensor> = load_tensors(path)?.into_iter().collect();
    let optimizer_keys: Vec<String> = file
        .keys()
        .filter(|k| k.starts_with(OPTIMIZER_PREFIX))
        .cloned()
        .collect();
    let state: HashMap<String, Tensor> = optimizer_keys
        .into_iter()
        .map(|k| {
            let t = file.remove(&k).expect("listed key");
            (k[OPTIMIZER_PREFIX.len()..].to_string(), t)
        })
        .collect();
    let plan = check_module(module, file, path)?;
    optimizer
        .load_state(&state)
        .map_err(|source| CheckpointError::OptimizerState {
            path: path.to_path_buf(),
            source,
        })?;
    for (target, value) in plan {
        target.assign(&value);
    }
    Ok(())
}

/// Saves named tensors to `path` atomically: the data goes to a temporary file of this save's
/// own in the same folder, which is synced and then renamed over `path` (and the folder synced),
/// so neither a crash nor concurrent saves from other threads or processes ever leave a
/// half-written or mixed checkpoint; readers see the old file or the new one. Temporary files
/// left by writers that died mid-save are removed by the next save to `path`.
pub fn save_tensors(tensors: &[(String, Tensor)], path: &Path) -> Result<(), CheckpointError> {
    let io = |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let (dtype, bytes) = match t.dtype() {
            DType::F32 => (
                Dtype::F32,
                t.to_vec().iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
            DType::I64 => (
                Dtype::I64,
                t.to_vec_i64()
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
            ),
        };
        owned.push((name.clone(), dtype, t.shape(), bytes));
    }
    let mut views = Vec::with_capacity(owned.len());
    for (name, dtype, shape, bytes) in &owned {
        let view =
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes).map_err(|e| {
                CheckpointError::Format {
                    path: path.to_path_buf(),
                    message: format!("tensor {name:?}: {e}"),
                }
            })?;
        views.push((name.clone(), view));
    }
    let data = safetensors::serialize(views, None).map_err(|e| CheckpointError::Format {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    atomic::replace(path, &data).map_err(io)
}

/// Reads every tensor of a safetensors file (f32 and i64).
pub fn load_tensors(path: &Path) -> Result<Vec<(String, Tensor)>, CheckpointError> {
    let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_tensors(&bytes, path)
}

/// Decodes the bytes of a safetensors file (f32 and i64 tensors); `path` only names the file
/// in errors. Any input gives tensors or a typed error, never a panic.
pub fn parse_tensors(bytes: &[u8], path: &Path) -> Result<Vec<(String, Tensor)>, CheckpointError> {
    let format = |message: String| CheckpointError::Format {
        path: path.to_path_buf(),
        message,
    };
    if let Some((name, end, available)) = data_past_the_end(bytes) {
        return Err(format(format!(
            "tensor {name:?} ends at data offset {end}, past the {available} data bytes present"
        )));
    }
    let st = SafeTensors::deserialize(bytes).map_err(|e| format(e.to_string()))?;
    let mut views = st.tensors();
    // By name, so that the first bad tensor reported does not depend on hashing.
    views.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::with_capacity(views.len());
    for (name, view) in views {
        let shape = view.shape().to_vec();
        let data = view.data();
        let elem = match view.dtype() {
            Dtype::F32 => 4,
            Dtype::I64 => 8,
            other => {
                return Err(format(format!(
                    "tensor {name:?} has dtype {other:?}; needle-rs reads F32 and I64"
                )))
            }
        };
        // safetensors checks that the element count fits; a tensor also needs every stride
        // (the sizes multiplied with zeros counted as ones) to fit: the limit every shape
        // meets (`shape::checked_numel`).
        if crate::shape::checked_numel(&shape).is_none() {
            return Err(format(format!(
                "tensor {name:?} has shape {shape:?}, too large for a tensor (its sizes, zeros \
                 counted as ones, multiply past {} elements)",
                crate::shape::MAX_NUMEL
            )));
        }
        let t = if elem == 4 {
            Tensor::from_vec(
                data.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
                &shape,
            )
        } else {
            Tensor::from_vec_i64(
                data.chunks_exact(8)
                    .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                    .collect(),
                &shape,
            )
        };
        out.push((name, t));
    }
    Ok(out)
}

/// The largest header safetensors reads; it refuses longer ones before parsing them.
const SAFETENSORS_MAX_HEADER: usize = 100_000_000;

/// The first tensor (by name) whose data would end past the end of `bytes`, with that end
/// and the number of data bytes present. safetensors adds the header length to the data's end
/// without checking for overflow (a panic in debug builds when the offsets approach
/// `usize::MAX`), so such headers are refused before it sees them. Anything else wrong is
/// left to safetensors to report.
fn data_past_the_end(bytes: &[u8]) -> Option<(String, usize, usize)> {
    let n = usize::try_from(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?)).ok()?;
    if n > SAFETENSORS_MAX_HEADER {
        return None;
    }
    let header = bytes.get(8..n.checked_add(8)?)?;
    let available = bytes.len() - 8 - n;
    let metadata: safetensors::tensor::Metadata = serde_json::from_slice(header).ok()?;
    metadata
        .tensors()
        .into_iter()
        .filter(|(_, info)| info.data_offsets.1 > available)
        .map(|(name, info)| (name, info.data_offsets.1, available))
        .min()
}

/// Loads parameters and buffers saved by [`save`] into `module`. Every tensor is checked first
/// (missing, unexpected, shape or dtype mismatch → a typed error naming it); only then are the
/// values assigned, so a failed load changes nothing.
pub fn load(module: &dyn Module, path: &Path) -> Result<(), CheckpointError> {
    let file: HashMap<String, Tensor> = load_tensors(path)?.into_iter().collect();
    for (target, value) in check_module(module, file, path)? {
        target.assign(&value);
    }
    Ok(())
}

/// Matches the file's tensors to the module's, returning (target, value) pairs to assign.
fn check_module(
    module: &dyn Module,
    mut file: HashMap<String, Tensor>,
    path: &Path,
) -> Result<Vec<(Tensor, Tensor)>, CheckpointError> {
    let targets = module_tensors(module);
    let mut plan = Vec::with_capacity(targets.len());
    for (name, target) in &targets {
        let Some(value) = file.remove(name) else {
            return Err(CheckpointError::Missing {
                path: path.to_path_buf(),
                name: name.clone(),
            });
        };
        if value.shape() != target.shape() || value.dtype() != target.dtype() {
            return Err(CheckpointError::Mismatch {
                path: path.to_path_buf(),
                name: name.clone(),
                expected: format!("{} {:?}", target.dtype(), target.shape()),
                found: format!("{} {:?}", value.dtype(), value.shape()),
            });
        }
        plan.push((target.clone(), value));
    }
    if let Some(name) = file.keys().min() {
        return Err(CheckpointError::Unexpected {
            path: path.to_path_buf(),
            name: name.clone(),
        });
    }
    Ok(plan)
}
