//! One input row of a BERT-like model (a sentence, a window of words) and
//! the padding of a call's rows into its input tensors. A row is its token
//! ids and, for a model that reads character n-grams, one n-gram bag per
//! token; a model reads either kind, never both, so a call that mixes them
//! is an error rather than a silent zero input.

use std::sync::Arc;

use super::ModelError;

/// How errors name the n-gram bags where the model's input name is unknown.
pub(crate) const CHAR_BAGS: &str = "character n-gram bags";

/// The hashed character n-grams (bucket ids) a token carries: those of its
/// word. Shared, so a word's bag is computed once and every piece of it in
/// every window holds the same one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CharBag(Arc<[u32]>);

impl CharBag {
    pub(crate) fn new(buckets: Vec<u32>) -> Self {
        CharBag(buckets.into())
    }

    pub(crate) fn buckets(&self) -> &[u32] {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    tokens: Vec<u32>,
    /// One bag per token when the model reads character n-grams.
    char_bags: Option<Vec<CharBag>>,
}

impl Row {
    /// A row whose every token carries its n-gram bag (empty for special
    /// tokens), so there is always a bag per token.
    pub(crate) fn with_char_bags(tokens: impl IntoIterator<Item = (u32, CharBag)>) -> Self {
        let (tokens, bags) = tokens.into_iter().unzip();
        Row {
            tokens,
            char_bags: Some(bags),
        }
    }

    #[cfg(test)]
    pub(crate) fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// Tokens in the row: what batching and padding count.
    pub(crate) fn len(&self) -> usize {
        self.tokens.len()
    }
}

/// A row of token ids only, for a model without character n-grams.
impl From<Vec<u32>> for Row {
    fn from(tokens: Vec<u32>) -> Self {
        Row {
            tokens,
            char_bags: None,
        }
    }
}

/// A call's rows padded to one width: `[rows, width]` ids and attention
/// mask and, when the rows carry n-gram bags, `[rows, width, bag_width]`
/// bucket ids plus one (0 is padding).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct PaddedRows {
    pub(crate) width: usize,
    pub(crate) ids: Vec<i64>,
    pub(crate) mask: Vec<i64>,
    pub(crate) char_ngrams: Option<CharNgramTensor>,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct CharNgramTensor {
    /// The largest bag of the call, at least 1 (a tensor dimension).
    pub(crate) bag_width: usize,
    pub(crate) ids: Vec<i64>,
}

/// Pads `rows` into one batch, `pad_id` after each row's tokens.
pub(crate) fn pad(rows: &[&Row], pad_id: u32) -> Result<PaddedRows, ModelError> {
    let width = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let mut ids = Vec::with_capacity(rows.len() * width);
    let mut mask = Vec::with_capacity(rows.len() * width);
    for row in rows {
        let padding = width - row.len();
        ids.extend(row.tokens.iter().map(|&t| i64::from(t)));
        ids.extend(std::iter::repeat_n(i64::from(pad_id), padding));
        mask.extend(std::iter::repeat_n(1i64, row.len()));
        mask.extend(std::iter::repeat_n(0i64, padding));
    }
    Ok(PaddedRows {
        width,
        ids,
        mask,
        char_ngrams: pad_char_bags(rows, width)?,
    })
}

/// The rows' n-gram bags as `[rows, width, bag_width]` bucket ids plus one;
/// padding, special tokens and short bags are filled with 0. None when no
/// row carries bags.
fn pad_char_bags(rows: &[&Row], width: usize) -> Result<Option<CharNgramTensor>, ModelError> {
    let with_bags = rows.iter().filter(|r| r.char_bags.is_some()).count();
    if with_bags == 0 {
        return Ok(None);
    }
    if with_bags < rows.len() {
        return Err(ModelError::Input {
            name: CHAR_BAGS.into(),
            reason: format!(
                "{with_bags} of {} rows of one call carry n-gram bags",
                rows.len()
            ),
        });
    }
    let bag_width = rows
        .iter()
        .flat_map(|r| r.char_bags.iter().flatten())
        .map(|b| b.buckets().len())
        .max()
        .unwrap_or(0)
        .max(1);
    let mut ids = Vec::with_capacity(rows.len() * width * bag_width);
    for row in rows {
        for bag in row.char_bags.iter().flatten() {
            let buckets = bag.buckets();
            ids.extend(buckets.iter().map(|&b| i64::from(b) + 1));
            ids.extend(std::iter::repeat_n(0, bag_width - buckets.len()));
        }
        ids.extend(std::iter::repeat_n(0, (width - row.len()) * bag_width));
    }
    Ok(Some(CharNgramTensor { bag_width, ids }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bag(buckets: &[u32]) -> CharBag {
        CharBag::new(buckets.to_vec())
    }

    #[test]
    fn plain_rows_pad_ids_and_mask_only() {
        let (a, b) = (Row::from(vec![0, 7, 2]), Row::from(vec![0, 2]));
        let padded = pad(&[&a, &b], 1).unwrap();
        assert_eq!(padded.width, 3);
        assert_eq!(padded.ids, vec![0, 7, 2, 0, 2, 1]);
        assert_eq!(padded.mask, vec![1, 1, 1, 1, 1, 0]);
        assert_eq!(padded.char_ngrams, None);
    }

    #[test]
    fn bags_are_shifted_by_one_and_zero_padded() {
        let a = Row::with_char_bags([
            (0, CharBag::default()),
            (7, bag(&[0, 5])),
            (8, bag(&[3])),
            (2, CharBag::default()),
        ]);
        let b = Row::with_char_bags([(0, CharBag::default()), (2, CharBag::default())]);
        let padded = pad(&[&a, &b], 1).unwrap();
        assert_eq!(padded.ids, vec![0, 7, 8, 2, 0, 2, 1, 1]);
        let chars = padded.char_ngrams.unwrap();
        assert_eq!(chars.bag_width, 2);
        #[rustfmt::skip]
        assert_eq!(chars.ids, vec![
            0, 0,  1, 6,  4, 0,  0, 0,
            0, 0,  0, 0,  0, 0,  0, 0,
        ]);
    }

    #[test]
    fn empty_bags_still_give_a_bag_dimension() {
        let a = Row::with_char_bags([(0, CharBag::default()), (2, CharBag::default())]);
        let chars = pad(&[&a], 1).unwrap().char_ngrams.unwrap();
        assert_eq!((chars.bag_width, chars.ids), (1, vec![0, 0]));
    }

    #[test]
    fn a_call_mixing_row_kinds_is_an_error() {
        let plain = Row::from(vec![0, 2]);
        let bagged = Row::with_char_bags([(0, CharBag::default()), (2, CharBag::default())]);
        let err = pad(&[&bagged, &plain], 1).unwrap_err();
        assert!(matches!(err, ModelError::Input { .. }), "{err}");
    }
}
