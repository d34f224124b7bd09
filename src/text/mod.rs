//! Text handling that every task shares: Arabic-aware sentence segmentation,
//! word splitting, removal-only normalization with a map back to the original
//! offsets, code-point/byte offset conversion and language detection.
