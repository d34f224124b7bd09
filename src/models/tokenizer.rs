//! Loading a model directory's `tokenizer.json`.

use std::path::Path;

use ort::{
    session::{Session, SessionOutputs},
    value::Tensor,
};
use tokenizers::Tokenizer;

use super::{
    row::{self, Row},
    ModelError,
};

/// The special tokens of the XLM-R vocabulary every encoder here shares
/// (e5 and the NER model's pruned copy keep them at the same ids). The rows
/// are built with these ids, so [`load_encoder`] checks the tokenizer has
/// them.
pub(crate) mod special {
    /// `<s>`, opening a sequence.
    pub(crate) const BOS: u32 = 0;
    /// `<pad>`, filling a padded row.
    pub(crate) const PAD: u32 = 1;
    /// `</s>`, closing a sequence.
    pub(crate) const EOS: u32 = 2;
}

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

/// [`load`] for the XLM-R encoders, checking the special ids their rows
/// are built with.
pub(crate) fn load_encoder(dir: &Path) -> Result<Tokenizer, ModelError> {
    let tokenizer = load(dir)?;
    for (token, id) in [
        ("<s>", special::BOS),
        ("<pad>", special::PAD),
        ("</s>", special::EOS),
    ] {
        let found = tokenizer.token_to_id(token);
        if found != Some(id) {
            return Err(ModelError::dir(
                dir,
                format!("tokenizer.json has {token} at {found:?}; the rows are built with id {id}"),
            ));
        }
    }
    Ok(tokenizer)
}

/// The inputs every BERT-like model here reads.
pub(crate) const TOKEN_INPUTS: [&str; 2] = ["input_ids", "attention_mask"];

/// Runs a BERT-like model on padded `rows` (`input_ids` and
/// `attention_mask` of shape `[rows, width]`), the input layout every
/// encoder here shares, plus the `[rows, width, bag]` n-gram bags as input
/// `char_input` for a model that reads them: rows with bags for such a
/// model, without for any other. Returns the padded width with the outputs.
pub(crate) fn run_padded<'s>(
    session: &'s mut Session,
    rows: &[&Row],
    pad_id: u32,
    char_input: Option<&str>,
) -> Result<(usize, SessionOutputs<'s>), ModelError> {
    let padded = row::pad(rows, pad_id)?;
    let width = padded.width;
    let shape = [rows.len(), width];
    let [ids, mask] = TOKEN_INPUTS;
    let mut inputs = ort::inputs![
        ids => Tensor::from_array((shape, padded.ids))?,
        mask => Tensor::from_array((shape, padded.mask))?,
    ];
    match (char_input, padded.char_ngrams) {
        (Some(name), Some(chars)) => {
            let shape = [rows.len(), width, chars.bag_width];
            let tensor = Tensor::from_array((shape, chars.ids))?;
            inputs.push((name.into(), tensor.into()));
        }
        (None, None) => {}
        (Some(name), None) => {
            return Err(ModelError::Input {
                name: name.into(),
                reason: "the model reads character n-gram bags but the rows carry none".into(),
            })
        }
        (None, Some(_)) => {
            return Err(ModelError::Input {
                name: row::CHAR_BAGS.into(),
                reason: "the rows carry character n-gram bags but the model reads none".into(),
            })
        }
    }
    let outputs = session.run(inputs)?;
    Ok((width, outputs))
}
