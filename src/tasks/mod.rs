//! The two things Khulasa does with an article: pick the sentences that
//! summarize it and find the named entities in it.

pub mod entities;
pub mod groups;
pub mod summarize;
