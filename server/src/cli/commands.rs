//! zkCli's commands: the table (names, flags, usage texts), Apache's line tokenizer, a
//! commons-cli `DefaultParser` work-alike for the flags, and each command's calls and
//! output (`cli/*Command.java` in Apache ZooKeeper 3.8).

use std::future::Future;
use std::task::Poll;
use std::time::Duration;

use tokio::runtime::Runtime;
use zk_core::client::{Client, Error, Op};
use zk_core::proto::{perms, Acl, AddWatchMode, CreateMode, ErrorCode, MAX_TTL};

use super::format::{self, errln, out, outln, DataFormat};
use super::quota;
use super::watches::{Kind, Removal, Watches};

/// A command failed: its message goes to stderr and the shell's exit code becomes `code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub message: String,
    pub code: i32,
}

impl CliError {
    /// A `CliException` (exit code 1).
    pub fn new(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            code: 1,
        }
    }

    /// `CliWrapperException` around a failed call on `path`.
    pub fn wrap(error: &Error, path: &str) -> CliError {
        CliError::new(format::cli_error(error, path))
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

/// One flag: `-name`, taking a value or not.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    pub name: &'static str,
    pub takes_value: bool,
    pub description: &'static str,
}

const fn flag(name: &'static str, description: &'static str) -> Flag {
    Flag {
        name,
        takes_value: false,
        description,
    }
}

const fn valued(name: &'static str, description: &'static str) -> Flag {
    Flag {
        name,
        takes_value: true,
        description,
    }
}

/// A command of the table.
#[derive(Debug)]
pub struct Spec {
    pub name: &'static str,
    /// The option string of the usage text (`ls [-s] [-w] [-R] path`).
    pub syntax: &'static str,
    pub flags: &'static [Flag],
    /// The flags form one option group (only one may be given); `Some(true)` if required.
    pub group: Option<bool>,
    /// Usage errors list the flags too (3.8.6's `get` and `set`).
    pub flags_in_usage: bool,
}

impl Spec {
    /// `getUsageStr()`.
    pub fn usage(&self) -> String {
        let mut text = format!("{} {}", self.name, self.syntax);
        if self.flags_in_usage {
            text.push('\n');
            text.push_str(&format::option_table(&self.flag_rows()));
        }
        text
    }

    fn flag_rows(&self) -> Vec<(&'static str, bool, &'static str)> {
        self.flags
            .iter()
            .map(|f| (f.name, f.takes_value, f.description))
            .collect()
    }

    fn find(&self, name: &str) -> Option<&Flag> {
        self.flags.iter().find(|f| f.name == name)
    }
}

const QUOTA_FLAGS_WITH_VALUE: &[Flag] = &[
    valued("n", "num soft quota"),
    valued("b", "bytes soft quota"),
    valued("N", "num hard quota"),
    valued("B", "bytes hard quota"),
];

const QUOTA_FLAGS: &[Flag] = &[
    flag("n", "num soft quota"),
    flag("b", "bytes soft quota"),
    flag("N", "num hard quota"),
    flag("B", "bytes hard quota"),
];

const fn spec(name: &'static str, syntax: &'static str, flags: &'static [Flag]) -> Spec {
    Spec {
        name,
        syntax,
        flags,
        group: None,
        flags_in_usage: false,
    }
}

/// Every command Apache's `CommandFactory` knows.
pub static COMMANDS: &[Spec] = &[
    spec(
        "addWatch",
        "[-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE",
        &[valued("m", "")],
    ),
    spec("addauth", "scheme auth", &[]),
    spec("close", "", &[]),
    spec(
        "config",
        "[-c] [-w] [-s]",
        &[
            flag("s", "stats"),
            flag("w", "watch"),
            flag("c", "client connection string"),
        ],
    ),
    spec(
        "create",
        "[-s] [-e] [-c] [-t ttl] path [data] [acl]",
        &[
            flag("e", "ephemeral"),
            flag("s", "sequential"),
            flag("c", "container"),
            valued("t", "ttl"),
        ],
    ),
    spec("delete", "[-v version] path", &[valued("v", "version")]),
    spec("deleteall", "path [-b batch size]", &[valued("b", "batch size")]),
    Spec {
        name: "delquota",
        syntax: "[-n|-b|-N|-B] path",
        flags: QUOTA_FLAGS,
        group: Some(false),
        flags_in_usage: false,
    },
    Spec {
        name: "get",
        syntax: "[-s] [-w] [-b] [-x] path",
        flags: &[
            flag("s", "Print znode stats additionally"),
            flag("w", "Watch for changes on the znode"),
            flag("b", "Output data in base64 format"),
            flag("x", "Output data in hexdump format"),
        ],
        group: None,
        flags_in_usage: true,
    },
    spec("getAcl", "[-s] path", &[flag("s", "stats")]),
    spec("getAllChildrenNumber", "path", &[]),
    spec("getEphemerals", "path", &[]),
    spec("listquota", "path", &[]),
    spec(
        "ls",
        "[-s] [-w] [-R] path",
        &[
            flag("?", "help"),
            flag("s", "stat"),
            flag("w", "watch"),
            flag("R", "recurse"),
        ],
    ),
    spec(
        "reconfig",
        "[-s] [-v version] [[-file path] | [-members serverID=host:port1:port2;port3[,...]*]] | [-add serverId=host:port1:port2;port3[,...]]* [-remove serverId[,...]*]",
        &[
            flag("s", "stats"),
            valued("v", "required current config version"),
            valued("file", "path of config file to parse for membership"),
            valued(
                "members",
                "comma-separated list of config strings for non-incremental reconfig",
            ),
            valued("add", "comma-separated list of config strings for new servers"),
            valued("remove", "comma-separated list of server IDs to remove"),
        ],
    ),
    spec(
        "removewatches",
        "path [-c|-d|-a] [-l]",
        &[
            flag("c", "child watcher type"),
            flag("d", "data watcher type"),
            flag("a", "any watcher type"),
            flag("l", "remove locally when there is no server connection"),
        ],
    ),
    Spec {
        name: "set",
        syntax: "path data [-s] [-v version] [-b]",
        flags: &[
            flag("s", "Print znode stats additionally"),
            valued("v", "Set with an expected version"),
            flag("b", "Supply data in base64 format"),
        ],
        group: None,
        flags_in_usage: true,
    },
    spec(
        "setAcl",
        "[-s] [-v version] [-R] path acl",
        &[
            flag("s", "stats"),
            valued("v", "version"),
            flag("R", "recursive"),
        ],
    ),
    Spec {
        name: "setquota",
        syntax: "-n|-b|-N|-B val path",
        flags: QUOTA_FLAGS_WITH_VALUE,
        group: Some(true),
        flags_in_usage: false,
    },
    spec("stat", "[-w] path", &[flag("w", "watch")]),
    spec("sync", "path", &[]),
    spec("version", "", &[]),
    spec("whoami", "", &[]),
];

