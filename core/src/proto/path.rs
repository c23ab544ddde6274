//! ZooKeeper's path rules (`PathUtils.validatePath`): absolute, no empty, `.` or `..`
//! segments, no trailing slash except the root, no control or reserved characters.

/// Checks a path as Apache's server does. For sequential creates the server appends the
/// counter before checking, so `/queue/` is a valid sequential path.
pub fn validate(path: &str, sequential: bool) -> Result<(), PathError> {
    if sequential {
        let mut with_suffix = String::with_capacity(path.len() + 1);
        with_suffix.push_str(path);
        with_suffix.push('1');
        return validate(&with_suffix, false);
    }
    if path.is_empty() {
        return Err(PathError("path length must be > 0"));
    }
    if !path.starts_with('/') {
        return Err(PathError("path must start with / character"));
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err(PathError("path must not end with / character"));
    }
    for segment in path[1..].split('/') {
        match segment {
            "" => return Err(PathError("empty node name specified")),
            "." | ".." => return Err(PathError("relative paths not allowed")),
            _ => {}
        }
    }
    if path.chars().any(is_forbidden) {
        return Err(PathError("invalid character in path"));
    }
    Ok(())
}

/// Why a path is invalid; the server answers BADARGUMENTS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid path: {0}")]
pub struct PathError(pub &'static str);

/// Apache checks UTF-16 code units: `\u{d800}`–`\u{f8ff}` covers the surrogates, so every
/// character outside the Basic Multilingual Plane (a surrogate pair in Java) is forbidden too.
fn is_forbidden(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{e000}'..='\u{f8ff}'
        | '\u{fff0}'..='\u{ffff}'
        | '\u{10000}'..=char::MAX)
}

/// The parent of a valid non-root path (`/a/b` → `/a`, `/a` → `/`).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// The last segment of a valid path (`/a/b` → `b`, `/` → ``).
pub fn basename(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// `parent` joined with `child`, without a double slash under the root.
pub fn join(parent: &str, child: &str) -> String {
    let mut out = String::with_capacity(parent.len() + child.len() + 1);
    out.push_str(parent);
    if !parent.ends_with('/') {
        out.push('/');
    }
    out.push_str(child);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apache_rules() {
        for ok in ["/", "/a", "/a/b", "/a.b", "/..a", "/zookeeper", "/é"] {
            assert!(validate(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a",
            "/a/",
            "//",
            "/a//b",
            "/.",
            "/a/..",
            "/a\u{0}",
            "/a\u{1}",
            "/\u{e000}",
        ] {
            assert!(validate(bad, false).is_err(), "{bad:?}");
        }
        // Outside the BMP: a surrogate pair for Java's PathUtils, so invalid there.
        for bad in ["/\u{1f600}", "/a\u{10000}b", "/\u{10ffff}"] {
            assert!(validate(bad, false).is_err(), "{bad:?}");
        }
        assert!(validate("/seq/", true).is_ok());
        assert!(validate("/seq/.", true).is_ok());
        assert!(validate("/seq//", true).is_err());
    }

    /// Found by `fuzz/` (target `path`, differential against Apache's `PathUtils`): characters
    /// outside the BMP were accepted, but Java sees them as surrogates and rejects the path.
    #[test]
    fn fuzz_regression_supplementary_plane() {
        assert!(validate("/\u{fc}\u{822ec}OO", false).is_err());
        assert!(validate("/q/\u{1f600}", true).is_err());
        // The last BMP character before the reserved range is still fine.
        assert!(validate("/\u{ffef}", false).is_ok());
    }

    #[test]
    fn parent_and_basename() {
        assert_eq!(parent("/a"), "/");
        assert_eq!(parent("/a/b/c"), "/a/b");
        assert_eq!(basename("/a/b"), "b");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
    }
}
