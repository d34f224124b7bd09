//! The gRPC edge (and the HTTP/JSON API beside it, `http`): a thin layer that validates requests, hands articles to the
//! pipeline on the blocking pool and turns results into protobuf messages.

mod admission;
mod auth;
mod config;
mod convert;
mod http;
mod http_tls;
mod metrics;
mod server;
mod service;
mod signals;
mod status;
mod telemetry;

pub use auth::read_token_file;
pub use config::{LogFormat, OptionalAddr, ServerArgs};
pub use server::run;
pub use service::SummarizerService;
pub use telemetry::Telemetry;