/// The shell's own commands (`ZooKeeperMain.commandMap`), with their option strings.
pub const SHELL_COMMANDS: &[(&str, &str)] = &[
    ("connect", "host:port"),
    ("history", ""),
    ("redo", "cmdno"),
    ("printwatches", "on|off"),
    ("quit", ""),
];

pub fn find(name: &str) -> Option<&'static Spec> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// Every command name with its option string, sorted as Java sorts strings.
pub fn all_commands() -> Vec<(&'static str, &'static str)> {
    let mut all: Vec<(&str, &str)> = COMMANDS.iter().map(|c| (c.name, c.syntax)).collect();
    all.extend_from_slice(SHELL_COMMANDS);
    all.sort_unstable();
    all
}

/// `ZooKeeperMain.usage()`.
pub fn usage_text() -> String {
    let mut text = String::from(
        "ZooKeeper -server host:port -client-configuration properties-file cmd args\n",
    );
    for (name, syntax) in all_commands() {
        text.push_str(&format!("\t{name} {syntax}\n"));
    }
    text
}

// ----- tokenizing a line -----

fn is_java_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
}

/// Splits a line as `MyCommandOptions.parseCommand` does: the regex
/// `\s*([^"']\S*|"[^"]*"|'[^']*')\s*` applied repeatedly, then one pair of surrounding
/// quotes stripped. An unmatched quote is skipped.
pub fn tokenize(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut tokens = Vec::new();
    let mut pos = 0;
    while pos < chars.len() {
        match (pos..chars.len()).find_map(|start| token_at(&chars, start)) {
            Some((token, next)) => {
                tokens.push(strip_quotes(token));
                pos = next;
            }
            None => break,
        }
    }
    tokens
}

/// The regex match starting exactly at `start`: the token and the position after it.
fn token_at(chars: &[char], start: usize) -> Option<(String, usize)> {
    let spaces = chars[start..]
        .iter()
        .take_while(|c| is_java_space(**c))
        .count();
    let space_run = |from: usize| {
        chars[from.min(chars.len())..]
            .iter()
            .take_while(|c| is_java_space(**c))
            .count()
    };
    // `\s*` is greedy: try the longest run first, giving back one at a time.
    for taken in (0..=spaces).rev() {
        let at = start + taken;
        let Some(&first) = chars.get(at) else {
            continue;
        };
        let end = if first != '"' && first != '\'' {
            let rest = chars[at + 1..]
                .iter()
                .take_while(|c| !is_java_space(**c))
                .count();
            Some(at + 1 + rest)
        } else {
            chars[at + 1..]
                .iter()
                .position(|c| *c == first)
                .map(|close| at + 1 + close + 1)
        };
        if let Some(end) = end {
            let token: String = chars[at..end].iter().collect();
            return Some((token, end + space_run(end)));
        }
    }
    None
}

fn strip_quotes(token: String) -> String {
    let mut chars = token.chars();
    match (chars.next(), chars.next_back()) {
        (Some(a), Some(b)) if a == b && (a == '"' || a == '\'') => {
            token[1..token.len() - 1].to_owned()
        }
        _ => token,
    }
}

// ----- flags -----

/// A parsed command line: the positional arguments (the command name first) and the flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub args: Vec<String>,
    flags: Vec<(String, Option<String>)>,
}

impl Parsed {
    pub fn has(&self, name: &str) -> bool {
        self.flags.iter().any(|(n, _)| n == name)
    }

    /// The first value given for a flag.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    pub fn arg(&self, index: usize) -> Option<&str> {
        self.args.get(index).map(String::as_str)
    }
}

