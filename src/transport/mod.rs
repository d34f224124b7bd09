//! The gRPC edge: a thin layer that validates requests, hands articles to the
//! pipeline on the blocking pool and turns results into protobuf messages.

mod admission;
mod config;
mod convert;
mod server;
mod service;
mod status;

pub use config::{LogFormat, ServerArgs};
pub use server::run;
pub use service::SummarizerService;
