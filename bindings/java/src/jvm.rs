//! The Java side the native code calls: classes and static methods looked up once (by
//! `NativeLoader.init`, so with the jar's own class loader, which event threads could not
//! find on their own), daemon attachment of event threads, and argument conversions.

use std::ffi::{c_void, CString};
use std::sync::OnceLock;

use jni::ids::JStaticMethodID;
use jni::objects::{JByteArray, JClass, JIntArray, JLongArray, JObject, JObjectArray, JString};
use jni::refs::Global;
use jni::signature::{JavaType, Primitive, ReturnType};
use jni::sys::{jvalue, JavaVMAttachArgs, JNI_OK, JNI_VERSION_1_8};
use jni::{jni_sig, jni_str, Env, JavaVM};
use zk_core::proto::Stat;

/// A class and its static methods.
pub(crate) struct Methods<const N: usize> {
    pub class: Global<JClass<'static>>,
    pub ids: [JStaticMethodID; N],
}

/// Everything cached by `init`.
pub(crate) struct Classes {
    /// `io.zk.Upcalls`: state, watch, complete, posted, released.
    pub upcalls: Methods<5>,
    /// `io.zk.NativeErrors`: exception, multiFailed.
    pub errors: Methods<2>,
    /// `io.zk.internal.Log`: nativeLog.
    pub log: Methods<1>,
    /// `io.zk.recipes.RecipeUpcalls`: event.
    pub recipes: Methods<1>,
    /// `io.zk.recipes.ElectorUpcalls`: call.
    pub elector: Methods<1>,
}

pub(crate) const UP_STATE: usize = 0;
pub(crate) const UP_WATCH: usize = 1;
pub(crate) const UP_COMPLETE: usize = 2;
pub(crate) const UP_POSTED: usize = 3;
pub(crate) const UP_RELEASED: usize = 4;
pub(crate) const ERR_EXCEPTION: usize = 0;
pub(crate) const ERR_MULTI: usize = 1;

static CLASSES: OnceLock<Classes> = OnceLock::new();

/// The cached classes; `None` before `NativeLoader.init` (no client can exist then).
pub(crate) fn classes() -> Option<&'static Classes> {
    CLASSES.get()
}

fn methods<const N: usize>(
    env: &mut Env<'_>,
    name: &'static jni::strings::JNIStr,
    sigs: [(
        &'static jni::strings::JNIStr,
        jni::signature::MethodSignature<'static, 'static>,
    ); N],
) -> jni::errors::Result<Methods<N>> {
    let class = env.find_class(name)?;
    let mut ids = Vec::with_capacity(N);
    for (method, sig) in sigs.iter() {
        ids.push(env.get_static_method_id(&class, method, sig)?);
    }
    let class = env.new_global_ref(&class)?;
    let ids: [JStaticMethodID; N] = ids
        .try_into()
        .map_err(|_| jni::errors::Error::JniCall(jni::errors::JniError::Unknown))?;
    Ok(Methods { class, ids })
}

pub(crate) fn init(env: &mut Env<'_>) -> jni::errors::Result<()> {
    if CLASSES.get().is_some() {
        return Ok(());
    }
    let upcalls = methods(
        env,
        jni_str!("io/zk/Upcalls"),
        [
            (jni_str!("state"), jni_sig!("(JI)V")),
            (jni_str!("watch"), jni_sig!("(JJJIILjava/lang/String;)V")),
            (
                jni_str!("complete"),
                jni_sig!("(JJILjava/lang/Object;[JZ)V"),
            ),
            (jni_str!("posted"), jni_sig!("(JJ)V")),
            (jni_str!("released"), jni_sig!("(J)V")),
        ],
    )?;
    let errors = methods(
        env,
        jni_str!("io/zk/NativeErrors"),
        [
            (
                jni_str!("exception"),
                jni_sig!("(ILjava/lang/String;Ljava/lang/String;)Ljava/lang/Throwable;"),
            ),
            (
                jni_str!("multiFailed"),
                jni_sig!("(III)Ljava/lang/Throwable;"),
            ),
        ],
    )?;
    let log = methods(
        env,
        jni_str!("io/zk/internal/Log"),
        [(
            jni_str!("nativeLog"),
            jni_sig!("(ILjava/lang/String;Ljava/lang/String;)V"),
        )],
    )?;
    let recipes = methods(
        env,
        jni_str!("io/zk/recipes/RecipeUpcalls"),
        [(jni_str!("event"), jni_sig!("(JJIJLjava/lang/String;[B[J)V"))],
    )?;
    let elector = methods(
        env,
        jni_str!("io/zk/recipes/ElectorUpcalls"),
        [(jni_str!("call"), jni_sig!("(JI[BLjava/lang/String;)Z"))],
    )?;
    let _ = CLASSES.set(Classes {
        upcalls,
        errors,
        log,
        recipes,
        elector,
    });
    Ok(())
}

