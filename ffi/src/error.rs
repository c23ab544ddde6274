//! The one place where client errors become `zk_rc` codes (ZooKeeper's numbers).

use std::ffi::{c_char, c_int};

use zk_core::client::Error;
use zk_core::proto::ErrorCode;

/// A result code: `ZK_OK` (0) or a negative ZooKeeper error code.
pub type zk_rc = c_int;

pub const ZK_OK: zk_rc = 0;
pub const ZK_SYSTEMERROR: zk_rc = -1;
pub const ZK_RUNTIMEINCONSISTENCY: zk_rc = -2;
pub const ZK_DATAINCONSISTENCY: zk_rc = -3;
pub const ZK_CONNECTIONLOSS: zk_rc = -4;
pub const ZK_MARSHALLINGERROR: zk_rc = -5;
pub const ZK_UNIMPLEMENTED: zk_rc = -6;
pub const ZK_OPERATIONTIMEOUT: zk_rc = -7;
pub const ZK_BADARGUMENTS: zk_rc = -8;
pub const ZK_INVALIDSTATE: zk_rc = -9;
pub const ZK_UNKNOWNSESSION: zk_rc = -12;
pub const ZK_NEWCONFIGNOQUORUM: zk_rc = -13;
pub const ZK_RECONFIGINPROGRESS: zk_rc = -14;
pub const ZK_SSLCONNECTIONERROR: zk_rc = -15;
pub const ZK_APIERROR: zk_rc = -100;
pub const ZK_NONODE: zk_rc = -101;
pub const ZK_NOAUTH: zk_rc = -102;
pub const ZK_BADVERSION: zk_rc = -103;
pub const ZK_NOCHILDRENFOREPHEMERALS: zk_rc = -108;
pub const ZK_NODEEXISTS: zk_rc = -110;
pub const ZK_NOTEMPTY: zk_rc = -111;
pub const ZK_SESSIONEXPIRED: zk_rc = -112;
pub const ZK_INVALIDCALLBACK: zk_rc = -113;
pub const ZK_INVALIDACL: zk_rc = -114;
pub const ZK_AUTHFAILED: zk_rc = -115;
pub const ZK_CLOSING: zk_rc = -116;
pub const ZK_NOTHING: zk_rc = -117;
pub const ZK_SESSIONMOVED: zk_rc = -118;
pub const ZK_NOTREADONLY: zk_rc = -119;
pub const ZK_EPHEMERALONLOCALSESSION: zk_rc = -120;
pub const ZK_NOWATCHER: zk_rc = -121;
pub const ZK_REQUESTTIMEOUT: zk_rc = -122;
pub const ZK_RECONFIGDISABLED: zk_rc = -123;
pub const ZK_SESSIONCLOSEDREQUIRESASLAUTH: zk_rc = -124;
pub const ZK_QUOTAEXCEEDED: zk_rc = -125;
pub const ZK_THROTTLEDOP: zk_rc = -127;

/// The `zk_rc` for a client error.
pub(crate) fn rc_of(error: &Error) -> zk_rc {
    match error {
        Error::Server(code) => code.as_i32(),
        Error::ConnectionLoss => ZK_CONNECTIONLOSS,
        Error::SessionExpired => ZK_SESSIONEXPIRED,
        Error::Timeout => ZK_OPERATIONTIMEOUT,
        Error::Closed => ZK_CLOSING,
        Error::AuthFailed => ZK_AUTHFAILED,
        Error::BadArguments(_) | Error::InvalidConnectString(_) => ZK_BADARGUMENTS,
        Error::Multi { code, .. } => code.as_i32(),
        Error::Protocol(_) => ZK_MARSHALLINGERROR,
        // `Error` is #[non_exhaustive] (another crate), so the compiler demands this arm.
        // A variant added to the core lands here as the core's own code for it.
        other => other.code().as_i32(),
    }
}

/// A static, NUL-terminated description of a `zk_rc` ("unknown error" for numbers
/// ZooKeeper does not define). Never NULL; never free it.
#[no_mangle]
pub extern "C" fn zk_error_string(rc: zk_rc) -> *const c_char {
    crate::guard::guard_or(c"unknown error".as_ptr(), || message(rc).as_ptr())
}

