//! ZooKeeper's error codes (`KeeperException.Code`), the one table every layer uses.

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $name:ident = $value:literal, $java:literal, $message:literal; )*) => {
        /// A ZooKeeper error code with Apache's exact number.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(i32)]
        pub enum ErrorCode {
            $( $(#[$doc])* $name = $value, )*
        }

        impl ErrorCode {
            /// Every code, in table order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name),*];

            /// The code for a number, `None` for numbers ZooKeeper does not define.
            pub fn from_i32(value: i32) -> Option<Self> {
                match value {
                    $( $value => Some(ErrorCode::$name), )*
                    _ => None,
                }
            }

            /// The Java enum name (`NONODE`, `BADVERSION`, …).
            pub fn java_name(self) -> &'static str {
                match self { $( ErrorCode::$name => $java, )* }
            }

            /// The text Apache's `KeeperException` uses.
            pub fn message(self) -> &'static str {
                match self { $( ErrorCode::$name => $message, )* }
            }
        }
    };
}

error_codes! {
    Ok = 0, "OK", "ok";
    SystemError = -1, "SYSTEMERROR", "SystemError";
    /// Also the result of a multi op after the failing one.
    RuntimeInconsistency = -2, "RUNTIMEINCONSISTENCY", "RuntimeInconsistency";
    DataInconsistency = -3, "DATAINCONSISTENCY", "DataInconsistency";
    ConnectionLoss = -4, "CONNECTIONLOSS", "ConnectionLoss";
    MarshallingError = -5, "MARSHALLINGERROR", "MarshallingError";
    Unimplemented = -6, "UNIMPLEMENTED", "Unimplemented";
    OperationTimeout = -7, "OPERATIONTIMEOUT", "OperationTimeout";
    BadArguments = -8, "BADARGUMENTS", "BadArguments";
    /// C client only.
    InvalidState = -9, "INVALIDSTATE", "InvalidState";
    UnknownSession = -12, "UNKNOWNSESSION", "Unknown session";
    NewConfigNoQuorum = -13, "NEWCONFIGNOQUORUM", "No quorum of new config is connected and up-to-date with the leader of last commmitted config - try invoking reconfiguration after new servers are connected and synced";
    ReconfigInProgress = -14, "RECONFIGINPROGRESS", "Another reconfiguration is in progress -- concurrent reconfigs not supported (yet)";
    /// C client only.
    SslConnectionError = -15, "SSLCONNECTIONERROR", "SSL connection error";
    ApiError = -100, "APIERROR", "APIError";
    NoNode = -101, "NONODE", "NoNode";
    NoAuth = -102, "NOAUTH", "NoAuth";
    BadVersion = -103, "BADVERSION", "BadVersion";
    NoChildrenForEphemerals = -108, "NOCHILDRENFOREPHEMERALS", "NoChildrenForEphemerals";
    NodeExists = -110, "NODEEXISTS", "NodeExists";
    NotEmpty = -111, "NOTEMPTY", "Directory not empty";
    SessionExpired = -112, "SESSIONEXPIRED", "Session expired";
    InvalidCallback = -113, "INVALIDCALLBACK", "Invalid callback";
    InvalidAcl = -114, "INVALIDACL", "InvalidACL";
    AuthFailed = -115, "AUTHFAILED", "AuthFailed";
    /// C client only.
    Closing = -116, "CLOSING", "Closing";
    /// C client only.
    Nothing = -117, "NOTHING", "Nothing";
    SessionMoved = -118, "SESSIONMOVED", "Session moved";
    NotReadOnly = -119, "NOTREADONLY", "Not a read-only call";
    EphemeralOnLocalSession = -120, "EPHEMERALONLOCALSESSION", "Ephemeral node on local session";
    NoWatcher = -121, "NOWATCHER", "No such watcher";
    RequestTimeout = -122, "REQUESTTIMEOUT", "Request timeout";
    ReconfigDisabled = -123, "RECONFIGDISABLED", "Reconfig is disabled";
    SessionClosedRequireSaslAuth = -124, "SESSIONCLOSEDREQUIRESASLAUTH", "Session closed because client failed to authenticate";
    QuotaExceeded = -125, "QUOTAEXCEEDED", "Quota has exceeded";
    ThrottledOp = -127, "THROTTLEDOP", "Op throttled due to high load";
}

impl ErrorCode {
    pub fn as_i32(self) -> i32 {
        self as i32
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message(), self.as_i32())
    }
}

impl std::error::Error for ErrorCode {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for &code in ErrorCode::ALL {
            assert!(seen.insert(code.as_i32()));
            assert_eq!(ErrorCode::from_i32(code.as_i32()), Some(code));
        }
        assert_eq!(ErrorCode::from_i32(-126), None);
        assert_eq!(ErrorCode::NoNode.as_i32(), -101);
        assert_eq!(ErrorCode::QuotaExceeded.java_name(), "QUOTAEXCEEDED");
    }
}
