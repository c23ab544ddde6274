//! What a client reports: watch events and session states.

use crate::proto::{EventType, KeeperState};

/// A watch notification, with the path as the caller named it (chroot stripped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedEvent {
    pub event_type: EventType,
    pub state: KeeperState,
    pub path: String,
    /// The zxid of the change, where the server sends one (3.9+; -1 from 3.8).
    pub zxid: i64,
}

impl WatchedEvent {
    pub(crate) fn session(state: KeeperState) -> Self {
        WatchedEvent {
            event_type: EventType::None,
            state,
            path: String::new(),
            zxid: -1,
        }
    }
}

/// The connection and session as the client sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionState {
    /// Looking for a server (first connect).
    Connecting,
    Connected,
    ConnectedReadOnly,
    /// Connected, and the SASL exchange this client was configured for succeeded on this
    /// connection (Apache's `KeeperState.SaslAuthenticated`); follows `Connected` (or
    /// `ConnectedReadOnly`) on every connection of a client with SASL options.
    SaslAuthenticated,
    /// Disconnected; the session may still be alive and is being re-established.
    Suspended,
    /// The session is gone; this client is dead.
    Expired,
    AuthFailed,
    Closed,
}

impl SessionState {
    pub fn is_connected(self) -> bool {
        matches!(
            self,
            SessionState::Connected
                | SessionState::ConnectedReadOnly
                | SessionState::SaslAuthenticated
        )
    }

    /// No further state can follow.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            SessionState::Expired | SessionState::AuthFailed | SessionState::Closed
        )
    }
}

/// A state change, tagged with the session it concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateEvent {
    pub state: SessionState,
    pub session_id: i64,
}
