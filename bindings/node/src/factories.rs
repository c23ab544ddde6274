//! JavaScript functions that build the values the addon hands out most often: a
//! `ZkError`, a Stat, a `{data, stat}` result. One call into a small JavaScript function
//! builds an object of a fixed shape far more cheaply than defining its properties one by
//! one through N-API (measured: a third of the JavaScript thread's time per `get` went to
//! property definitions). Registered once per environment (`setFactories`, from
//! lib/native.js) as N-API instance data, so worker threads each have theirs.

use std::ptr;

use napi::bindgen_prelude::{Function, JsValue};
use napi::{sys, Env};
use napi_derive::napi;

/// The registered factories (references that live as long as the environment).
struct Factories {
    error: sys::napi_ref,
    stat: sys::napi_ref,
    data: sys::napi_ref,
    bytes: sys::napi_ref,
    /// A buffer the addon copies znode data into for `bytes(length)`/`data(length, ...)`
    /// to copy out into a pooled `Buffer` (`Buffer.allocUnsafe`): cheaper for small data
    /// than a Buffer with a backing store of its own per reply.
    scratch: (*mut u8, usize),
    _scratch: sys::napi_ref,
}

/// Registers `error(code, errno, message, index, path)`, `stat(...11 fields)`,
/// `data(dataOrLength, ...11 stat fields)` and `bytes(length)` (which copy `length` bytes
/// out of `scratch`) for this environment.
// Only called from JavaScript (napi registers it outside `cfg(test)`).
#[cfg_attr(test, allow(dead_code))]
#[napi(
    ts_args_type = "error: (code: string, errno: number, message: string, index: number | null, path: string | null) => Error, stat: (...fields: Array<number | bigint>) => Stat, data: (data: Buffer | number, ...fields: Array<number | bigint>) => DataResult, bytes: (length: number) => Buffer, scratch: Uint8Array"
)]
pub fn set_factories(
    env: Env,
    error: Function<'_, (), ()>,
    stat: Function<'_, (), ()>,
    data: Function<'_, (), ()>,
    bytes: Function<'_, (), ()>,
    scratch: napi::bindgen_prelude::Unknown<'_>,
) -> napi::Result<()> {
    let raw = env.raw();
    let scratch_value = scratch.raw();
    let (ptr, len) = typed_array_bytes(raw, scratch_value)?;
    let factories = Factories {
        error: reference(raw, error.raw())?,
        stat: reference(raw, stat.raw())?,
        data: reference(raw, data.raw())?,
        bytes: reference(raw, bytes.raw())?,
        scratch: (ptr, len),
        _scratch: reference(raw, scratch_value)?,
    };
    // The references go with the environment; nothing to release by hand.
    env.set_instance_data(factories, (), |_| {})
}

/// Copies `data` into the environment's scratch buffer if a factory can take it from
/// there; returns whether it did.
pub(crate) fn stage(env: sys::napi_env, data: &[u8]) -> bool {
    let env_ref = Env::from_raw(env);
    let Ok(Some(factories)) = env_ref.get_instance_data::<Factories>() else {
        return false;
    };
    let (ptr, len) = factories.scratch;
    if data.is_empty() || data.len() > len || ptr.is_null() {
        return false;
    }
    // SAFETY: JavaScript thread of `env`; the scratch buffer is kept alive by its
    // reference and holds `len` bytes; nothing else writes it while this runs.
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), ptr, data.len()) };
    true
}

/// The bytes of a Uint8Array (their address stays put while the array lives).
#[cfg_attr(test, allow(dead_code))]
fn typed_array_bytes(env: sys::napi_env, value: sys::napi_value) -> napi::Result<(*mut u8, usize)> {
    let mut kind = 0;
    let mut length = 0;
    let mut data = ptr::null_mut();
    let mut buffer = ptr::null_mut();
    let mut offset = 0;
    // SAFETY: JavaScript thread of `env`; all out-pointers are valid.
    let status = unsafe {
        sys::napi_get_typedarray_info(
            env,
            value,
            &mut kind,
            &mut length,
            &mut data,
            &mut buffer,
            &mut offset,
        )
    };
    if status != sys::Status::napi_ok || kind != sys::TypedarrayType::uint8_array {
        return Err(napi::Error::from_reason("scratch must be a Uint8Array"));
    }
    Ok((data.cast(), length))
}

#[cfg_attr(test, allow(dead_code))]
fn reference(env: sys::napi_env, value: sys::napi_value) -> napi::Result<sys::napi_ref> {
    let mut reference = ptr::null_mut();
    // SAFETY: JavaScript thread of `env`; `value` is a live function.
    let status = unsafe { sys::napi_create_reference(env, value, 1, &mut reference) };
    if status != sys::Status::napi_ok {
        return Err(napi::Error::from_reason("cannot keep a factory function"));
    }
    Ok(reference)
}

/// Which factory to call.
#[derive(Clone, Copy)]
pub(crate) enum Factory {
    Error,
    Stat,
    Data,
    Bytes,
}

/// Calls a factory of `env`; `None` if none is registered (or it failed), and the caller
/// builds the value itself.
pub(crate) fn call(
    env: sys::napi_env,
    which: Factory,
    args: &[sys::napi_value],
) -> Option<sys::napi_value> {
    let env_ref = Env::from_raw(env);
    let factories = env_ref.get_instance_data::<Factories>().ok()??;
    let reference = match which {
        Factory::Error => factories.error,
        Factory::Stat => factories.stat,
        Factory::Data => factories.data,
        Factory::Bytes => factories.bytes,
    };
    let mut function = ptr::null_mut();
    let mut undefined = ptr::null_mut();
    let mut result = ptr::null_mut();
    // SAFETY: JavaScript thread of `env` (factories are only called by producers and
    // settlements, which run there); every value was made in the current scope.
    let status = unsafe {
        sys::napi_get_reference_value(env, reference, &mut function);
        sys::napi_get_undefined(env, &mut undefined);
        sys::napi_call_function(
            env,
            undefined,
            function,
            args.len(),
            args.as_ptr(),
            &mut result,
        )
    };
    (status == sys::Status::napi_ok && !result.is_null()).then_some(result)
}
