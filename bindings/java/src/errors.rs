//! The one mapping of failures to Java exceptions. A core [`Error`] becomes its ZooKeeper code
//! ([`Error::code`], the core's own table, so no code is hidden here) plus any detail the
//! core adds; `io.zk.NativeErrors` turns that into the `KeeperException` subclass (or an
//! `IllegalArgumentException` for arguments refused before sending, as Apache's client does).

use std::any::Any;

use jni::errors::ErrorPolicy;
use jni::objects::{JObject, JThrowable};
use jni::Env;
use zk_core::client::Error;

use crate::jvm::{self, ERR_EXCEPTION, ERR_MULTI};

/// Why a native method failed.
#[derive(Debug)]
pub(crate) enum Fail {
    /// The core refused or the server answered with an error, about `path`.
    Core { error: Error, path: Option<String> },
    /// Op `index` of a multi of `count` ops failed with `code`.
    Multi {
        code: i32,
        index: usize,
        count: usize,
    },
    /// An argument this side refuses (becomes `IllegalArgumentException`).
    Argument(String),
    /// A call not allowed now, e.g. one that would wait for the callback it is made from
    /// (becomes `IllegalStateException`).
    State(String),
    /// A JNI call failed (a Java exception may be pending).
    Jni(jni::errors::Error),
}

impl Fail {
    pub(crate) fn core(error: Error, path: Option<&str>) -> Fail {
        if let Error::Multi { index, code, .. } = &error {
            // Without the op count; callers that know it build `Fail::Multi` themselves.
            return Fail::Multi {
                code: code.as_i32(),
                index: *index,
                count: index + 1,
            };
        }
        Fail::Core {
            error,
            path: path.map(str::to_owned),
        }
    }

    /// The client was closed (or the handle never existed).
    pub(crate) fn closed() -> Fail {
        Fail::Core {
            error: Error::Closed,
            path: None,
        }
    }
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fail::Core { error, path } => write!(f, "{error} ({path:?})"),
            Fail::Multi { code, index, .. } => write!(f, "multi op #{index} failed with {code}"),
            Fail::Argument(message) | Fail::State(message) => f.write_str(message),
            Fail::Jni(e) => write!(f, "JNI: {e}"),
        }
    }
}

impl std::error::Error for Fail {}

impl From<jni::errors::Error> for Fail {
    fn from(e: jni::errors::Error) -> Fail {
        Fail::Jni(e)
    }
}

/// The ZooKeeper code a callback or exception reports for `error`.
pub(crate) fn code_of(error: &Error) -> i32 {
    error.code().as_i32()
}

/// What the core knows beyond the code (shown in the exception's message).
pub(crate) fn detail_of(error: &Error) -> Option<String> {
    match error {
        Error::BadArguments(message) | Error::InvalidConnectString(message) => {
            Some(message.clone())
        }
        Error::Protocol(message) => Some(format!("protocol error: {message}")),
        Error::Timeout => Some("no reply within the request timeout".to_owned()),
        _ => None,
    }
}

/// Throws the Java exception for `fail` (unless one is already pending).
pub(crate) fn throw(env: &mut Env<'_>, fail: Fail) {
    if env.exception_check() {
        return;
    }
    let thrown = match fail {
        Fail::Jni(e) => env.throw_new(
            jni::jni_str!("java/lang/IllegalStateException"),
            jni::strings::JNIString::from(format!("zk: JNI failure: {e}")),
        ),
        Fail::State(message) => env.throw_new(
            jni::jni_str!("java/lang/IllegalStateException"),
            jni::strings::JNIString::from(message),
        ),
        fail => match exception(env, fail) {
            Ok(throwable) => env.throw(&throwable),
            Err(e) => Err(e),
        },
    };
    if thrown.is_err() && !env.exception_check() {
        let _ = env.throw_new(
            jni::jni_str!("java/lang/IllegalStateException"),
            jni::jni_str!("zk: could not build the exception for a failed call"),
        );
    }
}

fn exception<'local>(env: &mut Env<'local>, fail: Fail) -> jni::errors::Result<JThrowable<'local>> {
    let Some(classes) = jvm::classes() else {
        return Err(jni::errors::Error::JniCall(jni::errors::JniError::Unknown));
    };
    let object = match fail {
        Fail::Multi { code, index, count } => jvm::call_object(
            env,
            &classes.errors,
            ERR_MULTI,
            &[
                jvm::int(code),
                jvm::int(index as i32),
                jvm::int(count as i32),
            ],
        )?,
        Fail::Argument(message) => {
            let detail = jvm::new_string(env, &message)?;
            let bad_arguments = zk_core::proto::ErrorCode::BadArguments.as_i32();
            exception_object(env, classes, bad_arguments, &JObject::null(), &detail)?
        }
        Fail::Core { error, path } => {
            let path = match path {
                Some(path) => JObject::from(jvm::new_string(env, &path)?),
                None => JObject::null(),
            };
            let detail = match detail_of(&error) {
                Some(detail) => JObject::from(jvm::new_string(env, &detail)?),
                None => JObject::null(),
            };
            exception_object(env, classes, code_of(&error), &path, &detail)?
        }
        Fail::Jni(e) => return Err(e),
        Fail::State(_) => return Err(jni::errors::Error::JniCall(jni::errors::JniError::Unknown)),
    };
    env.cast_local::<JThrowable>(object)
}

fn exception_object<'local>(
    env: &mut Env<'local>,
    classes: &jvm::Classes,
    code: i32,
    path: &JObject<'_>,
    detail: &JObject<'_>,
) -> jni::errors::Result<JObject<'local>> {
    jvm::call_object(
        env,
        &classes.errors,
        ERR_EXCEPTION,
        &[jvm::int(code), jvm::object(path), jvm::object(detail)],
    )
}

/// The error policy of every native method: a [`Fail`] becomes its Java exception, a panic
/// an `IllegalStateException` (it never unwinds into the JVM).
pub(crate) struct ThrowFail;

impl<T: Default> ErrorPolicy<T, Fail> for ThrowFail {
    type Captures<'unowned_env_local: 'native_method, 'native_method> = ();

    fn on_error<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _captures: &mut Self::Captures<'unowned_env_local, 'native_method>,
        fail: Fail,
    ) -> jni::errors::Result<T> {
        throw(env, fail);
        Ok(T::default())
    }

    fn on_panic<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _captures: &mut Self::Captures<'unowned_env_local, 'native_method>,
        payload: Box<dyn Any + Send + 'static>,
    ) -> jni::errors::Result<T> {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-text panic".to_owned());
        // A payload whose drop panics is leaked rather than unwinding here.
        std::mem::forget(payload);
        if !env.exception_check() {
            let _ = env.throw_new(
                jni::jni_str!("java/lang/IllegalStateException"),
                jni::strings::JNIString::from(format!("zk: native panic: {what}")),
            );
        }
        Ok(T::default())
    }
}
