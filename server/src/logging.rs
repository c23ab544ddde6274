//! Where the server's log goes and how much of it: `tracing` to stderr, as text or as one
//! JSON object per line.
//!
//! The level comes, first found first, from `ZK_LOG` (a `tracing` filter such as
//! `debug` or `info,zk_core::server::quorum=debug`), from Apache's `ZOO_LOG4J_PROP`
//! (`DEBUG,CONSOLE`: its level, as zkServer.sh passes it on), or from the system property
//! `zookeeper.root.logger` in `SERVER_JVMFLAGS`/`JVMFLAGS` (`-Dzookeeper.root.logger=WARN,
//! CONSOLE`); otherwise `info`. `ZK_LOG_FORMAT=json` writes JSON lines (level, target,
//! message and fields, timestamp) for log shippers.

use tracing_subscriber::EnvFilter;
use zk_core::server::config;

/// The openraft crate's own logging is far chattier than the server's; only its errors go
/// out unless `ZK_LOG` says otherwise.
const QUIET_CRATES: &str = "openraft=error";

/// How the log is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// A `tracing` filter directive.
    pub filter: String,
    pub json: bool,
    /// A setting that was not understood, to be logged once the log exists.
    pub problem: Option<String>,
}

impl LogSettings {
    /// The settings from this process's environment.
    pub fn from_env() -> LogSettings {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let root_logger = config::server_jvm_flags_from_env()
            .into_iter()
            .rev()
            .find(|(name, _)| name == "zookeeper.root.logger")
            .map(|(_, value)| value);
        LogSettings::from_sources(
            var("ZK_LOG").as_deref(),
            var("ZOO_LOG4J_PROP").as_deref(),
            root_logger.as_deref(),
            var("ZK_LOG_FORMAT").as_deref(),
        )
    }

    /// The settings from the sources [`Self::from_env`] reads, in its order.
    pub fn from_sources(
        zk_log: Option<&str>,
        log4j_prop: Option<&str>,
        root_logger: Option<&str>,
        format: Option<&str>,
    ) -> LogSettings {
        let mut problem = None;
        let filter = match (zk_log, log4j_prop.or(root_logger)) {
            (Some(filter), _) => filter.trim().to_owned(),
            (None, Some(apache)) => match log4j_level(apache) {
                Some(level) => format!("{level},{QUIET_CRATES}"),
                None => {
                    problem = Some(format!(
                        "log level {apache:?} not understood (expected TRACE, DEBUG, INFO, WARN, ERROR, FATAL, OFF or ALL, then appenders); logging at info"
                    ));
                    format!("info,{QUIET_CRATES}")
                }
            },
            (None, None) => format!("info,{QUIET_CRATES}"),
        };
        let json = match format.map(|f| f.trim().to_ascii_lowercase()) {
            None => false,
            Some(f) if f == "json" => true,
            Some(f) if f == "text" => false,
            Some(other) => {
                problem = Some(format!(
                    "ZK_LOG_FORMAT={other:?} not understood (json or text); writing text"
                ));
                false
            }
        };
        LogSettings {
            filter,
            json,
            problem,
        }
    }

    /// Installs the log for this process (once; later calls change nothing).
    pub fn install(&self) {
        let filter = EnvFilter::try_new(&self.filter).unwrap_or_else(|e| {
            eprintln!(
                "zk-server: log filter {:?} not understood ({e}); logging at info",
                self.filter
            );
            EnvFilter::new(format!("info,{QUIET_CRATES}"))
        });
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr);
        let _ = if self.json {
            builder.json().with_current_span(false).try_init()
        } else {
            builder
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .try_init()
        };
        if let Some(problem) = &self.problem {
            tracing::warn!("{problem}");
        }
    }
}

/// The `tracing` level of a log4j setting such as `DEBUG,CONSOLE,ROLLINGFILE`.
fn log4j_level(setting: &str) -> Option<&'static str> {
    let level = setting.split(',').next()?.trim().to_ascii_uppercase();
    Some(match level.as_str() {
        "ALL" | "TRACE" => "trace",
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARN" => "warn",
        "ERROR" | "FATAL" => "error",
        "OFF" => "off",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zk_log_wins_then_apaches_script_variable_then_the_system_property() {
        let s = LogSettings::from_sources(
            Some("debug,zk_core=trace"),
            Some("WARN,CONSOLE"),
            None,
            None,
        );
        assert_eq!(s.filter, "debug,zk_core=trace");
        let s = LogSettings::from_sources(None, Some("WARN,CONSOLE"), Some("ERROR,CONSOLE"), None);
        assert_eq!(s.filter, "warn,openraft=error");
        let s = LogSettings::from_sources(None, None, Some("fatal, ROLLINGFILE"), None);
        assert_eq!(s.filter, "error,openraft=error");
        let s = LogSettings::from_sources(None, None, None, None);
        assert_eq!(
            (s.filter.as_str(), s.json, s.problem),
            ("info,openraft=error", false, None)
        );
    }

    #[test]
    fn json_on_request_and_what_is_not_understood_is_reported() {
        assert!(LogSettings::from_sources(None, None, None, Some("JSON")).json);
        let s = LogSettings::from_sources(None, Some("LOUD,CONSOLE"), None, Some("xml"));
        assert_eq!(s.filter, "info,openraft=error");
        assert!(!s.json);
        assert!(s.problem.is_some_and(|p| p.contains("xml")));
        let s = LogSettings::from_sources(None, Some("LOUD,CONSOLE"), None, None);
        assert!(s.problem.is_some_and(|p| p.contains("LOUD")));
    }
}
