//! Mapping of pipeline errors to gRPC status codes.

use tonic::{Code, Status};

use crate::pipeline::{AnalyzeError, InvalidRequest};

pub fn invalid(e: InvalidRequest) -> Status {
    Status::invalid_argument(e.to_string())
}

pub fn analyze_failed(e: AnalyzeError) -> Status {
    match e {
        AnalyzeError::NoEntityModel => Status::failed_precondition(e.to_string()),
        AnalyzeError::Model(e) => {
            tracing::error!(error = %e, "model failure");
            Status::internal(format!("analysis failed: {e}"))
        }
    }
}

pub fn not_ready() -> Status {
    Status::unavailable("models are still loading; retry when health reports SERVING")
}

pub fn worker_lost() -> Status {
    Status::internal("analysis failed unexpectedly; the error was logged")
}

/// The in-band error of a failed stream item.
pub fn in_band(status: &Status) -> crate::proto::Error {
    crate::proto::Error {
        code: status.code() as i32,
        message: status.message().to_string(),
    }
}

pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}
