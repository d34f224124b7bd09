//! Reading a model's named outputs: an output the graph lacks is a
//! [`ModelError::Output`] naming it, never a panic on the request path.

use ort::session::SessionOutputs;

use super::ModelError;

/// Output `name` as an f32 tensor: its shape and its data, row-major.
pub(crate) fn f32_tensor<'o>(
    outputs: &'o SessionOutputs<'_>,
    name: &str,
) -> Result<(&'o [i64], &'o [f32]), ModelError> {
    let value = outputs.get(name).ok_or_else(|| ModelError::Output {
        name: name.into(),
        reason: "missing from the model's outputs".into(),
    })?;
    let (shape, data) = value.try_extract_tensor::<f32>()?;
    Ok((shape.as_ref(), data))
}
