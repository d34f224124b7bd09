//! Mapping of pipeline errors to gRPC status codes.

use tonic::{Code, Status};

use crate::pipeline::{AnalyzeError, InvalidRequest, Stopped};

pub fn invalid(e: InvalidRequest) -> Status {
    Status::invalid_argument(e.to_string())
}

pub fn analyze_failed(e: AnalyzeError) -> Status {
    match e {
        AnalyzeError::NoEntityModel | AnalyzeError::NoAbstractiveModel => {
            Status::failed_precondition(e.to_string())
        }
        AnalyzeError::Generation(_) => Status::internal(e.to_string()),
        AnalyzeError::Stopped(Stopped::Cancelled) => Status::cancelled(e.to_string()),
        AnalyzeError::Stopped(Stopped::DeadlineExceeded) => {
            Status::deadline_exceeded(e.to_string())
        }
        AnalyzeError::Model(e) => Status::internal(format!("analysis failed: {e}")),
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
    crate::proto::status_name(code as i32).unwrap_or("UNKNOWN")
}
