//! Khulasa: summaries and named entities for news articles, served over gRPC.
//!
//! Each layer calls only the ones below it: [`transport`] (gRPC and
//! HTTP/JSON) → [`pipeline`] (one article) → [`tasks`] (summarize,
//! entities, groups) → [`models`] (ONNX sessions). [`text`]
//! (segmentation, normalization, offsets) is a leaf every layer may use,
//! and so is [`stop`], which carries one request's cancellation and
//! deadline through all of them. The `khulasa` command-line client is its
//! own package (`client/`) built on this library. [`memory`] tunes the C
//! allocator for a long-running server.

pub mod memory;
pub mod models;
pub mod pipeline;
pub mod proto;
pub mod stop;
pub mod tasks;
pub mod text;
pub mod transport;

/// How `khulasa-server <argv>` would run the pipeline (`argv` without the
/// program name; its networking flags are accepted and unused), so the
/// client's in-process bench mirrors a server's flags without depending on
/// the transport layer. Pass the result to [`pipeline::load_analyzer`].
pub fn server_pipeline(argv: &[String]) -> anyhow::Result<pipeline::PipelineConfig> {
    use anyhow::Context;
    use clap::Parser;
    let args = transport::ServerArgs::try_parse_from(
        std::iter::once("khulasa-server").chain(argv.iter().map(String::as_str)),
    )
    .context("the server flags do not parse as khulasa-server's")?;
    Ok(args.pipeline())
}
