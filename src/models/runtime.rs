//! Loading ONNX Runtime itself. The library is a shared object prepared by
//! `make models`; it is loaded at run time so the binary builds without it.

use std::path::{Path, PathBuf};

use ort::environment::Environment;

use super::ModelError;

/// Library file name inside `<models>/runtime/`.
pub const LIBRARY_NAME: &str = "libonnxruntime.so.1.31.1";

/// A loaded ONNX Runtime with its process-wide environment.
pub struct Runtime {
    environment: Environment,
    library: PathBuf,
}

impl Runtime {
    /// Where the library is looked for: `ORT_DYLIB_PATH` if set, else
    /// `<models_dir>/runtime/libonnxruntime.so.1.31.1`.
    pub fn library_path(models_dir: &Path) -> PathBuf {
        match std::env::var_os("ORT_DYLIB_PATH") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => models_dir.join("runtime").join(LIBRARY_NAME),
        }
    }

    /// Loads the library and creates the environment. Errors (never panics)
    /// when the library is missing or unusable.
    pub fn load(library: &Path) -> Result<Self, ModelError> {
        if !library.is_file() {
            return Err(ModelError::RuntimeLibrary {
                path: library.to_path_buf(),
                reason: "no such file".into(),
            });
        }
        let builder = ort::init_from(library).map_err(|e| ModelError::RuntimeLibrary {
            path: library.to_path_buf(),
            reason: e.to_string(),
        })?;
        let environment = builder.with_name("khulasa").with_telemetry(false).build()?;
        Ok(Runtime {
            environment,
            library: library.to_path_buf(),
        })
    }

    pub fn environment(&self) -> &Environment {
        &self.environment
    }

    pub fn library(&self) -> &Path {
        &self.library
    }
}
