//! Compiles `proto/` with the pure-Rust `protox` (no system `protoc`) and
//! keeps the file descriptor set for gRPC server reflection; `pbjson-build`
//! generates serde code for protobuf's canonical JSON mapping (the HTTP API).
use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/khulasa/v1/summarizer.proto";
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile([proto], ["proto"])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    let encoded = prost::Message::encode_to_vec(&descriptors);
    std::fs::write(out.join("khulasa_descriptor.bin"), &encoded)?;
    pbjson_build::Builder::new()
        .register_descriptors(&encoded)?
        .out_dir(&out)
        .build(&[".khulasa.v1"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}
