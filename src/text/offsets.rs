//! Byte offset → code-point offset conversion.
//!
//! Rust slices by byte, but the API (and the Python side that trains the
//! models) counts code points. One article may need thousands of lookups, so
//! the conversion is a table lookup plus a popcount instead of a rescan.

use std::ops::Range;

/// Bytes covered by one block of the table: one `u64` bit per byte.
const BLOCK: usize = 64;

/// Maps byte offsets of one text to code-point offsets (Python string indices).
///
/// Built once per article in O(n); every lookup is O(1). Memory is 16 bytes
/// per 64 bytes of text.
#[derive(Debug, Clone, Default)]
pub struct CharOffsets {
    /// For block `k`: number of chars starting before byte `k * 64`, and a
    /// bit set for every byte in the block that starts a char.
    blocks: Vec<(usize, u64)>,
    byte_len: usize,
    char_len: usize,
}

impl CharOffsets {
    /// Indexes `text`.
    pub fn new(text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut blocks = Vec::with_capacity(bytes.len().div_ceil(BLOCK));
        let mut chars = 0usize;
        for chunk in bytes.chunks(BLOCK) {
            let mut starts = 0u64;
            for (bit, &b) in chunk.iter().enumerate() {
                // Every byte that is not a UTF-8 continuation byte starts a char.
                if b & 0xC0 != 0x80 {
                    starts |= 1u64 << bit;
                }
            }
            blocks.push((chars, starts));
            chars += starts.count_ones() as usize;
        }
        Self {
            blocks,
            byte_len: bytes.len(),
            char_len: chars,
        }
    }

    /// Code-point index of the char starting at `byte`, or [`char_len`] if
    /// `byte` is at (or past) the end of the text.
    ///
    /// `byte` should be a char boundary; for a byte inside a char this returns
    /// the index of the char containing it.
    ///
    /// [`char_len`]: CharOffsets::char_len
    pub fn to_char(&self, byte: usize) -> usize {
        if byte >= self.byte_len {
            return self.char_len;
        }
        let Some(&(before, starts)) = self.blocks.get(byte / BLOCK) else {
            return self.char_len;
        };
        // Char starts in the block up to and including `byte`.
        let upto = starts & (u64::MAX >> (BLOCK - 1 - byte % BLOCK));
        // Byte 0 always starts a char, so at least one start is counted.
        (before + upto.count_ones() as usize).saturating_sub(1)
    }

    /// Code-point range for a byte range (both ends converted by [`to_char`]).
    ///
    /// [`to_char`]: CharOffsets::to_char
    pub fn to_char_range(&self, bytes: Range<usize>) -> Range<usize> {
        self.to_char(bytes.start)..self.to_char(bytes.end)
    }

    /// Length of the text in code points.
    pub fn char_len(&self) -> usize {
        self.char_len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The obvious O(n) answer, to check the table against.
    fn naive(text: &str, byte: usize) -> usize {
        if byte >= text.len() {
            return text.chars().count();
        }
        text.char_indices()
            .take_while(|&(i, _)| i <= byte)
            .count()
            .saturating_sub(1)
    }

    #[test]
    fn empty_text() {
        let o = CharOffsets::new("");
        assert_eq!(o.char_len(), 0);
        assert_eq!(o.to_char(0), 0);
        assert_eq!(o.to_char(10), 0);
    }

    #[test]
    fn ascii_is_identity() {
        let o = CharOffsets::new("hello");
        assert_eq!(o.char_len(), 5);
        for i in 0..=5 {
            assert_eq!(o.to_char(i), i);
        }
    }

    #[test]
    fn arabic_two_bytes_per_char() {
        let text = "قال الرئيس";
        let o = CharOffsets::new(text);
        assert_eq!(o.char_len(), 10);
        let start = text.find("الرئيس").unwrap_or_default();
        assert_eq!(o.to_char(start), 4);
        assert_eq!(o.to_char(text.len()), 10);
        assert_eq!(o.to_char_range(start..text.len()), 4..10);
    }

    #[test]
    fn inside_a_char_maps_to_that_char() {
        let text = "a😀b";
        let o = CharOffsets::new(text);
        assert_eq!(o.to_char(1), 1);
        assert_eq!(o.to_char(2), 1);
        assert_eq!(o.to_char(4), 1);
        assert_eq!(o.to_char(5), 2);
        assert_eq!(o.to_char(6), 3);
    }

    #[test]
    fn block_edges() {
        // A 4-byte char straddling the 64-byte block border.
        let text = format!("{}😀{}", "x".repeat(62), "é".repeat(40));
        let o = CharOffsets::new(&text);
        for b in 0..=text.len() + 1 {
            assert_eq!(o.to_char(b), naive(&text, b), "byte {b}");
        }
    }

    #[test]
    fn large_text_is_fast() {
        let text = "كلمة عربية، ".repeat(20_000);
        let o = CharOffsets::new(&text);
        assert_eq!(o.char_len(), text.chars().count());
        let mut total = 0usize;
        for (i, _) in text.char_indices() {
            total = total.wrapping_add(o.to_char(i));
        }
        assert!(total > 0);
    }

    proptest! {
        #[test]
        fn matches_naive(text in "\\PC{0,200}", extra in 0usize..8) {
            let o = CharOffsets::new(&text);
            prop_assert_eq!(o.char_len(), text.chars().count());
            for b in 0..=text.len() + extra {
                prop_assert_eq!(o.to_char(b), naive(&text, b));
            }
        }
    }
}