fn parse_error(class: &str, message: String) -> CliError {
    CliError::new(format!("org.apache.commons.cli.{class}: {message}"))
}

fn is_negative_number(token: &str) -> bool {
    token.starts_with('-') && token[1..].parse::<f64>().is_ok()
}

/// Parses flags as commons-cli's `DefaultParser` does: flags anywhere, `-abc` bursts,
/// `-v5` and `-v=5` values, negative numbers as values, `--` ends the flags.
pub fn parse(spec: &Spec, tokens: &[String]) -> CliResult<Parsed> {
    let mut parsed = Parsed::default();
    let mut expecting: Option<&Flag> = None;
    let mut only_args = false;
    let mut selected: Option<&'static str> = None;
    let is_flag = |token: &str| -> bool {
        let Some(name) = token.strip_prefix('-') else {
            return false;
        };
        let name = name.split('=').next().unwrap_or_default();
        spec.find(name).is_some()
            || name
                .chars()
                .next()
                .is_some_and(|c| spec.find(&c.to_string()).is_some())
    };
    let mut add = |parsed: &mut Parsed,
                   flag: &'static Flag,
                   expecting: &mut Option<&'static Flag>|
     -> CliResult {
        if let Some(pending) = expecting.take() {
            return Err(parse_error(
                "MissingArgumentException",
                format!("Missing argument for option: {}", pending.name),
            ));
        }
        if spec.group.is_some() {
            if let Some(previous) = selected.filter(|p| *p != flag.name) {
                return Err(parse_error(
                    "AlreadySelectedException",
                    format!(
                        "The option '{}' was specified but an option from this group has already been selected: '{previous}'",
                        flag.name
                    ),
                ));
            }
            selected = Some(flag.name);
        }
        parsed.flags.push((flag.name.to_owned(), None));
        if flag.takes_value {
            *expecting = Some(flag);
        }
        Ok(())
    };
    for token in tokens {
        let token = token.as_str();
        if only_args {
            parsed.args.push(token.to_owned());
            continue;
        }
        if expecting.is_some() && (!is_flag(token) || is_negative_number(token)) {
            if let Some(last) = parsed.flags.last_mut() {
                last.1 = Some(token.to_owned());
            }
            expecting = None;
            continue;
        }
        if token == "--" {
            only_args = true;
            continue;
        }
        if token == "-" || !token.starts_with('-') {
            parsed.args.push(token.to_owned());
            continue;
        }
        let unknown = || {
            parse_error(
                "UnrecognizedOptionException",
                format!("Unrecognized option: {token}"),
            )
        };
        if token.starts_with("--") {
            return Err(unknown());
        }
        let name = &token[1..];
        if let Some(flag) = spec.flags.iter().find(|f| f.name == name) {
            add(&mut parsed, flag, &mut expecting)?;
            continue;
        }
        if let Some((name, value)) = name.split_once('=') {
            match spec.flags.iter().find(|f| f.name == name && f.takes_value) {
                Some(flag) => {
                    add(&mut parsed, flag, &mut expecting)?;
                    if let Some(last) = parsed.flags.last_mut() {
                        last.1 = Some(value.to_owned());
                    }
                    expecting = None;
                    continue;
                }
                None => return Err(unknown()),
            }
        }
        // A burst of one-letter flags; a flag taking a value takes the rest of the token.
        for (i, c) in name.char_indices() {
            let letter = c.to_string();
            let Some(flag) = spec.flags.iter().find(|f| f.name == letter) else {
                return Err(unknown());
            };
            add(&mut parsed, flag, &mut expecting)?;
            let rest = &name[i + c.len_utf8()..];
            if flag.takes_value && !rest.is_empty() {
                if let Some(last) = parsed.flags.last_mut() {
                    last.1 = Some(rest.to_owned());
                }
                expecting = None;
                break;
            }
        }
    }
    if let Some(pending) = expecting {
        return Err(parse_error(
            "MissingArgumentException",
            format!("Missing argument for option: {}", pending.name),
        ));
    }
    if spec.group == Some(true) && selected.is_none() {
        let names: Vec<String> = spec
            .flags
            .iter()
            .map(|f| format!("-{} {}", f.name, f.description))
            .collect();
        return Err(parse_error(
            "MissingOptionException",
            format!("Missing required option: [{}]", names.join(", ")),
        ));
    }
    Ok(parsed)
}

/// The deprecated `get path watch` forms: the third token becomes `-w` and the line is
/// parsed again, with a warning.
fn retain_watch_compat(
    spec: &Spec,
    tokens: &mut [String],
    parsed: &mut Parsed,
    warning: &str,
) -> CliResult {
    if parsed.args.len() > 2 {
        tokens[2] = "-w".to_owned();
        errln(warning);
        *parsed = parse(spec, tokens)?;
    }
    Ok(())
}

fn usage_error(spec: &Spec) -> CliError {
    CliError::new(spec.usage())
}

fn parse_int(text: Option<&str>, default: i32, message: &str) -> CliResult<i32> {
    match text {
        None => Ok(default),
        Some(text) => text.trim().parse().map_err(|_| CliError::new(message)),
    }
}

