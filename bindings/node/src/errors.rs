//! The one place where errors become JavaScript errors.
//!
//! Every failure of the core is a [`zk_core::client::Error`] whose `code()` is a ZooKeeper
//! [`ErrorCode`]; a promise rejects with the wrapper's `ZkError` carrying that code's name
//! (`'NONODE'`), its number (`errno`, -101) and, for a failed transaction, the failing op's
//! `index` and `path`. The code names and numbers come from the core's one table
//! (`ErrorCode::java_name`, `ErrorCode::as_i32`), so a code added there reaches JavaScript
//! without a change here.

use std::ptr;

use napi::sys;
use zk_core::client::Error;
use zk_core::proto::ErrorCode;
use zk_core::recipes::elector::NodeInfoError;

use crate::convert::js_value;
use crate::factories::{self, Factory};

/// Why a call failed, in the terms JavaScript sees.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    /// The code's name (`NONODE`), or `ABORT_ERR` for a call its signal cancelled.
    pub code: &'static str,
    pub errno: i32,
    pub message: String,
    /// The failing op of a transaction.
    pub index: Option<u32>,
    pub path: Option<String>,
}

impl Failure {
    /// A failure of a call on `path` (named in the message, as Apache's `KeeperException`s do).
    pub fn on(error: Error, path: &str) -> Failure {
        let mut failure = Failure::from(error);
        if failure.index.is_none() && !path.is_empty() {
            failure.message = format!("{} for {path}", failure.message);
            failure.path = Some(path.to_owned());
        }
        failure
    }

    pub fn code(code: ErrorCode, message: impl Into<String>) -> Failure {
        Failure {
            code: code.java_name(),
            errno: code.as_i32(),
            message: message.into(),
            index: None,
            path: None,
        }
    }

    /// Arguments refused before anything was sent.
    pub fn bad_arguments(message: impl Into<String>) -> Failure {
        Failure::code(ErrorCode::BadArguments, message)
    }

    /// A call on a client that has not been connected yet.
    pub fn not_connected() -> Failure {
        Failure::code(
            ErrorCode::InvalidState,
            "the client is not connected yet: call connect() first",
        )
    }

    /// A call after `close()`.
    pub fn closed() -> Failure {
        Failure::from(Error::Closed)
    }

    /// The call's `AbortSignal` fired. The wrapper has rejected with an `AbortError` by
    /// then; this only settles the native promise behind it.
    pub fn aborted() -> Failure {
        Failure {
            code: "ABORT_ERR",
            errno: 0,
            message: "The operation was aborted".to_owned(),
            index: None,
            path: None,
        }
    }

    /// A failure of the N-API layer itself (a value that could not be built).
    pub fn from_napi(error: napi::Error) -> Failure {
        Failure::code(ErrorCode::SystemError, format!("N-API: {}", error.reason))
    }

    /// The `ZkError` for a synchronous call to throw (`Err(failure.thrown(env))`).
    pub fn thrown(self, env: &napi::Env) -> napi::Error {
        let value = self.into_js(env.raw());
        // SAFETY: JavaScript thread (a synchronous call); `value` was made in this scope.
        napi::Error::from(unsafe {
            napi::bindgen_prelude::Unknown::from_raw_unchecked(env.raw(), value)
        })
    }

    /// The `ZkError` object, made by the wrapper's factory
    /// `(code, errno, message, index, path) => ZkError`; a plain `Error` without one.
    pub fn into_js(self, env: sys::napi_env) -> sys::napi_value {
        let args = (|| -> napi::Result<[sys::napi_value; 5]> {
            Ok([
                js_value(env, self.code)?,
                js_value(env, self.errno)?,
                js_value(env, self.message.as_str())?,
                js_value(env, self.index)?,
                js_value(env, self.path.as_deref())?,
            ])
        })();
        match args
            .ok()
            .and_then(|args| factories::call(env, Factory::Error, &args))
        {
            Some(error) => error,
            None => plain_error(env, self.code, &self.message),
        }
    }
}

impl From<NodeInfoError> for Failure {
    fn from(error: NodeInfoError) -> Failure {
        Failure::bad_arguments(error.to_string())
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        let code = error.code();
        let (index, path) = match &error {
            Error::Multi { index, path, .. } => (u32::try_from(*index).ok(), Some(path.clone())),
            _ => (None, None),
        };
        Failure {
            code: code.java_name(),
            errno: code.as_i32(),
            message: error.to_string(),
            index,
            path,
        }
    }
}

fn plain_error(env: sys::napi_env, code: &str, message: &str) -> sys::napi_value {
    let mut code_value = ptr::null_mut();
    let mut message_value = ptr::null_mut();
    let mut error = ptr::null_mut();
    // SAFETY: JavaScript thread; the strings outlive the calls.
    unsafe {
        sys::napi_create_string_utf8(
            env,
            code.as_ptr().cast(),
            code.len() as isize,
            &mut code_value,
        );
        sys::napi_create_string_utf8(
            env,
            message.as_ptr().cast(),
            message.len() as isize,
            &mut message_value,
        );
        sys::napi_create_error(env, code_value, message_value, &mut error);
    }
    error
}

/// The code table for JavaScript: every ZooKeeper error code's name and number.
pub(crate) fn code_table() -> Vec<(String, i32)> {
    ErrorCode::ALL
        .iter()
        .filter(|code| **code != ErrorCode::Ok)
        .map(|code| (code.java_name().to_owned(), code.as_i32()))
        .collect()
}
