//! Text handling that every task shares: Arabic-aware sentence segmentation,
//! word splitting, removal-only normalization with a map back to the original
//! offsets, code-point/byte offset conversion, language detection and the
//! hashed character n-grams a model may read per word.

pub mod arabic;
pub mod char_ngrams;
mod chars;
pub mod lang;
pub mod normalize;
pub mod offsets;
pub mod segment;
pub mod words;

pub use normalize::{is_stripped, strip, Normalized};
pub use offsets::CharOffsets;
pub use segment::{sentences, Segmenter};
pub use words::words;

/// True when `text` holds nothing but whitespace and invisible format
/// characters (bidi marks, ZWSP, BOM): nothing a reader would see.
pub fn is_blank(text: &str) -> bool {
    text.chars().all(chars::is_space)
}

/// True when `text` has nothing to analyze: besides what [`is_blank`]
/// allows, only joiners (ZWNJ, ZWJ), tatweel and combining marks (harakat)
/// with no letter to sit on. What a request's text must not be.
pub fn nothing_to_read(text: &str) -> bool {
    text.chars().all(|c| {
        chars::is_space(c) || chars::is_joiner(c) || c == chars::TATWEEL || chars::is_mark(c)
    })
}