/// `AclParser.parse`: `scheme:id:perms,...`; bad entries are reported and skipped.
pub fn parse_acl(text: &str) -> Vec<Acl> {
    let mut acls = Vec::new();
    for entry in text.split(',') {
        let (Some(first), Some(last)) = (entry.find(':'), entry.rfind(':')) else {
            errln(&format!("{entry} does not have the form scheme:id:perm"));
            continue;
        };
        if first == last {
            errln(&format!("{entry} does not have the form scheme:id:perm"));
            continue;
        }
        let mut bits = 0;
        for letter in entry[last + 1..].chars() {
            match perms::from_letters(&letter.to_string()) {
                Some(bit) => bits |= bit,
                None => errln(&format!("Unknown perm type: {letter}")),
            }
        }
        acls.push(Acl::new(bits, &entry[..first], &entry[first + 1..last]));
    }
    acls
}

// ----- running commands -----

/// What a command runs against.
pub struct Env<'a> {
    pub runtime: &'a Runtime,
    pub client: &'a Client,
    pub watches: &'a Watches,
}

impl Env<'_> {
    pub fn block<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// [`CliError::wrap`].
    pub fn wrap(&self, error: &Error, path: &str) -> CliError {
        CliError::wrap(error, path)
    }
}

/// Checks a path as Apache's Java client does before sending (`PathUtils.validatePath`).
pub fn check_path(path: &str, sequential: bool) -> CliResult {
    match format::path_problem(path, sequential) {
        Some(message) => Err(CliError::new(message)),
        None => Ok(()),
    }
}

/// `KeeperException.getMessage()` (or the path error) for a failed call on `path`.
fn exception_message(error: &Error, path: &str) -> String {
    match error {
        Error::BadArguments(_) => format::path_problem(path, false)
            .unwrap_or_else(|| format::keeper_message(ErrorCode::BadArguments, path)),
        other => format::keeper_message(format::error_code(other), path),
    }
}

/// Runs one of [`COMMANDS`]; `tokens[0]` is its name.
pub fn execute(env: &Env<'_>, spec: &Spec, mut tokens: Vec<String>) -> CliResult {
    let mut parsed = parse(spec, &tokens)?;
    match spec.name {
        "addWatch" => add_watch(env, spec, &parsed),
        "addauth" => add_auth(env, spec, &parsed),
        "close" => {
            env.block(env.client.close());
            Ok(())
        }
        "config" => config(env, &parsed),
        "create" => create(env, spec, &parsed),
        "delete" => delete(env, spec, &parsed),
        "deleteall" => delete_all(env, spec, &parsed),
        "delquota" => quota::del_quota(env, spec, &parsed),
        "get" => {
            if parsed.args.len() < 2 {
                return Err(usage_error(spec));
            }
            retain_watch_compat(
                spec,
                &mut tokens,
                &mut parsed,
                "'get path [watch]' has been deprecated. Please use 'get [-s] [-w] path' instead.",
            )?;
            get(env, &parsed)
        }
        "getAcl" => get_acl(env, spec, &parsed),
        "getAllChildrenNumber" => {
            let path = parsed.arg(1).ok_or_else(|| usage_error(spec))?;
            let count = env
                .block(env.client.get_all_children_number(path))
                .map_err(|e| env.wrap(&e, path))?;
            outln(&count.to_string());
            Ok(())
        }
        "getEphemerals" => {
            let path = parsed.arg(1).unwrap_or("/");
            check_path(path, false)?;
            let ephemerals = env
                .block(env.client.get_ephemerals(path))
                .map_err(|e| env.wrap(&e, path))?;
            outln(&format::java_list(&ephemerals));
            Ok(())
        }
        "listquota" => quota::list_quota(env, spec, &parsed),
        "ls" => {
            if parsed.has("?") {
                out(&format!(
                    "usage: ls [options] path\n{}",
                    format::option_table(&spec.flag_rows())
                ));
            }
            retain_watch_compat(
                spec,
                &mut tokens,
                &mut parsed,
                "'ls path [watch]' has been deprecated. Please use 'ls [-w] path' instead.",
            )?;
            ls(env, spec, &parsed)
        }
        "reconfig" => reconfig(env, spec, &parsed),
        "removewatches" => remove_watches(env, spec, &parsed),
        "set" => set(env, spec, &parsed),
        "setAcl" => set_acl(env, spec, &parsed),
        "setquota" => quota::set_quota(env, spec, &parsed),
        "stat" => {
            if parsed.args.len() < 2 {
                return Err(usage_error(spec));
            }
            retain_watch_compat(
                spec,
                &mut tokens,
                &mut parsed,
                "'stat path [watch]' has been deprecated. Please use 'stat [-w] path' instead.",
            )?;
            stat(env, &parsed)
        }
        "sync" => {
            let path = parsed.arg(1).ok_or_else(|| usage_error(spec))?;
            check_path(path, false)?;
            match env.block(env.client.sync(path)) {
                Ok(()) => outln("Sync is OK"),
                Err(e) => outln(&format!(
                    "Sync has failed. rc={}",
                    format::error_code(&e).as_i32()
                )),
            }
            Ok(())
        }
        "version" => {
            if parsed.args.len() > 1 {
                return Err(usage_error(spec));
            }
            outln(&format!(
                "ZooKeeper CLI version: zk-cli {}",
                env!("CARGO_PKG_VERSION")
            ));
            Ok(())
        }
        "whoami" => {
            let infos = env
                .block(env.client.who_am_i())
                .map_err(|e| env.wrap(&e, ""))?;
            let mut text = String::from("Auth scheme: User\n");
            for info in infos {
                text.push_str(&format!("{}: {}\n", info.auth_scheme, info.user));
            }
            out(&text);
            Ok(())
        }
        other => Err(CliError::new(format!("Command not found: {other}"))),
    }
}