fn message(rc: zk_rc) -> &'static std::ffi::CStr {
    match ErrorCode::from_i32(rc) {
        Some(ErrorCode::Ok) => c"ok",
        Some(ErrorCode::SystemError) => c"system error",
        Some(ErrorCode::RuntimeInconsistency) => c"runtime inconsistency",
        Some(ErrorCode::DataInconsistency) => c"data inconsistency",
        Some(ErrorCode::ConnectionLoss) => c"connection loss",
        Some(ErrorCode::MarshallingError) => c"marshalling error",
        Some(ErrorCode::Unimplemented) => c"unimplemented",
        Some(ErrorCode::OperationTimeout) => c"operation timeout",
        Some(ErrorCode::BadArguments) => c"bad arguments",
        Some(ErrorCode::InvalidState) => c"invalid zhandle state",
        Some(ErrorCode::UnknownSession) => c"unknown session",
        Some(ErrorCode::NewConfigNoQuorum) => c"no quorum of new config is connected",
        Some(ErrorCode::ReconfigInProgress) => c"another reconfiguration is in progress",
        Some(ErrorCode::SslConnectionError) => c"SSL connection error",
        Some(ErrorCode::ApiError) => c"api error",
        Some(ErrorCode::NoNode) => c"no node",
        Some(ErrorCode::NoAuth) => c"not authenticated",
        Some(ErrorCode::BadVersion) => c"bad version",
        Some(ErrorCode::NoChildrenForEphemerals) => c"no children for ephemerals",
        Some(ErrorCode::NodeExists) => c"node exists",
        Some(ErrorCode::NotEmpty) => c"not empty",
        Some(ErrorCode::SessionExpired) => c"session expired",
        Some(ErrorCode::InvalidCallback) => c"invalid callback",
        Some(ErrorCode::InvalidAcl) => c"invalid acl",
        Some(ErrorCode::AuthFailed) => c"authentication failed",
        Some(ErrorCode::Closing) => c"zookeeper is closing",
        Some(ErrorCode::Nothing) => c"(not error) no server responses to process",
        Some(ErrorCode::SessionMoved) => c"session moved to another server, so operation is ignored",
        Some(ErrorCode::NotReadOnly) => c"not a read-only call",
        Some(ErrorCode::EphemeralOnLocalSession) => c"attempt to create ephemeral node on a local session",
        Some(ErrorCode::NoWatcher) => c"the watcher couldn't be found",
        Some(ErrorCode::RequestTimeout) => c"request timeout",
        Some(ErrorCode::ReconfigDisabled) => c"attempts to perform a reconfiguration operation when reconfiguration feature is disable",
        Some(ErrorCode::SessionClosedRequireSaslAuth) => c"session closed because client failed to authenticate",
        Some(ErrorCode::QuotaExceeded) => c"quota is exceeded",
        Some(ErrorCode::ThrottledOp) => c"operation was throttled due to high load",
        None => c"unknown error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_to_itself_and_has_a_message() {
        for &code in ErrorCode::ALL {
            assert_eq!(rc_of(&Error::Server(code)), code.as_i32());
            assert_ne!(message(code.as_i32()), c"unknown error");
        }
        assert_eq!(message(-126), c"unknown error");
        assert_eq!(rc_of(&Error::Closed), ZK_CLOSING);
    }

    #[test]
    fn constants_are_zookeepers_numbers() {
        let constants = [
            (ZK_OK, ErrorCode::Ok),
            (ZK_SYSTEMERROR, ErrorCode::SystemError),
            (ZK_RUNTIMEINCONSISTENCY, ErrorCode::RuntimeInconsistency),
            (ZK_DATAINCONSISTENCY, ErrorCode::DataInconsistency),
            (ZK_CONNECTIONLOSS, ErrorCode::ConnectionLoss),
            (ZK_MARSHALLINGERROR, ErrorCode::MarshallingError),
            (ZK_UNIMPLEMENTED, ErrorCode::Unimplemented),
            (ZK_OPERATIONTIMEOUT, ErrorCode::OperationTimeout),
            (ZK_BADARGUMENTS, ErrorCode::BadArguments),
            (ZK_INVALIDSTATE, ErrorCode::InvalidState),
            (ZK_UNKNOWNSESSION, ErrorCode::UnknownSession),
            (ZK_NEWCONFIGNOQUORUM, ErrorCode::NewConfigNoQuorum),
            (ZK_RECONFIGINPROGRESS, ErrorCode::ReconfigInProgress),
            (ZK_SSLCONNECTIONERROR, ErrorCode::SslConnectionError),
            (ZK_APIERROR, ErrorCode::ApiError),
            (ZK_NONODE, ErrorCode::NoNode),
            (ZK_NOAUTH, ErrorCode::NoAuth),
            (ZK_BADVERSION, ErrorCode::BadVersion),
            (
                ZK_NOCHILDRENFOREPHEMERALS,
                ErrorCode::NoChildrenForEphemerals,
            ),
            (ZK_NODEEXISTS, ErrorCode::NodeExists),
            (ZK_NOTEMPTY, ErrorCode::NotEmpty),
            (ZK_SESSIONEXPIRED, ErrorCode::SessionExpired),
            (ZK_INVALIDCALLBACK, ErrorCode::InvalidCallback),
            (ZK_INVALIDACL, ErrorCode::InvalidAcl),
            (ZK_AUTHFAILED, ErrorCode::AuthFailed),
            (ZK_CLOSING, ErrorCode::Closing),
            (ZK_NOTHING, ErrorCode::Nothing),
            (ZK_SESSIONMOVED, ErrorCode::SessionMoved),
            (ZK_NOTREADONLY, ErrorCode::NotReadOnly),
            (
                ZK_EPHEMERALONLOCALSESSION,
                ErrorCode::EphemeralOnLocalSession,
            ),
            (ZK_NOWATCHER, ErrorCode::NoWatcher),
            (ZK_REQUESTTIMEOUT, ErrorCode::RequestTimeout),
            (ZK_RECONFIGDISABLED, ErrorCode::ReconfigDisabled),
            (
                ZK_SESSIONCLOSEDREQUIRESASLAUTH,
                ErrorCode::SessionClosedRequireSaslAuth,
            ),
            (ZK_QUOTAEXCEEDED, ErrorCode::QuotaExceeded),
            (ZK_THROTTLEDOP, ErrorCode::ThrottledOp),
        ];
        assert_eq!(
            constants.len(),
            ErrorCode::ALL.len(),
            "a ZK_* constant is missing"
        );
        for (constant, code) in constants {
            assert_eq!(constant, code.as_i32(), "{code:?}");
        }
    }
}
