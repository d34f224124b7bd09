//! Mapping of pipeline errors to gRPC status codes, with the standard error
//! details (`google.rpc.BadRequest`, `google.rpc.RetryInfo`) tools can read.

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::pipeline::{AnalyzeError, InvalidRequest, Stopped};

/// How long a client should wait before retrying an overloaded or not yet
/// ready server (RetryInfo on RESOURCE_EXHAUSTED and UNAVAILABLE).
pub const RETRY_DELAY: Duration = Duration::from_secs(1);

/// INVALID_ARGUMENT with a `google.rpc.BadRequest` naming the field (its
/// proto path) that is wrong.
pub fn invalid(e: InvalidRequest) -> Status {
    let field = match &e {
        InvalidRequest::EmptyText | InvalidRequest::TextTooLong { .. } => "text",
        InvalidRequest::Ratio(_) => "summary.ratio",
        InvalidRequest::UnknownTask(_) => "tasks",
        InvalidRequest::UnknownMode(_) => "summary.mode",
        InvalidRequest::TitleTooLong { .. } => "title",
        InvalidRequest::Language(_) => "language",
    };
    invalid_field(field, e.to_string())
}

/// INVALID_ARGUMENT whose `google.rpc.BadRequest` names `field` (a path in
/// the request) with the same message.
pub fn invalid_field(field: &str, message: String) -> Status {
    Status::with_error_details(
        Code::InvalidArgument,
        message.clone(),
        ErrorDetails::with_bad_request_violation(field, message),
    )
}

/// RESOURCE_EXHAUSTED or UNAVAILABLE with a `google.rpc.RetryInfo`.
pub fn retry_later(code: Code, message: impl Into<String>, delay: Duration) -> Status {
    Status::with_error_details(code, message, ErrorDetails::with_retry_info(Some(delay)))
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
    retry_later(
        Code::Unavailable,
        "models are still loading; retry when health reports SERVING",
        RETRY_DELAY,
    )
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

/// The HTTP status Google's API design maps a gRPC code to
/// (google/rpc/code.proto).
pub fn http_status(code: Code) -> axum::http::StatusCode {
    use axum::http::StatusCode as H;
    match code {
        Code::Ok => H::OK,
        Code::Cancelled => H::from_u16(499).unwrap_or(H::BAD_REQUEST),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => H::BAD_REQUEST,
        Code::DeadlineExceeded => H::GATEWAY_TIMEOUT,
        Code::NotFound => H::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => H::CONFLICT,
        Code::PermissionDenied => H::FORBIDDEN,
        Code::Unauthenticated => H::UNAUTHORIZED,
        Code::ResourceExhausted => H::TOO_MANY_REQUESTS,
        Code::Unimplemented => H::NOT_IMPLEMENTED,
        Code::Unavailable => H::SERVICE_UNAVAILABLE,
        Code::Unknown | Code::Internal | Code::DataLoss => H::INTERNAL_SERVER_ERROR,
    }
}

pub fn code_name(code: Code) -> &'static str {
    crate::proto::status_name(code as i32).unwrap_or("UNKNOWN")
}