fn ls(env: &Env<'_>, spec: &Spec, parsed: &Parsed) -> CliResult {
    let path = parsed.arg(1).ok_or_else(|| usage_error(spec))?;
    let watch = parsed.has("w");
    if parsed.has("R") {
        return visit_tree(env, path, watch, |node| {
            outln(node);
            Ok(())
        });
    }
    let client = env.client;
    let (mut children, stat) = if watch {
        let (children, stat, handle) = env
            .block(client.get_children_watch(path))
            .map_err(|e| env.wrap(&e, path))?;
        env.watches.add_once(Kind::Child, path, handle);
        (children, stat)
    } else {
        env.block(client.get_children2(path))
            .map_err(|e| env.wrap(&e, path))?
    };
    children.sort();
    let mut text = format::java_list(&children);
    text.push('\n');
    if parsed.has("s") {
        text.push_str(&format::stat(&stat));
    }
    out(&text);
    Ok(())
}

/// `ZKUtil.visitSubTreeDFS`: the root (read first, so a missing root fails), then each
/// node's sorted children before descending into them.
fn visit_tree(
    env: &Env<'_>,
    root: &str,
    watch: bool,
    mut visit: impl FnMut(&str) -> CliResult,
) -> CliResult {
    check_path(root, false)?;
    if watch {
        let (_, _, handle) = env
            .block(env.client.get_data_watch(root))
            .map_err(|e| env.wrap(&e, root))?;
        env.watches.add_once(Kind::Data, root, handle);
    } else {
        env.block(env.client.get_data(root))
            .map_err(|e| env.wrap(&e, root))?;
    }
    visit(root)?;
    visit_children(env, root, watch, &mut visit)
}

fn visit_children(
    env: &Env<'_>,
    path: &str,
    watch: bool,
    visit: &mut impl FnMut(&str) -> CliResult,
) -> CliResult {
    let result = if watch {
        env.block(env.client.get_children_watch(path))
            .map(|(children, _, handle)| {
                env.watches.add_once(Kind::Child, path, handle);
                children
            })
    } else {
        env.block(env.client.get_children(path))
    };
    let mut children = match result {
        Ok(children) => children,
        Err(Error::Server(ErrorCode::NoNode)) => return Ok(()),
        Err(e) => return Err(env.wrap(&e, path)),
    };
    children.sort();
    let child_path = |child: &str| {
        if path == "/" {
            format!("/{child}")
        } else {
            format!("{path}/{child}")
        }
    };
    for child in &children {
        visit(&child_path(child))?;
    }
    for child in &children {
        visit_children(env, &child_path(child), watch, visit)?;
    }
    Ok(())
}

fn create(env: &Env<'_>, spec: &Spec, parsed: &Parsed) -> CliResult {
    if parsed.args.len() < 2 {
        return Err(usage_error(spec));
    }
    let (ephemeral, sequential, container, has_ttl) = (
        parsed.has("e"),
        parsed.has("s"),
        parsed.has("c"),
        parsed.has("t"),
    );
    if container && (ephemeral || sequential) {
        return Err(CliError::new(
            "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.",
        ));
    }
    let ttl: i64 = match parsed.value("t") {
        Some(text) if has_ttl => text
            .trim()
            .parse()
            .map_err(|_| CliError::new("-t argument must be a long value"))?,
        _ => 0,
    };
    if has_ttl && ephemeral {
        return Err(CliError::new("TTLs cannot be used with Ephemeral znodes"));
    }
    if has_ttl && container {
        return Err(CliError::new("TTLs cannot be used with Container znodes"));
    }
    let mode = match (ephemeral, sequential, container, has_ttl) {
        (true, true, _, _) => CreateMode::EphemeralSequential,
        (true, false, _, _) => CreateMode::Ephemeral,
        (false, true, _, true) => CreateMode::PersistentSequentialWithTtl,
        (false, true, _, false) => CreateMode::PersistentSequential,
        (false, false, true, _) => CreateMode::Container,
        (false, false, false, true) => CreateMode::PersistentWithTtl,
        (false, false, false, false) => CreateMode::Persistent,
    };
    if has_ttl && (ttl <= 0 || ttl > MAX_TTL) {
        return Err(CliError::new(format!(
            "ttl must be positive and cannot be larger than: {MAX_TTL}"
        )));
    }
    let path = parsed.arg(1).unwrap_or_default();
    // Apache sends null data when none is given.
    let data = parsed.arg(2).map(str::as_bytes);
    let acl = match parsed.arg(3) {
        Some(text) => parse_acl(text),
        None => Acl::open_unsafe(),
    };
    check_path(path, mode.is_sequential())?;
    if acl.is_empty() {
        errln(&format::keeper_message(ErrorCode::InvalidAcl, ""));
        return Err(CliError::new(format::wrapped_code(
            ErrorCode::InvalidAcl,
            "",
        )));
    }
    let client = env.client;
    let ttl = has_ttl.then(|| Duration::from_millis(ttl as u64));
    let result = env.block(client.create_with(path, data, &acl, mode, ttl));
    match result {
        Ok((created, _)) => {
            errln(&format!("Created {created}"));
            Ok(())
        }
        Err(e) => {
            match e {
                Error::Server(ErrorCode::EphemeralOnLocalSession) => {
                    errln("Unable to create ephemeral node on a local session");
                }
                Error::Server(ErrorCode::InvalidAcl) => {
                    errln(&format::keeper_message(ErrorCode::InvalidAcl, path));
                }
                _ => {}
            }
            Err(env.wrap(&e, path))
        }
    }
}

