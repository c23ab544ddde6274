//! Java `.properties` syntax, as `java.util.Properties.load` reads zoo.cfg.
//!
//! - A natural line ends at `\n`, `\r` or `\r\n`. Leading spaces, tabs and form feeds are
//!   skipped; blank lines are skipped; a line whose first other character is `#` or `!` is a
//!   comment (even if it ends in a backslash).
//! - A line ending in an odd number of backslashes continues on the next line: the backslash
//!   goes, the next line's leading whitespace goes, the rest is appended. A blank line ends it.
//! - The key runs to the first unescaped `=`, `:`, space, tab or form feed. Then whitespace, at
//!   most one `=` or `:`, and more whitespace are skipped; the rest is the value.
//! - Escapes in keys and values: `\t \n \r \f`, `\uXXXX` (UTF-16, pairs combine), and `\c` = `c`.
//! - ZooKeeper then trims both key and value (`String.trim`: every char <= U+0020).
//!
//! Every occurrence is returned in file order; the caller lets the last one win, as
//! `Properties` does.

use super::error::{ConfigError, Location};

/// One `key=value` pair and the (first) line it was written on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RawProperty {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// Decodes a file's bytes: UTF-8 when valid, otherwise ISO-8859-1 (what Java's
/// `Properties.load(InputStream)` assumes).
pub(super) fn decode(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => err.into_bytes().into_iter().map(char::from).collect(),
    }
}

/// Splits `text` into properties. `source` names the text in errors.
pub(super) fn parse(text: &str, source: &str) -> Result<Vec<RawProperty>, ConfigError> {
    let lines = natural_lines(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let first_line = i + 1;
        let start = skip_leading_ws(lines[i]);
        i += 1;
        if start.is_empty() || start.starts_with('#') || start.starts_with('!') {
            continue;
        }
        let mut logical = String::new();
        let mut chunk = start;
        loop {
            if ends_in_odd_backslashes(chunk) {
                logical.push_str(&chunk[..chunk.len() - 1]);
                match lines.get(i) {
                    Some(next) => {
                        chunk = skip_leading_ws(next);
                        i += 1;
                    }
                    None => break,
                }
            } else {
                logical.push_str(chunk);
                break;
            }
        }
        let at = || Location::Line {
            source: source.to_string(),
            line: first_line,
        };
        let (raw_key, raw_value) = split_key_value(&logical);
        let key = unescape(raw_key).map_err(|reason| ConfigError::Syntax { at: at(), reason })?;
        let value =
            unescape(raw_value).map_err(|reason| ConfigError::Syntax { at: at(), reason })?;
        out.push(RawProperty {
            key: java_trim(&key).to_string(),
            value: java_trim(&value).to_string(),
            line: first_line,
        });
    }
    Ok(out)
}

/// `String.trim()`: strips every char <= U+0020 from both ends.
pub(super) fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

fn is_props_ws(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\x0c'
}

fn skip_leading_ws(line: &str) -> &str {
    line.trim_start_matches(is_props_ws)
}

fn natural_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push(&text[start..i]);
                start = i + 1;
            }
            b'\r' => {
                lines.push(&text[start..i]);
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < bytes.len() {
        lines.push(&text[start..]);
    }
    lines
}

fn ends_in_odd_backslashes(s: &str) -> bool {
    s.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

/// Splits a logical line into the raw (still escaped) key and value.
fn split_key_value(line: &str) -> (&str, &str) {
    let mut escaped = false;
    let mut key_end = line.len();
    let mut value_start = line.len();
    let mut has_separator = false;
    for (pos, c) in line.char_indices() {
        if !escaped && (c == '=' || c == ':') {
            key_end = pos;
            value_start = pos + 1;
            has_separator = true;
            break;
        }
        if !escaped && is_props_ws(c) {
            key_end = pos;
            value_start = pos + c.len_utf8();
            break;
        }
        escaped = c == '\\' && !escaped;
    }
    let rest = &line[value_start..];
    let mut skip = 0;
    for (pos, c) in rest.char_indices() {
        if is_props_ws(c) {
            skip = pos + 1;
        } else if !has_separator && (c == '=' || c == ':') {
            has_separator = true;
            skip = pos + 1;
        } else {
            break;
        }
    }
    (&line[..key_end], &rest[skip..])
}

/// Resolves backslash escapes; `Err` carries the reason for a malformed `\uXXXX`.
fn unescape(raw: &str) -> Result<String, String> {
    if !raw.contains('\\') {
        return Ok(raw.to_string());
    }
    let mut out = String::with_capacity(raw.len());
    let mut units: Vec<u16> = Vec::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            flush_utf16(&mut units, &mut out);
            out.push(c);
            continue;
        }
        let Some(next) = chars.next() else {
            break;
        };
        if next == 'u' {
            let hex: String = chars.by_ref().take(4).collect();
            let unit = (hex.len() == 4 && hex.chars().all(|h| h.is_ascii_hexdigit()))
                .then(|| u16::from_str_radix(&hex, 16).ok())
                .flatten()
                .ok_or_else(|| format!("malformed \\uXXXX escape \"\\u{hex}\""))?;
            units.push(unit);
            continue;
        }
        flush_utf16(&mut units, &mut out);
        out.push(match next {
            't' => '\t',
            'n' => '\n',
            'r' => '\r',
            'f' => '\x0c',
            other => other,
        });
    }
    flush_utf16(&mut units, &mut out);
    Ok(out)
}

fn flush_utf16(units: &mut Vec<u16>, out: &mut String) {
    if !units.is_empty() {
        out.extend(
            char::decode_utf16(units.drain(..)).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)),
        );
    }
}
