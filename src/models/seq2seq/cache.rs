//! The decoder's key/value cache between ONNX calls.
//!
//! Optimum names the decoder's outputs `present.{layer}.{decoder|encoder}.
//! {key|value}` and the next call's inputs `past_key_values.{...}`; every
//! tensor is `[rows, heads, length, head_dim]`. The self-attention part
//! (`decoder`) grows by one position per step and follows the beams; the
//! cross-attention part (`encoder`) is computed once, at the first step,
//! and is the same for every row because all rows decode the same input,
//! so beam reordering never touches it.

use std::borrow::Cow;

use ort::{
    session::{SessionInputValue, SessionOutputs},
    value::TensorRef,
};

use super::config::CacheShape;
use crate::models::ModelError;

/// One `[rows, heads, len, head_dim]` tensor, kept on the host.
#[derive(Debug, Clone, Default)]
struct Kv {
    len: usize,
    data: Vec<f32>,
}

#[derive(Debug)]
pub(crate) struct KvCache {
    shape: CacheShape,
    rows: usize,
    /// Per layer: self-attention key, value.
    decoder: Vec<[Kv; 2]>,
    /// Per layer: cross-attention key, value; empty before the first step.
    encoder: Vec<[Kv; 2]>,
}

const PARTS: [&str; 2] = ["key", "value"];

impl KvCache {
    /// An empty cache (no step run yet) for `rows` hypotheses.
    pub fn new(shape: CacheShape, rows: usize) -> Self {
        KvCache {
            shape,
            rows,
            decoder: vec![Default::default(); shape.layers],
            encoder: vec![Default::default(); shape.layers],
        }
    }

    /// True once a step has filled the cross-attention part.
    pub fn has_encoder(&self) -> bool {
        self.encoder.first().is_some_and(|kv| kv[0].len > 0)
    }

    /// The `past_key_values.*` inputs. Before the first step they are empty
    /// (`length` 0), which is what a merged decoder's no-cache branch
    /// expects alongside them.
    pub fn inputs(&self) -> Result<Vec<(Cow<'static, str>, SessionInputValue<'_>)>, ModelError> {
        let mut inputs = Vec::with_capacity(self.shape.layers * 4);
        for layer in 0..self.shape.layers {
            for (kind, kvs) in [("decoder", &self.decoder), ("encoder", &self.encoder)] {
                for (part, kv) in PARTS.iter().zip(kvs[layer].iter()) {
                    let shape = [self.rows, self.shape.heads, kv.len, self.shape.head_dim];
                    let tensor = TensorRef::from_array_view((shape, kv.data.as_slice()))?;
                    inputs.push((
                        Cow::Owned(format!("past_key_values.{layer}.{kind}.{part}")),
                        SessionInputValue::from(tensor),
                    ));
                }
            }
        }
        Ok(inputs)
    }

    /// Takes the `present.*` outputs of a step. The cross-attention part is
    /// read only when not yet known (later steps either lack it or pass the
    /// input through).
    pub fn update(&mut self, outputs: &SessionOutputs<'_>) -> Result<(), ModelError> {
        let read_encoder = !self.has_encoder();
        for layer in 0..self.shape.layers {
            for (i, part) in PARTS.iter().enumerate() {
                let name = format!("present.{layer}.decoder.{part}");
                self.decoder[layer][i] = self.read(outputs, &name)?;
                if read_encoder {
                    let name = format!("present.{layer}.encoder.{part}");
                    self.encoder[layer][i] = self.read(outputs, &name)?;
                }
            }
        }
        Ok(())
    }

    fn read(&self, outputs: &SessionOutputs<'_>, name: &str) -> Result<Kv, ModelError> {
        let bad = |reason: String| ModelError::Output {
            name: name.to_string(),
            reason,
        };
        let value = outputs
            .get(name)
            .ok_or_else(|| bad("missing from the decoder's outputs".into()))?;
        let (shape, data) = value.try_extract_tensor::<f32>()?;
        let dims: Vec<i64> = shape.iter().copied().collect();
        let expected = [self.rows, self.shape.heads, self.shape.head_dim];
        match dims.as_slice() {
            [r, h, len, d]
                if [*r, *h, *d]
                    .iter()
                    .zip(expected)
                    .all(|(&a, b)| a as usize == b)
                    && *len >= 0 =>
            {
                Ok(Kv {
                    len: *len as usize,
                    data: data.to_vec(),
                })
            }
            _ => Err(bad(format!(
                "shape {dims:?}, expected [{}, {}, len, {}]",
                expected[0], expected[1], expected[2]
            ))),
        }
    }

    /// Row `i` becomes old row `rows[i]` (beam search keeps the cache of
    /// the beams it continues). A no-op when nothing moves.
    pub fn reorder(&mut self, rows: &[usize]) {
        if rows.len() != self.rows || rows.iter().enumerate().all(|(i, &r)| i == r) {
            return;
        }
        for kvs in &mut self.decoder {
            for kv in kvs.iter_mut() {
                let row_len = kv.data.len() / self.rows.max(1);
                let mut data = Vec::with_capacity(kv.data.len());
                for &r in rows {
                    data.extend_from_slice(&kv.data[r * row_len..(r + 1) * row_len]);
                }
                kv.data = data;
            }
        }
    }

    #[cfg(test)]
    fn set_decoder(&mut self, layer: usize, part: usize, len: usize, data: Vec<f32>) {
        self.decoder[layer][part] = Kv { len, data };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reorder_gathers_whole_rows() {
        let shape = CacheShape {
            layers: 1,
            heads: 1,
            head_dim: 2,
        };
        let mut cache = KvCache::new(shape, 3);
        // rows of [heads=1, len=1, d=2]
        cache.set_decoder(0, 0, 1, vec![0.0, 0.5, 1.0, 1.5, 2.0, 2.5]);
        cache.reorder(&[2, 2, 0]);
        assert_eq!(cache.decoder[0][0].data, vec![2.0, 2.5, 2.0, 2.5, 0.0, 0.5]);
        assert!(!cache.has_encoder());
    }
}