fn get(env: &Env<'_>, parsed: &Parsed) -> CliResult {
    let path = parsed.arg(1).unwrap_or_default();
    let (data, stat) = if parsed.has("w") {
        let (data, stat, handle) = env
            .block(env.client.get_data_watch_nullable(path))
            .map_err(|e| env.wrap(&e, path))?;
        env.watches.add_once(Kind::Data, path, handle);
        (data, stat)
    } else {
        env.block(env.client.get_data_nullable(path))
            .map_err(|e| env.wrap(&e, path))?
    };
    let mode = if parsed.has("x") {
        DataFormat::HexDump
    } else if parsed.has("b") {
        DataFormat::Base64
    } else {
        DataFormat::Plain
    };
    // zkCli prints Java's rendering of a null array.
    let mut text = match &data {
        Some(data) => format::data(data, mode),
        None => "null".to_owned(),
    };
    text.push('\n');
    if parsed.has("s") {
        text.push_str(&format::stat(&stat));
    }
    out(&text);
    Ok(())
}

fn set(env: &Env<'_>, spec: &Spec, parsed: &Parsed) -> CliResult {
    if parsed.args.len() < 3 {
        return Err(usage_error(spec));
    }
    let path = parsed.arg(1).unwrap_or_default();
    let text = parsed.arg(2).unwrap_or_default();
    let data = if parsed.has("b") {
        format::decode_base64(text).map_err(CliError::new)?
    } else {
        text.as_bytes().to_vec()
    };
    let version = parse_int(parsed.value("v"), -1, "-v argument must be an int value")?;
    let stat = env
        .block(env.client.set_data(path, &data, version))
        .map_err(|e| env.wrap(&e, path))?;
    if parsed.has("s") {
        out(&format::stat(&stat));
    }
    Ok(())
}

fn stat(env: &Env<'_>, parsed: &Parsed) -> CliResult {
    let path = parsed.arg(1).unwrap_or_default();
    let stat = if parsed.has("w") {
        let (stat, handle) = env
            .block(env.client.exists_watch(path))
            .map_err(|e| env.wrap(&e, path))?;
        env.watches.add_once(Kind::Data, path, handle);
        stat
    } else {
        env.block(env.client.exists(path))
            .map_err(|e| env.wrap(&e, path))?
    };
    match stat {
        Some(stat) => {
            out(&format::stat(&stat));
            Ok(())
        }
        None => Err(CliError::new(format::wrapped_code(ErrorCode::NoNode, path))),
    }
}

fn delete(env: &Env<'_>, spec: &Spec, parsed: &Parsed) -> CliResult {
    if parsed.args.len() < 2 {
        return Err(usage_error(spec));
    }
    if parsed.args.len() > 2 {
        errln(
            "'delete path [version]' has been deprecated. Please use 'delete [-v version] path' instead.",
        );
    }
    let path = parsed.arg(1).unwrap_or_default();
    let version = parse_int(parsed.value("v"), -1, "-v argument must be an int value")?;
    env.block(env.client.delete(path, version))
        .map_err(|e| env.wrap(&e, path))
}

/// `ZKUtil.deleteRecursive`: the subtree listed breadth-first, deleted leaves first in
/// multis of `batch` deletes.
fn delete_all(env: &Env<'_>, spec: &Spec, parsed: &Parsed) -> CliResult {
    if parsed.args.len() < 2 {
        return Err(usage_error(spec));
    }
    let batch = parse_int(parsed.value("b"), 1000, "-b argument must be an int value")?;
    let root = parsed.arg(1).unwrap_or_default();
    check_path(root, false)?;
    let tree = list_tree(env, root)?;
    let batch = usize::try_from(batch).unwrap_or(0);
    let mut ops = Vec::new();
    let mut failed = false;
    for (i, node) in tree.iter().enumerate().rev() {
        ops.push(Op::delete(node, -1));
        let send = ops.len() == batch || i == 0;
        if send
            && env
                .block(env.client.multi(std::mem::take(&mut ops)))
                .is_err()
        {
            failed = true;
            break;
        }
    }
    if failed {
        errln("Failed to delete some node(s) in the subtree!");
    }
    Ok(())
}

/// `ZKUtil.listSubTreeBFS`.
pub fn list_tree(env: &Env<'_>, root: &str) -> CliResult<Vec<String>> {
    let mut tree = vec![root.to_owned()];
    let mut next = 0;
    while next < tree.len() {
        let node = tree[next].clone();
        next += 1;
        let children = env
            .block(env.client.get_children(&node))
            .map_err(|e| env.wrap(&e, &node))?;
        for child in children {
            tree.push(if node == "/" {
                format!("/{child}")
            } else {
                format!("{node}/{child}")
            });
        }
    }
    Ok(tree)
}

