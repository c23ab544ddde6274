//! JVM-style `-D` flags, as operators put them in `SERVER_JVMFLAGS` / `JVMFLAGS`.

/// Extracts the `-Dname=value` system properties from a JVM command-line string such as
/// `-Dzookeeper.DigestAuthenticationProvider.superDigest=super:abc= -Xmx1g -Dreadonlymode.enabled=true`.
///
/// Words are split on whitespace only, with no quote removal, exactly as `zkServer.sh` expands
/// its unquoted `$JVMFLAGS`. Words not starting with `-D` (`-Xmx1g`, `-XX:...`, `-cp`) are
/// skipped. `-Dname` without `=` gives an empty value, as in Java. The value is everything after
/// the first `=`, so values may themselves contain `=`. Order is kept: when a name repeats, the
/// later one wins in [`ServerConfig::apply_system_properties`](super::ServerConfig::apply_system_properties),
/// as in the JVM.
pub fn parse_jvm_flags(flags: &str) -> Vec<(String, String)> {
    flags
        .split_whitespace()
        .filter_map(|word| {
            let property = word.strip_prefix("-D").filter(|p| !p.is_empty())?;
            let (name, value) = property.split_once('=').unwrap_or((property, ""));
            (!name.is_empty()).then(|| (name.to_string(), value.to_string()))
        })
        .collect()
}

/// The system properties `zkServer.sh` would pass to the server: `$SERVER_JVMFLAGS` followed by
/// `$JVMFLAGS` (so `JVMFLAGS` wins on a repeated name), read from the environment.
pub fn server_jvm_flags_from_env() -> Vec<(String, String)> {
    let server = std::env::var("SERVER_JVMFLAGS").unwrap_or_default();
    let common = std::env::var("JVMFLAGS").unwrap_or_default();
    parse_jvm_flags(&format!("{server} {common}"))
}
