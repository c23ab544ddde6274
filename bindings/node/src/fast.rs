//! The calls a client makes most (get, set, exists, getChildren, without options) as plain
//! functions on a handle of the client, for the wrapper's fast paths: napi-rs checks every
//! class method's `&self` against a process-wide borrow table (a mutex and a hash lookup per
//! call, ~0.6 µs measured here, a tenth of the JavaScript thread's time per call).
//!
//! The handle is an external value, type-tagged so that nothing else passes for it, holding
//! the client's address and a reference to the client's JavaScript object, which keeps the
//! client (and so the address) alive as long as the handle is.

// Everything here is called from JavaScript only (napi registers it outside `cfg(test)`).
#![cfg_attr(test, allow(dead_code))]

use std::ptr;

use napi::bindgen_prelude::{JsValue, PromiseRaw, Unknown};
use napi::{sys, Env};
use napi_derive::napi;

use crate::client::NativeClient;
use crate::convert::{DataResult, Stat};

struct Handle {
    client: *const NativeClient,
    keep: sys::napi_ref,
}

const TAG: sys::napi_type_tag = sys::napi_type_tag {
    lower: 0x7a6b_2d6e_6f64_652d,
    upper: 0x6661_7374_2d68_616e,
};

/// A handle of `client`, whose JavaScript object is `this`.
pub(crate) fn handle(
    env: &Env,
    this: sys::napi_value,
    client: &NativeClient,
) -> napi::Result<sys::napi_value> {
    let raw = env.raw();
    let mut keep = ptr::null_mut();
    let mut external = ptr::null_mut();
    // SAFETY: JavaScript thread; `this` is the live object wrapping `client`, which the
    // reference keeps alive (and in place) until the handle's finalizer drops it.
    unsafe {
        check(sys::napi_create_reference(raw, this, 1, &mut keep))?;
        let data = Box::into_raw(Box::new(Handle { client, keep }));
        if let Err(e) = check(sys::napi_create_external(
            raw,
            data.cast(),
            Some(finalize),
            ptr::null_mut(),
            &mut external,
        )) {
            drop(Box::from_raw(data));
            sys::napi_delete_reference(raw, keep);
            return Err(e);
        }
        check(sys::napi_type_tag_object(raw, external, &TAG))?;
    }
    Ok(external)
}

unsafe extern "C" fn finalize(
    env: sys::napi_env,
    data: *mut std::ffi::c_void,
    _hint: *mut std::ffi::c_void,
) {
    // SAFETY: `data` is the `Handle` boxed by `handle`, finalized once.
    unsafe {
        let handle = Box::from_raw(data.cast::<Handle>());
        sys::napi_delete_reference(env, handle.keep);
    }
}

/// The client behind a handle.
fn client<'a>(env: &Env, value: &Unknown<'_>) -> napi::Result<&'a NativeClient> {
    let raw = env.raw();
    let mut tagged = false;
    let mut data = ptr::null_mut();
    // SAFETY: JavaScript thread. Only a value carrying our tag is read as a `Handle`, and
    // the handle's reference keeps the client alive while the handle (an argument of the
    // current call) is.
    unsafe {
        check(sys::napi_check_object_type_tag(
            raw,
            value.raw(),
            &TAG,
            &mut tagged,
        ))?;
        if !tagged {
            return Err(napi::Error::from_reason("not a zk client handle"));
        }
        check(sys::napi_get_value_external(raw, value.raw(), &mut data))?;
        Ok(&*(*data.cast::<Handle>()).client)
    }
}

fn check(status: sys::napi_status) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::from_reason(format!(
            "N-API call failed ({status})"
        )))
    }
}

/// `client.get(path)` through a handle.
#[napi(
    ts_args_type = "handle: object, path: string",
    ts_return_type = "Promise<DataResult>"
)]
pub fn fast_get<'env>(
    env: &'env Env,
    handle: Unknown<'env>,
    path: String,
) -> napi::Result<PromiseRaw<'env, DataResult>> {
    client(env, &handle)?.get(env, path, None, None)
}

/// `client.exists(path)` through a handle.
#[napi(
    ts_args_type = "handle: object, path: string",
    ts_return_type = "Promise<Stat | null>"
)]
pub fn fast_exists<'env>(
    env: &'env Env,
    handle: Unknown<'env>,
    path: String,
) -> napi::Result<PromiseRaw<'env, Option<Stat>>> {
    client(env, &handle)?.exists(env, path, None, None)
}

/// `client.getChildren(path)` through a handle.
#[napi(
    ts_args_type = "handle: object, path: string",
    ts_return_type = "Promise<string[]>"
)]
pub fn fast_get_children<'env>(
    env: &'env Env,
    handle: Unknown<'env>,
    path: String,
) -> napi::Result<PromiseRaw<'env, Vec<String>>> {
    client(env, &handle)?.get_children(env, path, None, None)
}

/// `client.set(path, data)` (any version) through a handle.
#[napi(
    ts_args_type = "handle: object, path: string, data: Uint8Array",
    ts_return_type = "Promise<Stat>"
)]
pub fn fast_set<'env>(
    env: &'env Env,
    handle: Unknown<'env>,
    path: String,
    data: &[u8],
) -> napi::Result<PromiseRaw<'env, Stat>> {
    client(env, &handle)?.set(env, path, data, -1, None)
}