fn get_acl(env: &Env<'_>, spec: &Spec, parsed: &Parsed) -> CliResult {
    let path = parsed.arg(1).ok_or_else(|| usage_error(spec))?;
    let (acl, stat) = env
        .block(env.client.get_acl(path))
        .map_err(|e| env.wrap(&e, path))?;
    let mut text = format::acl(&acl);
    if parsed.has("s") {
        text.push_str(&format::stat(&stat));
    }
    out(&text);
    Ok(())
}

fn set_acl(env: &Env<'_>, spec: &Spec, parsed: &Parsed) -> CliResult {
    if parsed.args.len() < 3 {
        return Err(usage_error(spec));
    }
    let path = parsed.arg(1).unwrap_or_default();
    let acl = parse_acl(parsed.arg(2).unwrap_or_default());
    let version = parse_int(parsed.value("v"), -1, "-v argument must be an int value")?;
    if parsed.has("R") {
        return visit_tree(env, path, false, |node| {
            if acl.is_empty() {
                out(&format::keeper_message(ErrorCode::InvalidAcl, ""));
            } else if let Err(e) = env.block(env.client.set_acl(node, &acl, version)) {
                out(&exception_message(&e, node));
            }
            Ok(())
        });
    }
    check_path(path, false)?;
    if acl.is_empty() {
        return Err(CliError::new(format::wrapped_code(
            ErrorCode::InvalidAcl,
            "",
        )));
    }
    let stat = env
        .block(env.client.set_acl(path, &acl, version))
        .map_err(|e| env.wrap(&e, path))?;
    if parsed.has("s") {
        out(&format::stat(&stat));
    }
    Ok(())
}

fn add_auth(env: &Env<'_>, spec: &Spec, parsed: &Parsed) -> CliResult {
    let scheme = parsed.arg(1).ok_or_else(|| usage_error(spec))?;
    let auth = parsed.arg(2).unwrap_or_default();
    // Like Apache's addAuthInfo this neither waits nor reports: a refused credential ends
    // the session, which the watcher prints as an AuthFailed event and the next request
    // reports. The first poll queues the credentials ahead of every later request; the
    // rest of `add_auth`, a confirming round trip, is dropped.
    let mut pending = Box::pin(env.client.add_auth(scheme, auth.as_bytes()));
    let _ = env.block(std::future::poll_fn(|cx| {
        Poll::Ready(pending.as_mut().poll(cx).is_ready())
    }));
    drop(pending);
    Ok(())
}

fn add_watch(env: &Env<'_>, spec: &Spec, parsed: &Parsed) -> CliResult {
    if parsed.args.len() != 2 {
        return Err(usage_error(spec));
    }
    let mode = match parsed.value("m").map(str::to_uppercase).as_deref() {
        None | Some("PERSISTENT_RECURSIVE") => AddWatchMode::PersistentRecursive,
        Some("PERSISTENT") => AddWatchMode::Persistent,
        Some(_) => return Err(usage_error(spec)),
    };
    let path = parsed.arg(1).unwrap_or_default();
    check_path(path, false)?;
    let watch = env
        .block(env.client.add_watch(path, mode))
        .map_err(|e| env.wrap(&e, path))?;
    env.watches
        .add_stream(mode == AddWatchMode::PersistentRecursive, path, watch);
    Ok(())
}

fn remove_watches(env: &Env<'_>, spec: &Spec, parsed: &Parsed) -> CliResult {
    let path = parsed.arg(1).ok_or_else(|| usage_error(spec))?;
    let removal = if parsed.has("c") {
        Removal::Children
    } else if parsed.has("d") {
        Removal::Data
    } else {
        Removal::Any
    };
    check_path(path, false)?;
    if env.block(env.watches.remove(path, removal)) {
        Ok(())
    } else {
        Err(CliError::new(format::keeper_message(
            ErrorCode::NoWatcher,
            path,
        )))
    }
}

const CONFIG_NODE: &str = "/zookeeper/config";

fn config(env: &Env<'_>, parsed: &Parsed) -> CliResult {
    let (data, stat) = if parsed.has("w") {
        let (data, stat, handle) = env
            .block(env.client.get_data_watch(CONFIG_NODE))
            .map_err(|e| env.wrap(&e, CONFIG_NODE))?;
        env.watches.add_once(Kind::Data, CONFIG_NODE, handle);
        (data, stat)
    } else {
        env.block(env.client.get_data(CONFIG_NODE))
            .map_err(|e| env.wrap(&e, CONFIG_NODE))?
    };
    let text = String::from_utf8_lossy(&data);
    let mut output = if parsed.has("c") {
        format::client_config(&text)
    } else {
        text.into_owned()
    };
    output.push('\n');
    if parsed.has("s") {
        output.push_str(&format::stat(&stat));
    }
    out(&output);
    Ok(())
}

