//! What this server is right now (standalone, or its place in the ensemble), readable
//! without a lock by every part of the server.

use std::sync::atomic::{AtomicU8, Ordering};

/// What this server is, as `srvr`, `stat`, `mntr` and `zk-server status` report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Role {
    Standalone = 0,
    Leader = 1,
    Follower = 2,
    Observer = 3,
    /// An ensemble member that knows no leader (electing, or cut off from the quorum).
    Looking = 4,
    /// Cut off from the quorum with `readonlymode.enabled`: serves reads to clients that allow it.
    ReadOnly = 5,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Standalone => "standalone",
            Role::Leader => "leader",
            Role::Follower => "follower",
            Role::Observer => "observer",
            Role::Looking => "looking",
            Role::ReadOnly => "read-only",
        }
    }

    fn from_u8(value: u8) -> Role {
        match value {
            1 => Role::Leader,
            2 => Role::Follower,
            3 => Role::Observer,
            4 => Role::Looking,
            5 => Role::ReadOnly,
            _ => Role::Standalone,
        }
    }
}

/// The role cell the server reads without locking.
#[derive(Debug, Default)]
pub struct RoleCell(AtomicU8);

impl RoleCell {
    pub fn get(&self) -> Role {
        Role::from_u8(self.0.load(Ordering::Acquire))
    }

    pub(crate) fn set(&self, role: Role) {
        self.0.store(role as u8, Ordering::Release);
    }
}
