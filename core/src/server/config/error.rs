//! Errors and warnings of configuration parsing, each tied to where the setting came from.

use std::fmt;
use std::path::PathBuf;

/// Where a setting came from: a line of a file, a whole file, or a JVM-style `-D` property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A line of a configuration text (1-based; a continued line reports its first line).
    Line { source: String, line: usize },
    /// A configuration text as a whole (for settings that are missing or inconsistent).
    Source(String),
    /// A system property given as `-D<name>=<value>`.
    SystemProperty(String),
}

impl Location {
    /// The line number, when the setting came from a line of a file.
    pub fn line(&self) -> Option<usize> {
        match self {
            Location::Line { line, .. } => Some(*line),
            Location::Source(_) | Location::SystemProperty(_) => None,
        }
    }

    /// True when the setting came from a configuration file rather than a `-D` property.
    pub fn is_file(&self) -> bool {
        !matches!(self, Location::SystemProperty(_))
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line { source, line } => write!(f, "{source}:{line}"),
            Location::Source(source) => f.write_str(source),
            Location::SystemProperty(name) => write!(f, "-D{name}"),
        }
    }
}

/// A configuration that cannot be used. The message always says where and why, e.g.
/// `zoo.cfg:12: maxClientCnxns: invalid integer "abc"`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A configuration file (zoo.cfg or its dynamic file) could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid Java-properties syntax (a malformed `\uXXXX` escape).
    #[error("{at}: {reason}")]
    Syntax { at: Location, reason: String },
    /// A key has a value that cannot be used, or contradicts another key.
    #[error("{at}: {key}: {reason}")]
    Invalid {
        at: Location,
        key: String,
        reason: String,
    },
    /// A required key is absent.
    #[error("{at}: {key} is required but not set{context}")]
    Missing {
        at: Location,
        key: String,
        /// Why it is required here (empty, or starting with a separator).
        context: String,
    },
    /// `dataDir/myid` exists but does not hold a server id.
    #[error("{}: {reason}", path.display())]
    Myid { path: PathBuf, reason: String },
}

impl ConfigError {
    /// Where the offending setting came from, when it came from a configuration text.
    pub fn location(&self) -> Option<&Location> {
        match self {
            ConfigError::Syntax { at, .. }
            | ConfigError::Invalid { at, .. }
            | ConfigError::Missing { at, .. } => Some(at),
            ConfigError::Io { .. } | ConfigError::Myid { .. } => None,
        }
    }

    /// The line number of the offending setting, when it came from a line of a file.
    pub fn line(&self) -> Option<usize> {
        self.location().and_then(Location::line)
    }
}

/// Something accepted but worth an operator's attention: a key with no effect in zk, an
/// unknown key, a value Apache also corrects. Each is logged once with `tracing::warn!` when
/// found and kept in [`ServerConfig::warnings`](super::ServerConfig::warnings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    pub at: Location,
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}