/// Calls a cached static method returning nothing; a Java exception it throws is printed
/// and cleared (user callbacks already catch their own; this is a last resort).
pub(crate) fn call_void<const N: usize>(
    env: &mut Env<'_>,
    methods: &Methods<N>,
    index: usize,
    args: &[jvalue],
) {
    // SAFETY: the method id was looked up on this class with a signature returning void,
    // and every caller passes arguments matching that signature.
    let result = unsafe {
        env.call_static_method_unchecked(
            &methods.class,
            methods.ids[index],
            ReturnType::Primitive(Primitive::Void),
            args,
        )
    };
    if result.is_err() && env.exception_check() {
        env.exception_describe();
        env.exception_clear();
    }
}

/// Calls a cached static method returning a boolean; a Java exception (a last resort: the
/// upcalls catch their own) is printed and cleared, and counts as `false`.
pub(crate) fn call_boolean<const N: usize>(
    env: &mut Env<'_>,
    methods: &Methods<N>,
    index: usize,
    args: &[jvalue],
) -> bool {
    // SAFETY: as in `call_void`, for a method returning a boolean.
    let result = unsafe {
        env.call_static_method_unchecked(
            &methods.class,
            methods.ids[index],
            ReturnType::Primitive(Primitive::Boolean),
            args,
        )
    };
    match result.and_then(|value| value.z()) {
        Ok(answer) => answer,
        Err(_) => {
            if env.exception_check() {
                env.exception_describe();
                env.exception_clear();
            }
            false
        }
    }
}

/// Calls a cached static method returning an object.
pub(crate) fn call_object<'local, const N: usize>(
    env: &mut Env<'local>,
    methods: &Methods<N>,
    index: usize,
    args: &[jvalue],
) -> jni::errors::Result<JObject<'local>> {
    // SAFETY: as in `call_void`, for a method returning an object.
    let value = unsafe {
        env.call_static_method_unchecked(
            &methods.class,
            methods.ids[index],
            JavaType::Object,
            args,
        )?
    };
    value.l()
}

pub(crate) fn long(value: i64) -> jvalue {
    jvalue { j: value }
}

pub(crate) fn int(value: i32) -> jvalue {
    jvalue { i: value }
}

pub(crate) fn boolean(value: bool) -> jvalue {
    jvalue { z: value }
}

pub(crate) fn object(value: &JObject<'_>) -> jvalue {
    jvalue { l: value.as_raw() }
}

// ----- conversions

/// A Java string argument (`None` for null).
pub(crate) fn string(env: &Env<'_>, value: &JString<'_>) -> jni::errors::Result<Option<String>> {
    if value.is_null() {
        return Ok(None);
    }
    value.try_to_string(env).map(Some)
}

/// A Java byte[] argument (`None` for null).
pub(crate) fn bytes(env: &Env<'_>, value: &JByteArray<'_>) -> jni::errors::Result<Option<Vec<u8>>> {
    if value.is_null() {
        return Ok(None);
    }
    env.convert_byte_array(value).map(Some)
}

pub(crate) fn ints(env: &Env<'_>, value: &JIntArray<'_>) -> jni::errors::Result<Vec<i32>> {
    if value.is_null() {
        return Ok(Vec::new());
    }
    let mut out = vec![0; value.len(env)?];
    value.get_region(env, 0, &mut out)?;
    Ok(out)
}

pub(crate) fn longs(env: &Env<'_>, value: &JLongArray<'_>) -> jni::errors::Result<Vec<i64>> {
    if value.is_null() {
        return Ok(Vec::new());
    }
    let mut out = vec![0; value.len(env)?];
    value.get_region(env, 0, &mut out)?;
    Ok(out)
}

/// A Java String[] argument; null elements stay `None`.
pub(crate) fn strings(
    env: &mut Env<'_>,
    value: &JObjectArray<'_, JString<'_>>,
) -> jni::errors::Result<Vec<Option<String>>> {
    if value.is_null() {
        return Ok(Vec::new());
    }
    let n = value.len(env)?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let element: JString = value.get_element(env, i)?;
        out.push(string(env, &element)?);
        env.delete_local_ref(element);
    }
    Ok(out)
}

/// A Java Object[] of byte[] (null elements stay `None`).
pub(crate) fn byte_arrays(
    env: &mut Env<'_>,
    value: &JObjectArray<'_, JObject<'_>>,
) -> jni::errors::Result<Vec<Option<Vec<u8>>>> {
    if value.is_null() {
        return Ok(Vec::new());
    }
    let n = value.len(env)?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let element = value.get_element(env, i)?;
        let array = env.cast_local::<JByteArray>(element)?;
        out.push(bytes(env, &array)?);
        env.delete_local_ref(array);
    }
    Ok(out)
}

