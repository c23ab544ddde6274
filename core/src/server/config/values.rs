//! Reading single values the way Apache does (`parseInt`, `Long.decode`, booleans, ports).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::error::{ConfigError, Location};
use super::properties;
use super::FOUR_LETTER_WORDS;

pub(super) fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read(path)
        .map(properties::decode)
        .map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })
}

pub(super) fn line_at(source: &str, line: usize) -> Location {
    Location::Line {
        source: source.to_string(),
        line,
    }
}

pub(super) fn invalid(key: &str, at: &Location, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        at: at.clone(),
        key: key.to_string(),
        reason: reason.into(),
    }
}

/// `Integer.parseInt`: optional sign, decimal digits, 32-bit range.
pub(super) fn java_int(key: &str, value: &str, at: &Location) -> Result<i64, ConfigError> {
    value
        .parse::<i32>()
        .map(i64::from)
        .map_err(|_| invalid(key, at, format!("invalid integer \"{value}\"")))
}

/// `Long.decode` (what `Integer.getInteger` / `Long.getLong` use): optional sign, then
/// `0x`/`0X`/`#` hex, `0` octal, or decimal.
pub(super) fn decoded_int(key: &str, value: &str, at: &Location) -> Result<i64, ConfigError> {
    let bad = || invalid(key, at, format!("invalid integer \"{value}\""));
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value.strip_prefix('+').unwrap_or(value)),
    };
    let (radix, digits) = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (16, hex)
    } else if let Some(hex) = digits.strip_prefix('#') {
        (16, hex)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return Err(bad());
    }
    let magnitude = i64::from_str_radix(digits, radix).map_err(|_| bad())?;
    Ok(if negative { -magnitude } else { magnitude })
}

pub(super) fn to_u32(key: &str, n: i64, at: &Location) -> Result<u32, ConfigError> {
    if n < 0 {
        return Err(invalid(key, at, format!("must not be negative, got {n}")));
    }
    u32::try_from(n).map_err(|_| invalid(key, at, format!("{n} is too large")))
}

pub(super) fn to_u64(key: &str, n: i64, at: &Location) -> Result<u64, ConfigError> {
    u64::try_from(n).map_err(|_| invalid(key, at, format!("must not be negative, got {n}")))
}

pub(super) fn port(key: &str, value: &str, at: &Location) -> Result<u16, ConfigError> {
    let n = java_int(key, value, at)?;
    u16::try_from(n).map_err(|_| invalid(key, at, format!("port {n} out of range 0..=65535")))
}

pub(super) fn host(key: &str, value: &str, at: &Location) -> Result<String, ConfigError> {
    if value.is_empty() {
        return Err(invalid(key, at, "empty address"));
    }
    Ok(value.to_string())
}

pub(super) fn path_value(key: &str, value: &str, at: &Location) -> Result<PathBuf, ConfigError> {
    if value.is_empty() {
        return Err(invalid(key, at, "empty path"));
    }
    Ok(PathBuf::from(value))
}

pub(super) fn boolean(key: &str, value: &str, at: &Location) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(
            key,
            at,
            format!("invalid boolean \"{value}\" (true or false)"),
        )),
    }
}

pub(super) fn yes_no(key: &str, value: &str, at: &Location) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err(invalid(
            key,
            at,
            format!("invalid value \"{value}\" (yes or no)"),
        )),
    }
}

/// The N of `server.N` / `group.N` / `weight.N` (`Long.parseLong`, so `+1` and `01` are 1).
pub(super) fn id_number(key: &str, id: &str, at: &Location) -> Result<u64, ConfigError> {
    id.strip_prefix('+')
        .unwrap_or(id)
        .parse::<u64>()
        .map_err(|_| invalid(key, at, format!("\"{id}\" is not a valid id")))
}

/// `4lw.commands.whitelist`: comma-separated words, `*` = all; empty entries skipped.
pub(super) fn parse_whitelist(
    key: &str,
    value: &str,
    at: &Location,
) -> Result<BTreeSet<String>, ConfigError> {
    let mut words = BTreeSet::new();
    for word in value.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        if word == "*" {
            words.extend(FOUR_LETTER_WORDS.iter().map(|w| w.to_string()));
            continue;
        }
        let lower = word.to_ascii_lowercase();
        if !FOUR_LETTER_WORDS.contains(&lower.as_str()) {
            return Err(invalid(
                key,
                at,
                format!(
                    "unknown four-letter word \"{word}\" (known: {})",
                    FOUR_LETTER_WORDS.join(" ")
                ),
            ));
        }
        words.insert(lower);
    }
    Ok(words)
}

/// `zoo.cfg.dynamic.100000000` → 0x100000000; no hex suffix → `None`.
pub(super) fn version_from_file_name(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let (_, suffix) = name.rsplit_once('.')?;
    u64::from_str_radix(suffix, 16).ok()
}
