//! Generated protobuf and gRPC code for `khulasa.v1`.
#![allow(clippy::all, missing_docs)]

tonic::include_proto!("khulasa.v1");

/// Encoded file descriptor set, served through gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/khulasa_descriptor.bin"));

/// The canonical upper-case name of a gRPC status code (as in the gRPC spec
/// and `google.rpc.Code`), what other gRPC tooling prints; tonic only offers
/// CamelCase `Debug` names.
pub fn status_name(code: i32) -> Option<&'static str> {
    Some(match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => return None,
    })
}