pub(crate) fn new_string<'local>(
    env: &mut Env<'local>,
    value: &str,
) -> jni::errors::Result<JString<'local>> {
    env.new_string(value)
}

pub(crate) fn new_bytes<'local>(
    env: &mut Env<'local>,
    value: &[u8],
) -> jni::errors::Result<JByteArray<'local>> {
    env.byte_array_from_slice(value)
}

pub(crate) fn new_ints<'local>(
    env: &mut Env<'local>,
    value: &[i32],
) -> jni::errors::Result<JIntArray<'local>> {
    let array = JIntArray::new(env, value.len())?;
    array.set_region(env, 0, value)?;
    Ok(array)
}

pub(crate) fn new_longs<'local>(
    env: &mut Env<'local>,
    value: &[i64],
) -> jni::errors::Result<JLongArray<'local>> {
    let array = JLongArray::new(env, value.len())?;
    array.set_region(env, 0, value)?;
    Ok(array)
}

pub(crate) fn new_strings<'local, S: AsRef<str>>(
    env: &mut Env<'local>,
    values: &[S],
) -> jni::errors::Result<JObjectArray<'local, JString<'local>>> {
    let array = JObjectArray::<JString>::new(env, values.len(), JString::null())?;
    for (i, value) in values.iter().enumerate() {
        let s = env.new_string(value.as_ref())?;
        array.set_element(env, i, &s)?;
        env.delete_local_ref(s);
    }
    Ok(array)
}

pub(crate) fn new_objects<'local>(
    env: &mut Env<'local>,
    values: Vec<JObject<'local>>,
) -> jni::errors::Result<JObjectArray<'local, JObject<'local>>> {
    let array = JObjectArray::<JObject>::new(env, values.len(), JObject::null())?;
    for (i, value) in values.into_iter().enumerate() {
        array.set_element(env, i, &value)?;
        env.delete_local_ref(value);
    }
    Ok(array)
}

/// A Stat as the 11 longs Java's `ZooKeeper.stat(long[])` reads.
pub(crate) fn stat_fields(stat: &Stat) -> [i64; 11] {
    [
        stat.czxid,
        stat.mzxid,
        stat.ctime,
        stat.mtime,
        i64::from(stat.version),
        i64::from(stat.cversion),
        i64::from(stat.aversion),
        stat.ephemeral_owner,
        i64::from(stat.data_length),
        i64::from(stat.num_children),
        stat.pzxid,
    ]
}

// ----- threads

/// Runs `body` with the current (non-Java) thread attached to the JVM as a daemon thread
/// named `name`, detaching afterwards. A daemon thread never holds up the JVM's exit; jni
/// 0.22 only attaches non-daemon threads, hence the raw call. Without a JVM (library not
/// initialised) `body` runs unattached and upcalls are skipped.
pub(crate) fn as_daemon(name: &str, body: impl FnOnce()) {
    let Ok(vm) = JavaVM::singleton() else {
        return body();
    };
    let raw = vm.get_raw();
    let name = CString::new(name.replace('\0', "")).unwrap_or_default();
    let mut env: *mut c_void = std::ptr::null_mut();
    let mut args = JavaVMAttachArgs {
        version: JNI_VERSION_1_8,
        name: name.as_ptr().cast_mut(),
        group: std::ptr::null_mut(),
    };
    // SAFETY: `raw` is the live JavaVM (the singleton is set before any native method runs);
    // the out-pointer and the attach arguments outlive the call.
    let attached = unsafe {
        ((*(*raw)).v1_4.AttachCurrentThreadAsDaemon)(
            raw,
            &mut env,
            (&mut args as *mut JavaVMAttachArgs).cast(),
        )
    } == JNI_OK;
    body();
    if attached {
        // SAFETY: this thread attached itself above and holds no JNI references any more
        // (every upcall ran in its own local frame).
        unsafe {
            ((*(*raw)).v1_1.DetachCurrentThread)(raw);
        }
    }
}

/// Runs `f` with an `Env` on a thread already attached (an event thread), in a local frame.
pub(crate) fn with_env(f: impl FnOnce(&mut Env<'_>, &'static Classes) -> jni::errors::Result<()>) {
    let (Some(classes), Ok(vm)) = (classes(), JavaVM::singleton()) else {
        return;
    };
    let result = vm.attach_current_thread(|env| f(env, classes));
    if let Err(e) = result {
        tracing::warn!("a zk upcall to Java failed: {e}");
    }
}
