//! Opcodes, special xids, create modes, permissions and the watch/state enums, with
//! Apache's numbers (`ZooDefs`, `CreateMode`, `Watcher`).

use super::DecodeError;

macro_rules! int_enum {
    ($(#[$doc:meta])* $name:ident { $( $(#[$vdoc:meta])* $variant:ident = $value:literal, )* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(i32)]
        pub enum $name { $( $(#[$vdoc])* $variant = $value, )* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn from_i32(value: i32) -> Option<Self> {
                match value { $( $value => Some($name::$variant), )* _ => None }
            }

            pub fn as_i32(self) -> i32 {
                self as i32
            }
        }
    };
}

int_enum! {
    /// Request and txn types (`ZooDefs.OpCode`).
    OpCode {
        Notification = 0,
        Create = 1,
        Delete = 2,
        Exists = 3,
        GetData = 4,
        SetData = 5,
        GetAcl = 6,
        SetAcl = 7,
        GetChildren = 8,
        Sync = 9,
        Ping = 11,
        GetChildren2 = 12,
        Check = 13,
        Multi = 14,
        Create2 = 15,
        Reconfig = 16,
        CheckWatches = 17,
        RemoveWatches = 18,
        CreateContainer = 19,
        DeleteContainer = 20,
        CreateTtl = 21,
        MultiRead = 22,
        Auth = 100,
        SetWatches = 101,
        Sasl = 102,
        GetEphemerals = 103,
        GetAllChildrenNumber = 104,
        SetWatches2 = 105,
        AddWatch = 106,
        WhoAmI = 107,
        CreateSession = -10,
        CloseSession = -11,
        Error = -1,
    }
}

impl OpCode {
    /// Requests that change state and so go through the write path.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            OpCode::Create
                | OpCode::Create2
                | OpCode::CreateContainer
                | OpCode::CreateTtl
                | OpCode::Delete
                | OpCode::DeleteContainer
                | OpCode::SetData
                | OpCode::SetAcl
                | OpCode::Check
                | OpCode::Multi
                | OpCode::Reconfig
                | OpCode::CreateSession
                | OpCode::CloseSession
        )
    }
}

/// Server-to-client watch notification.
pub const NOTIFICATION_XID: i32 = -1;
/// Ping request and reply.
pub const PING_XID: i32 = -2;
/// AuthPacket request and reply.
pub const AUTH_XID: i32 = -4;
/// SetWatches / SetWatches2 request and reply.
pub const SET_WATCHES_XID: i32 = -8;

/// `jute.maxbuffer` default: the largest frame either side accepts.
pub const DEFAULT_MAX_BUFFER: usize = 0xfffff;

/// Largest TTL a TTL node may carry (`EphemeralType.MAX_TTL`, 40 bits of milliseconds).
pub const MAX_TTL: i64 = 0xFF_FFFF_FFFF;

int_enum! {
    /// Create modes (`CreateMode`): an enumeration, not a bitmask.
    CreateMode {
        Persistent = 0,
        Ephemeral = 1,
        PersistentSequential = 2,
        EphemeralSequential = 3,
        Container = 4,
        PersistentWithTtl = 5,
        PersistentSequentialWithTtl = 6,
    }
}

impl CreateMode {
    pub fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }

    pub fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }

    pub fn is_container(self) -> bool {
        self == CreateMode::Container
    }

    pub fn is_ttl(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
        )
    }

    /// The opcode Apache's Java client uses for this mode with `create2` semantics.
    pub fn create_opcode(self) -> OpCode {
        if self.is_container() {
            OpCode::CreateContainer
        } else if self.is_ttl() {
            OpCode::CreateTtl
        } else {
            OpCode::Create2
        }
    }
}

/// ACL permission bits (`ZooDefs.Perms`).
pub mod perms {
    pub const READ: i32 = 1;
    pub const WRITE: i32 = 1 << 1;
    pub const CREATE: i32 = 1 << 2;
    pub const DELETE: i32 = 1 << 3;
    pub const ADMIN: i32 = 1 << 4;
    pub const ALL: i32 = READ | WRITE | CREATE | DELETE | ADMIN;

    /// zkCli's letters for a permission set, in Apache's order `cdrwa`.
    pub fn to_letters(perms: i32) -> String {
        let mut s = String::new();
        for (bit, letter) in [
            (CREATE, 'c'),
            (DELETE, 'd'),
            (READ, 'r'),
            (WRITE, 'w'),
            (ADMIN, 'a'),
        ] {
            if perms & bit != 0 {
                s.push(letter);
            }
        }
        s
    }

    /// Parses zkCli's letters (`crwda` in any order); `None` on an unknown letter.
    pub fn from_letters(letters: &str) -> Option<i32> {
        letters.chars().try_fold(0, |acc, c| {
            let bit = match c {
                'r' => READ,
                'w' => WRITE,
                'c' => CREATE,
                'd' => DELETE,
                'a' => ADMIN,
                _ => return None,
            };
            Some(acc | bit)
        })
    }
}

int_enum! {
    /// `Watcher.Event.EventType`.
    EventType {
        None = -1,
        NodeCreated = 1,
        NodeDeleted = 2,
        NodeDataChanged = 3,
        NodeChildrenChanged = 4,
        DataWatchRemoved = 5,
        ChildWatchRemoved = 6,
        PersistentWatchRemoved = 7,
    }
}

int_enum! {
    /// `Watcher.Event.KeeperState` as sent in notifications and used by clients.
    KeeperState {
        Unknown = -1,
        Disconnected = 0,
        NoSyncConnected = 1,
        SyncConnected = 3,
        AuthFailed = 4,
        ConnectedReadOnly = 5,
        SaslAuthenticated = 6,
        Expired = -112,
        Closed = 7,
    }
}

int_enum! {
    /// `Watcher.WatcherType` used by checkWatches / removeWatches.
    WatcherType {
        Children = 1,
        Data = 2,
        Any = 3,
        Persistent = 4,
        PersistentRecursive = 5,
    }
}

int_enum! {
    /// `ZooDefs.AddWatchModes`.
    AddWatchMode {
        Persistent = 0,
        PersistentRecursive = 1,
    }
}

impl OpCode {
    /// Like [`OpCode::from_i32`], as a decode error for unknown numbers.
    pub fn decode(value: i32) -> Result<Self, DecodeError> {
        OpCode::from_i32(value).ok_or(DecodeError::UnknownOpCode(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_modes() {
        assert_eq!(CreateMode::from_i32(7), None);
        assert!(CreateMode::EphemeralSequential.is_ephemeral());
        assert!(CreateMode::PersistentSequentialWithTtl.is_sequential());
        assert_eq!(
            CreateMode::Container.create_opcode(),
            OpCode::CreateContainer
        );
        assert_eq!(
            CreateMode::PersistentWithTtl.create_opcode(),
            OpCode::CreateTtl
        );
    }

    #[test]
    fn perm_letters() {
        assert_eq!(perms::to_letters(perms::ALL), "cdrwa");
        assert_eq!(perms::from_letters("rw"), Some(3));
        assert_eq!(perms::from_letters("rx"), None);
    }
}
