//! A learned extractive scorer: a small ONNX model that reads the article's
//! sentence embeddings plus a few position and length features and says how
//! summary-worthy each sentence is (trained by `models/summarizer/`).

use std::path::Path;

use ort::value::Tensor;

use super::{outputs, Manifest, ModelError, ModelKind, Runtime, SessionLayout, SessionPool};
use crate::stop::StopSignal;

/// A per-sentence feature the model was trained with, by its manifest name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// i / n
    RelPos,
    /// 1 / sqrt(i + 1)
    InvSqrtPos,
    /// 1 for the first sentence
    IsFirst,
    /// ln(1 + chars) / 6
    LogChars,
    /// ln(1 + words) / 4
    LogWords,
    /// 1 when under four words
    Short,
    /// ln(1 + n) / 4
    LogN,
    /// cosine with the normalized mean embedding
    CentroidCos,
    /// cosine with the first sentence
    FirstCos,
}

impl Feature {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "rel_pos" => Feature::RelPos,
            "inv_sqrt_pos" => Feature::InvSqrtPos,
            "is_first" => Feature::IsFirst,
            "log_chars" => Feature::LogChars,
            "log_words" => Feature::LogWords,
            "short" => Feature::Short,
            "log_n" => Feature::LogN,
            "centroid_cos" => Feature::CentroidCos,
            "first_cos" => Feature::FirstCos,
            _ => return None,
        })
    }
}

/// What the scorer needs to know of each sentence.
pub struct SentenceInputs<'a> {
    /// L2-normalized e5 embeddings, in article order.
    pub embeddings: &'a [Vec<f32>],
    pub char_lens: &'a [usize],
    pub word_counts: &'a [usize],
}

/// The scorer's inputs: the sentences' vectors and their feature rows.
const INPUTS: [&str; 2] = ["embeddings", "features"];

pub struct SentenceScorer {
    manifest: Manifest,
    features: Vec<Feature>,
    pool: SessionPool,
}

impl SentenceScorer {
    pub fn load(runtime: &Runtime, dir: &Path, layout: SessionLayout) -> Result<Self, ModelError> {
        let manifest = Manifest::read_kind(dir, ModelKind::SentenceScoring)?;
        let features = manifest
            .features
            .iter()
            .map(|name| {
                Feature::parse(name)
                    .ok_or_else(|| ModelError::dir(dir, format!("unknown feature {name:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let pool = SessionPool::load(runtime, &dir.join("model.onnx"), layout)?;
        // Checked here, so a wrong model fails the start, not every request.
        let names = pool.input_names();
        if names.len() != INPUTS.len() || !INPUTS.iter().all(|i| names.iter().any(|n| n == i)) {
            return Err(ModelError::dir(
                dir,
                format!("model.onnx reads inputs {names:?}, not {INPUTS:?}"),
            ));
        }
        Ok(SentenceScorer {
            manifest,
            features,
            pool,
        })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// One score per sentence, higher = more summary-worthy. Blocking; gives
    /// up waiting for a free session when `stop` fires.
    pub fn score(
        &self,
        inputs: &SentenceInputs<'_>,
        stop: &StopSignal,
    ) -> Result<Vec<f32>, ModelError> {
        let n = inputs.embeddings.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        let dim = inputs.embeddings[0].len();
        let embeddings: Vec<f32> = inputs.embeddings.iter().flatten().copied().collect();
        let features = features(&self.features, inputs);
        let embeddings = Tensor::from_array(([1, n, dim], embeddings))?;
        let features = Tensor::from_array(([1, n, self.features.len()], features))?;
        self.pool.with_session(stop, |session| {
            let [embeddings_input, features_input] = INPUTS;
            let outputs = session.run(ort::inputs![
                embeddings_input => embeddings,
                features_input => features,
            ])?;
            let (shape, data) = outputs::f32_tensor(&outputs, "scores")?;
            match shape {
                [1, m] if *m as usize == n => Ok(data.to_vec()),
                other => Err(ModelError::Output {
                    name: "scores".into(),
                    reason: format!("unexpected shape {other:?}, expected [1, {n}]"),
                }),
            }
        })?
    }
}

/// The `[n, features]` matrix, row-major, in the manifest's feature order.
fn features(which: &[Feature], inputs: &SentenceInputs<'_>) -> Vec<f32> {
    let n = inputs.embeddings.len();
    let dim = inputs.embeddings.first().map_or(0, Vec::len);
    let cos = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let mut centroid = vec![0f32; dim];
    for e in inputs.embeddings {
        centroid.iter_mut().zip(e).for_each(|(c, x)| *c += x);
    }
    let norm = centroid
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(1e-12);
    centroid.iter_mut().for_each(|c| *c /= norm);
    let mut out = Vec::with_capacity(n * which.len());
    for i in 0..n {
        for f in which {
            out.push(match f {
                Feature::RelPos => i as f32 / n as f32,
                Feature::InvSqrtPos => 1.0 / ((i + 1) as f32).sqrt(),
                Feature::IsFirst => f32::from(u8::from(i == 0)),
                Feature::LogChars => (1.0 + inputs.char_lens[i] as f32).ln() / 6.0,
                Feature::LogWords => (1.0 + inputs.word_counts[i] as f32).ln() / 4.0,
                Feature::Short => f32::from(u8::from(inputs.word_counts[i] < 4)),
                Feature::LogN => (1.0 + n as f32).ln() / 4.0,
                Feature::CentroidCos => cos(&inputs.embeddings[i], &centroid),
                Feature::FirstCos => cos(&inputs.embeddings[i], &inputs.embeddings[0]),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_follow_the_documented_formulas() {
        let e = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        let inputs = SentenceInputs {
            embeddings: &e,
            char_lens: &[10, 0],
            word_counts: &[5, 2],
        };
        let all = [
            Feature::RelPos,
            Feature::InvSqrtPos,
            Feature::IsFirst,
            Feature::LogChars,
            Feature::LogWords,
            Feature::Short,
            Feature::LogN,
            Feature::CentroidCos,
            Feature::FirstCos,
        ];
        let f = features(&all, &inputs);
        let row1 = &f[all.len()..];
        assert_eq!(row1[0], 0.5);
        assert!((row1[1] - 1.0 / 2f32.sqrt()).abs() < 1e-6);
        assert_eq!(row1[2], 0.0);
        assert_eq!(row1[3], 0.0);
        assert!((row1[4] - 3f32.ln() / 4.0).abs() < 1e-6);
        assert_eq!(row1[5], 1.0);
        assert!((row1[6] - 3f32.ln() / 4.0).abs() < 1e-6);
        assert!((row1[7] - 1.0 / 2f32.sqrt()).abs() < 1e-6);
        assert_eq!(row1[8], 0.0);
        assert_eq!(f[2], 1.0, "first sentence");
        assert!(Feature::parse("nope").is_none());
    }
}
