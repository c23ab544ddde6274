//! The client's error type: every ZooKeeper code by name, plus what only a client sees.

use crate::proto::ErrorCode;

/// Why a client call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with this error code.
    #[error("{0}")]
    Server(ErrorCode),
    /// The connection dropped before the reply arrived; the request may or may not have
    /// been applied.
    #[error("connection lost before the reply arrived")]
    ConnectionLoss,
    /// The session expired; the handle is dead and a new client is needed.
    #[error("session expired")]
    SessionExpired,
    /// No reply within the request timeout.
    #[error("request timed out")]
    Timeout,
    /// The client was closed.
    #[error("client is closed")]
    Closed,
    /// The server refused our credentials (`addauth`).
    #[error("authentication failed")]
    AuthFailed,
    /// A path or argument was refused before anything was sent.
    #[error("bad arguments: {0}")]
    BadArguments(String),
    /// The connect string could not be parsed.
    #[error("invalid connect string: {0}")]
    InvalidConnectString(String),
    /// An operation of a multi failed; nothing in it was applied.
    #[error("multi op #{index} on {path} failed: {code}")]
    Multi {
        index: usize,
        path: String,
        code: ErrorCode,
    },
    /// The server sent something this client cannot decode.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl Error {
    /// The ZooKeeper code for this error, as Apache's clients report it.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Server(code) => *code,
            Error::ConnectionLoss => ErrorCode::ConnectionLoss,
            Error::SessionExpired => ErrorCode::SessionExpired,
            Error::Timeout => ErrorCode::OperationTimeout,
            Error::Closed => ErrorCode::Closing,
            Error::AuthFailed => ErrorCode::AuthFailed,
            Error::BadArguments(_) | Error::InvalidConnectString(_) => ErrorCode::BadArguments,
            Error::Multi { code, .. } => *code,
            Error::Protocol(_) => ErrorCode::MarshallingError,
        }
    }

    /// Errors after which the outcome of a write is unknown.
    pub fn is_connection_loss(&self) -> bool {
        matches!(self, Error::ConnectionLoss | Error::Timeout)
    }

    pub(crate) fn from_code(code: ErrorCode) -> Error {
        match code {
            ErrorCode::ConnectionLoss => Error::ConnectionLoss,
            ErrorCode::SessionExpired => Error::SessionExpired,
            ErrorCode::AuthFailed => Error::AuthFailed,
            code => Error::Server(code),
        }
    }
}

impl From<ErrorCode> for Error {
    fn from(code: ErrorCode) -> Self {
        Error::from_code(code)
    }
}

/// Shorthand for client results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
