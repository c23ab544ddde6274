//! The JSON the AdminServer answers with: a small value type that keeps object keys in the
//! order they were added (Apache's responses are `LinkedHashMap`s), rendered the way
//! Jackson's default pretty printer lays them out, so `curl` output reads like Apache's.

use std::fmt::Write as _;

use crate::server::fourlw::format::java_double;

/// A JSON value. Objects keep insertion order; numbers are Java's `long` or `double`.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn str(s: impl Into<String>) -> Json {
        Json::Str(s.into())
    }

    /// An unsigned count; counts past `i64::MAX` (never seen in practice) saturate.
    pub fn count(n: impl TryInto<i64>) -> Json {
        Json::Int(n.try_into().unwrap_or(i64::MAX))
    }

    /// An object from `(key, value)` pairs, in their order.
    pub fn object<K: Into<String>>(fields: impl IntoIterator<Item = (K, Json)>) -> Json {
        Json::Object(fields.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// Jackson's `INDENT_OUTPUT` layout: two spaces per enclosing object, `"key" : value`,
    /// arrays on one line (`[ 1, 2 ]`), empty containers as `{ }` and `[ ]`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(n) => {
                let _ = write!(out, "{n}");
            }
            // JSON has no NaN or infinity; Jackson would write invalid JSON there.
            Json::Float(f) if !f.is_finite() => out.push_str("null"),
            Json::Float(f) => out.push_str(&java_double(*f)),
            Json::Str(s) => write_string(out, s),
            Json::Array(items) if items.is_empty() => out.push_str("[ ]"),
            Json::Array(items) => {
                out.push_str("[ ");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write(out, depth);
                }
                out.push_str(" ]");
            }
            Json::Object(fields) if fields.is_empty() => out.push_str("{ }"),
            Json::Object(fields) => {
                out.push('{');
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push('\n');
                    indent(out, depth + 1);
                    write_string(out, key);
                    out.push_str(" : ");
                    value.write(out, depth + 1);
                }
                out.push('\n');
                indent(out, depth);
                out.push('}');
            }
        }
    }
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_jacksons_pretty_printer() {
        let value = Json::object([
            ("n", Json::Int(-3)),
            ("avg", Json::Float(2.5)),
            ("zero", Json::Float(0.0)),
            ("nan", Json::Float(f64::NAN)),
            ("s", Json::str("a\"b\\c\n\u{1}")),
            ("none", Json::Null),
            ("ok", Json::Bool(true)),
            ("ids", Json::Array(vec![Json::Int(1), Json::Int(2)])),
            ("empty", Json::Array(vec![])),
            ("nothing", Json::Object(vec![])),
            (
                "conns",
                Json::Array(vec![Json::object([("a", Json::Int(1))])]),
            ),
        ]);
        assert_eq!(
            value.render(),
            "{\n  \"n\" : -3,\n  \"avg\" : 2.5,\n  \"zero\" : 0.0,\n  \"nan\" : null,\n  \
             \"s\" : \"a\\\"b\\\\c\\n\\u0001\",\n  \"none\" : null,\n  \"ok\" : true,\n  \
             \"ids\" : [ 1, 2 ],\n  \"empty\" : [ ],\n  \"nothing\" : { },\n  \
             \"conns\" : [ {\n    \"a\" : 1\n  } ]\n}"
        );
        assert_eq!(Json::count(u64::MAX), Json::Int(i64::MAX));
    }
}
