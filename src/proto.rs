//! Generated protobuf and gRPC code for `khulasa.v1`.
#![allow(clippy::all, missing_docs)]

tonic::include_proto!("khulasa.v1");

/// Encoded file descriptor set, served through gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/khulasa_descriptor.bin"));
