//! Loading a model directory's `tokenizer.json`.

use std::path::Path;

use ort::{
    session::{Session, SessionOutputs},
    value::Tensor,
};
use tokenizers::Tokenizer;

use super::ModelError;

pub(crate) fn load(dir: &Path) -> Result<Tokenizer, ModelError> {
    let path = dir.join("tokenizer.json");
    let mut tokenizer = Tokenizer::from_file(&path)
        .map_err(|e| ModelError::dir(dir, format!("cannot load tokenizer.json: {e}")))?;
    // Padding and truncation are planned by the callers.
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(None)
        .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
    Ok(tokenizer)
}

/// Runs a BERT-like model on padded `rows` (`input_ids` and
/// `attention_mask` of shape `[rows, width]`), the input layout every
/// encoder here shares. Returns the padded width with the outputs.
pub(crate) fn run_padded<'s>(
    session: &'s mut Session,
    rows: &[&[u32]],
    pad_id: u32,
) -> Result<(usize, SessionOutputs<'s>), ModelError> {
    let (width, ids, mask) = pad_batch(rows, pad_id);
    let shape = [rows.len(), width];
    let ids = Tensor::from_array((shape, ids))?;
    let mask = Tensor::from_array((shape, mask))?;
    let outputs = session.run(ort::inputs![
        "input_ids" => ids,
        "attention_mask" => mask,
    ])?;
    Ok((width, outputs))
}

/// Pads `rows` of token ids into one `[rows, width]` batch (ids, mask).
pub(crate) fn pad_batch(rows: &[&[u32]], pad_id: u32) -> (usize, Vec<i64>, Vec<i64>) {
    let width = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let mut ids = Vec::with_capacity(rows.len() * width);
    let mut mask = Vec::with_capacity(rows.len() * width);
    for row in rows {
        ids.extend(row.iter().map(|&t| i64::from(t)));
        mask.extend(std::iter::repeat_n(1i64, row.len()));
        ids.extend(std::iter::repeat_n(i64::from(pad_id), width - row.len()));
        mask.extend(std::iter::repeat_n(0i64, width - row.len()));
    }
    (width, ids, mask)
}