fn reconfig(env: &Env<'_>, spec: &Spec, parsed: &Parsed) -> CliResult {
    let (file, members, add, remove) = (
        parsed.has("file"),
        parsed.has("members"),
        parsed.has("add"),
        parsed.has("remove"),
    );
    if !(file || members || add || remove) {
        return Err(usage_error(spec));
    }
    let version = match parsed.value("v") {
        Some(text) => i64::from_str_radix(text.trim(), 16)
            .map_err(|_| CliError::new("-v must be followed by a long (configuration version)"))?,
        None => -1,
    };
    if (file || members) && (add || remove) {
        return Err(CliError::new(
            "Can't use -file or -members together with -add or -remove (mixing incremental and non-incremental modes is not allowed)",
        ));
    }
    if file && members {
        return Err(CliError::new(
            "Can't use -file and -members together (conflicting non-incremental modes)",
        ));
    }
    let joining = parsed.value("add").map(str::to_lowercase);
    let leaving = parsed.value("remove").map(str::to_lowercase);
    let mut new_members = parsed.value("members").map(str::to_lowercase);
    if let Some(path) = parsed.value("file") {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::new(format!("Error processing {path}{e}")))?;
        let servers: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| {
                l.starts_with("server.") || l.starts_with("group.") || l.starts_with("weight.")
            })
            .collect();
        new_members = Some(servers.join("\n"));
    }
    let (data, stat) = env
        .block(env.client.reconfig(
            joining.as_deref(),
            leaving.as_deref(),
            new_members.as_deref(),
            version,
        ))
        .map_err(|e| env.wrap(&e, ""))?;
    let mut text = format!(
        "Committed new configuration:\n{}\n",
        String::from_utf8_lossy(&data)
    );
    if parsed.has("s") {
        text.push_str(&format::stat(&stat));
    }
    out(&text);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tokenizer_follows_apache_regex() {
        assert_eq!(
            tokenize(r#"create /a "x y" z"#),
            strings(&["create", "/a", "x y", "z"])
        );
        assert_eq!(
            tokenize("create /sq 'it''s'"),
            strings(&["create", "/sq", "it", "s"])
        );
        assert_eq!(
            tokenize(r#"create /sr a"b c""#),
            strings(&["create", "/sr", "a\"b", "c\""])
        );
        assert_eq!(
            tokenize(r#"create /ss "x"#),
            strings(&["create", "/ss", "x"])
        );
        assert_eq!(tokenize(r#"create /b """#), strings(&["create", "/b", ""]));
        assert_eq!(tokenize("  ls   / "), strings(&["ls", "/"]));
        // Java's regex makes a lone space of a blank line: an unknown command " ".
        assert_eq!(tokenize("   "), strings(&[" "]));
        assert!(tokenize("\"").is_empty());
    }

    #[test]
    fn parser_follows_commons_cli() {
        let set = find("set").unwrap();
        let p = parse(set, &strings(&["set", "/a", "data", "-v", "1", "-s"])).unwrap();
        assert_eq!(p.args, strings(&["set", "/a", "data"]));
        assert_eq!(p.value("v"), Some("1"));
        assert!(p.has("s"));
        let p = parse(set, &strings(&["set", "-sv5", "/a", "--", "-1"])).unwrap();
        assert_eq!(p.value("v"), Some("5"));
        assert_eq!(p.args, strings(&["set", "/a", "-1"]));
        let err = parse(set, &strings(&["set", "/a", "-1"])).unwrap_err();
        assert_eq!(
            err.message,
            "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -1"
        );
        let p = parse(set, &strings(&["set", "-v", "-1", "/a", "d"])).unwrap();
        assert_eq!(p.value("v"), Some("-1"));
        let err = parse(set, &strings(&["set", "-x", "/a"])).unwrap_err();
        assert_eq!(
            err.message,
            "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -x"
        );
        let create = find("create").unwrap();
        let err = parse(create, &strings(&["create", "-t"])).unwrap_err();
        assert_eq!(
            err.message,
            "org.apache.commons.cli.MissingArgumentException: Missing argument for option: t"
        );
        let setquota = find("setquota").unwrap();
        let err = parse(setquota, &strings(&["setquota", "/a"])).unwrap_err();
        assert_eq!(
            err.message,
            "org.apache.commons.cli.MissingOptionException: Missing required option: [-n num soft quota, -b bytes soft quota, -N num hard quota, -B bytes hard quota]"
        );
        let err = parse(
            setquota,
            &strings(&["setquota", "-n", "1", "-b", "2", "/a"]),
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "org.apache.commons.cli.AlreadySelectedException: The option 'b' was specified but an option from this group has already been selected: 'n'"
        );
        let reconfig = find("reconfig").unwrap();
        let p = parse(reconfig, &strings(&["reconfig", "-add", "1=a:1:2;3"])).unwrap();
        assert_eq!(p.value("add"), Some("1=a:1:2;3"));
    }

    #[test]
    fn acl_parser_skips_bad_entries() {
        let acl = parse_acl("world:anyone:cdrwa,bad,digest:u:h=:r");
        assert_eq!(
            acl,
            vec![
                Acl::new(perms::ALL, "world", "anyone"),
                Acl::new(perms::READ, "digest", "u:h=")
            ]
        );
    }

    #[test]
    fn usage_lists_commands_in_java_order() {
        let usage = usage_text();
        let lines: Vec<&str> = usage.lines().collect();
        assert_eq!(lines[1], "\taddWatch [-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE");
        assert_eq!(lines[2], "\taddauth scheme auth");
        assert_eq!(lines[3], "\tclose ");
        assert_eq!(lines.len(), 1 + COMMANDS.len() + SHELL_COMMANDS.len());
    }
}
