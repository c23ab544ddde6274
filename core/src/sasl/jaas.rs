//! JAAS login configuration files (`-Djava.security.auth.login.config=FILE`), the syntax
//! `javax.security.auth.login.ConfigFile` reads:
//!
//! ```text
//! Server {
//!     org.apache.zookeeper.server.auth.DigestLoginModule required
//!     user_super="adminsecret"
//!     user_bob="bobsecret";
//! };
//! ```
//!
//! A file is a list of sections `NAME { ENTRY* };`; an entry is `MODULE FLAG (KEY=VALUE)* ;`
//! with FLAG one of `required`, `requisite`, `sufficient`, `optional`. Values are quoted
//! strings (`\` escapes the next character) or bare words. `//`, `/* */` and `#` comments are
//! skipped. Every error names the file and the line where it was seen.

use std::fmt;
use std::path::{Path, PathBuf};

/// A parsed JAAS file: its sections in file order.
#[derive(Clone, PartialEq, Eq)]
pub struct JaasConfig {
    pub sections: Vec<Section>,
}

/// One `NAME { ... };` section.
#[derive(Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub entries: Vec<Entry>,
}

/// One login module line of a section.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    /// The login module's class name.
    pub module: String,
    /// `required`, `requisite`, `sufficient` or `optional` (lower case).
    pub flag: String,
    /// `key=value` options in file order.
    pub options: Vec<(String, String)>,
    /// The line where the entry starts.
    pub line: usize,
}

// Options hold passwords: never print their values.
impl fmt::Debug for JaasConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.sections).finish()
    }
}

impl fmt::Debug for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Section")
            .field("name", &self.name)
            .field("entries", &self.entries)
            .finish()
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = self.options.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Entry")
            .field("module", &self.module)
            .field("flag", &self.flag)
            .field("option_keys", &keys)
            .field("line", &self.line)
            .finish()
    }
}

/// A JAAS file that cannot be read or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", file.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct JaasError {
    pub file: PathBuf,
    /// The line of the error; `None` when the file could not be read at all.
    pub line: Option<usize>,
    pub message: String,
}

/// The largest JAAS file read; a login configuration is a few lines.
pub const MAX_JAAS_BYTES: u64 = 1 << 20;

impl JaasConfig {
    /// Reads and parses `path`.
    pub fn from_file(path: &Path) -> Result<JaasConfig, JaasError> {
        let error = |message: String| JaasError {
            file: path.to_owned(),
            line: None,
            message,
        };
        let meta = std::fs::metadata(path).map_err(|e| error(format!("cannot read: {e}")))?;
        if meta.len() > MAX_JAAS_BYTES {
            return Err(error(format!(
                "{} bytes, more than the {MAX_JAAS_BYTES} a JAAS file may have",
                meta.len()
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| error(format!("cannot read: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|_| error("not UTF-8 text".into()))?;
        Self::parse(&text, path)
    }

    /// Parses JAAS text; `file` only names the source in errors.
    pub fn parse(text: &str, file: &Path) -> Result<JaasConfig, JaasError> {
        let tokens = tokenize(text).map_err(|(line, message)| JaasError {
            file: file.to_owned(),
            line: Some(line),
            message,
        })?;
        Parser {
            tokens,
            pos: 0,
            file,
            last_line: text.lines().count().max(1),
        }
        .file()
    }

    /// The section called `name` (Java matches section names exactly).
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Quoted(String),
    Open,
    Close,
    Semi,
    Equals,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("'{w}'"),
            Tok::Quoted(_) => "a quoted string".into(),
            Tok::Open => "'{'".into(),
            Tok::Close => "'}'".into(),
            Tok::Semi => "';'".into(),
            Tok::Equals => "'='".into(),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, (usize, String)> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '#' => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let start = line;
                chars.next();
                let mut prev = ' ';
                loop {
                    match chars.next() {
                        None => return Err((start, "unterminated /* comment".into())),
                        Some('/') if prev == '*' => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            prev = c;
                        }
                    }
                }
            }
            '{' => out.push((Tok::Open, line)),
            '}' => out.push((Tok::Close, line)),
            ';' => out.push((Tok::Semi, line)),
            '=' => out.push((Tok::Equals, line)),
            '"' => {
                let start = line;
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None => return Err((start, "unterminated quoted string".into())),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            None => return Err((start, "unterminated quoted string".into())),
                            Some(c) => {
                                if c == '\n' {
                                    line += 1;
                                }
                                value.push(c);
                            }
                        },
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            value.push(c);
                        }
                    }
                }
                out.push((Tok::Quoted(value), start));
            }
            c if is_word_char(c) => {
                let mut word = String::from(c);
                while let Some(&next) = chars.peek() {
                    if !is_word_char(next) {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                out.push((Tok::Word(word), line));
            }
            c => return Err((line, format!("unexpected character '{c}'"))),
        }
    }
    Ok(out)
}

fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '{' | '}' | ';' | '=' | '"' | '#') && !c.is_control()
}

struct Parser<'a> {
    tokens: Vec<(Tok, usize)>,
    pos: usize,
    file: &'a Path,
    last_line: usize,
}

impl Parser<'_> {
    fn file(mut self) -> Result<JaasConfig, JaasError> {
        let mut sections: Vec<Section> = Vec::new();
        while self.pos < self.tokens.len() {
            let (name, line) = self.name("a section name")?;
            if sections.iter().any(|s| s.name == name) {
                return Err(self.error(line, format!("section '{name}' appears twice")));
            }
            self.expect(&Tok::Open, "'{' after the section name")?;
            let mut entries = Vec::new();
            while !matches!(self.peek(), Some(Tok::Close)) {
                entries.push(self.entry()?);
            }
            self.pos += 1;
            self.expect(&Tok::Semi, "';' after the section's '}'")?;
            sections.push(Section { name, entries });
        }
        Ok(JaasConfig { sections })
    }

    fn entry(&mut self) -> Result<Entry, JaasError> {
        let (module, line) = self.word("a login module class name")?;
        let (flag, flag_line) = self.word("a control flag")?;
        let flag = flag.to_ascii_lowercase();
        if !matches!(
            flag.as_str(),
            "required" | "requisite" | "sufficient" | "optional"
        ) {
            return Err(self.error(
                flag_line,
                format!("control flag '{flag}' is not required, requisite, sufficient or optional"),
            ));
        }
        let mut options = Vec::new();
        loop {
            if matches!(self.peek(), Some(Tok::Semi)) {
                self.pos += 1;
                break;
            }
            let (key, _) = self.word("an option name or ';'")?;
            self.expect(&Tok::Equals, "'=' after the option name")?;
            let (value, _) = self.name("an option value")?;
            options.push((key, value));
        }
        Ok(Entry {
            module,
            flag,
            options,
            line,
        })
    }

    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|(t, _)| t)
    }

    /// A bare word.
    fn word(&mut self, what: &str) -> Result<(String, usize), JaasError> {
        match self.tokens.get(self.pos).cloned() {
            Some((Tok::Word(w), line)) => {
                self.pos += 1;
                Ok((w, line))
            }
            other => Err(self.unexpected(other, what)),
        }
    }

    /// A bare word or a quoted string.
    fn name(&mut self, what: &str) -> Result<(String, usize), JaasError> {
        match self.tokens.get(self.pos).cloned() {
            Some((Tok::Word(w) | Tok::Quoted(w), line)) => {
                self.pos += 1;
                Ok((w, line))
            }
            other => Err(self.unexpected(other, what)),
        }
    }

    fn expect(&mut self, tok: &Tok, what: &str) -> Result<(), JaasError> {
        match self.tokens.get(self.pos).cloned() {
            Some((t, _)) if &t == tok => {
                self.pos += 1;
                Ok(())
            }
            other => Err(self.unexpected(other, what)),
        }
    }

    fn unexpected(&self, got: Option<(Tok, usize)>, what: &str) -> JaasError {
        match got {
            Some((tok, line)) => {
                self.error(line, format!("expected {what}, found {}", tok.describe()))
            }
            None => self.error(
                self.last_line,
                format!("expected {what}, found the end of the file"),
            ),
        }
    }

    fn error(&self, line: usize, message: String) -> JaasError {
        JaasError {
            file: self.file.to_owned(),
            line: Some(line),
            message,
        }
    }
}
