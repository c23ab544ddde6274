//! The shell: one session at a time, the commands `ZooKeeperMain` handles itself
//! (`connect`, `history`, `redo`, `printwatches`, `quit`), the one-shot and interactive
//! modes, and line editing with history and completion (rustyline).

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Config, Context, Editor, Helper};
use tokio::runtime::Runtime;
use zk_core::client::{Client, ClientOptions, JavaClientConfig, SessionState};
use zk_core::proto::ErrorCode;

use super::commands::{self, CliError, Env};
use super::format::{self, errln, out, outln};
use super::watches::Watches;

/// How to reach the ensemble (`-server`, `-timeout`, `-r`).
#[derive(Debug, Clone)]
pub struct Settings {
    pub server: String,
    pub timeout: Duration,
    pub read_only: bool,
    /// Apache's client properties (TLS and the like), applied to every session.
    pub java: JavaClientConfig,
}

/// What a processed command asks of the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Quit,
}

pub struct Shell {
    runtime: Runtime,
    watches: Watches,
    settings: Settings,
    /// The session, shared with the completer.
    client: Arc<Mutex<Option<Client>>>,
    host: String,
    history: BTreeMap<i64, String>,
    count: i64,
    exit_code: i32,
}

impl Shell {
    /// Starts the runtime and connects (in the background, like Apache's constructor).
    pub fn start(settings: Settings) -> Result<Shell, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("zk-cli")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the runtime: {e}"))?;
        let watches = Watches::start(&runtime);
        let host = settings.server.clone();
        let mut shell = Shell {
            runtime,
            watches,
            settings,
            client: Arc::new(Mutex::new(None)),
            host: host.clone(),
            history: BTreeMap::new(),
            count: 0,
            exit_code: 0,
        };
        shell.connect(&host).map_err(|e| e.message)?;
        Ok(shell)
    }

    fn current(&self) -> Option<Client> {
        self.client.lock().ok().and_then(|slot| slot.clone())
    }

    /// `-waitforconnection`: waits for the session, like Apache's connect latch.
    pub fn wait_connected(&self) -> Result<(), String> {
        let Some(client) = self.current() else {
            return Err(format::keeper_message(ErrorCode::ConnectionLoss, ""));
        };
        self.runtime
            .block_on(client.wait_connected(self.settings.timeout))
            .map_err(|_| format::keeper_message(ErrorCode::ConnectionLoss, ""))
    }

    /// `connectToZK`: closes a live session, then starts a new one.
    fn connect(&mut self, host: &str) -> Result<(), CliError> {
        if let Some(old) = self.current() {
            if !old.state().is_terminal() {
                self.runtime.block_on(old.close());
                self.runtime.block_on(self.watches.flush());
            }
        }
        self.host = host.to_owned();
        let options = ClientOptions::default()
            .session_timeout(self.settings.timeout)
            .read_only(self.settings.read_only);
        let options = self
            .settings
            .java
            .apply(options)
            .map_err(|e| CliError::new(format::cli_error(&e, "")))?;
        let started = {
            let _runtime = self.runtime.enter();
            Client::start(host, options)
        };
        let client = started.map_err(|e| CliError::new(format::cli_error(&e, "")))?;
        self.watches.follow_session(client.state_events());
        if let Ok(mut slot) = self.client.lock() {
            *slot = Some(client);
        }
        Ok(())
    }

    /// Runs one command given on the command line; returns the exit code.
    pub fn run_once(mut self, tokens: Vec<String>) -> i32 {
        let _ = self.process(tokens);
        self.finish_quietly();
        self.exit_code
    }

    /// The interactive loop (or a script on stdin); returns the exit code.
    pub fn run_interactive(mut self) -> i32 {
        outln("Welcome to ZooKeeper!");
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            outln("JLine support is enabled");
            if let Some(code) = self.run_editor() {
                return code;
            }
        } else {
            outln("JLine support is disabled");
            let mut input = stdin.lock();
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match input.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let line = String::from_utf8_lossy(&buf);
                let line = line.trim_end_matches('\n').trim_end_matches('\r');
                if self.execute_line(line) == Flow::Quit {
                    return self.exit_code;
                }
            }
        }
        self.finish_quietly();
        self.exit_code
    }

    /// Line editing; `Some(code)` when `quit` ended the loop.
    fn run_editor(&mut self) -> Option<i32> {
        let config = Config::builder()
            .auto_add_history(false)
            .max_history_size(1000)
            .ok()?
            .build();
        let mut editor: Editor<CliHelper, DefaultHistory> = match Editor::with_config(config) {
            Ok(editor) => editor,
            Err(e) => {
                errln(&format!(
                    "zk-cli: no line editing ({e}); reading plain lines"
                ));
                return None;
            }
        };
        editor.set_helper(Some(CliHelper {
            client: self.client.clone(),
            runtime: self.runtime.handle().clone(),
        }));
        let history_file = history_file();
        if let Some(file) = &history_file {
            let _ = editor.load_history(file);
        }
        loop {
            match editor.readline(&self.prompt()) {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        let _ = editor.add_history_entry(line.as_str());
                        if let Some(file) = &history_file {
                            let _ = editor.save_history(file);
                        }
                    }
                    if self.execute_line(&line) == Flow::Quit {
                        return Some(self.exit_code);
                    }
                }
                Err(ReadlineError::Interrupted) => continue,
                Err(_) => return None,
            }
        }
    }

    /// `[zk: host:port(CONNECTED) 3] `
    fn prompt(&self) -> String {
        let state = match self.current().map(|c| c.state()) {
            Some(SessionState::Connecting | SessionState::Suspended) => "CONNECTING",
            Some(SessionState::Connected) => "CONNECTED",
            Some(SessionState::ConnectedReadOnly) => "CONNECTEDREADONLY",
            Some(SessionState::AuthFailed) => "AUTH_FAILED",
            Some(SessionState::Expired | SessionState::Closed) | None => "CLOSED",
        };
        format!("[zk: {}({state}) {}] ", self.host, self.count)
    }

    /// `executeLine`: numbers the line, keeps it in the history and runs it.
    fn execute_line(&mut self, line: &str) -> Flow {
        if line.is_empty() {
            return Flow::Continue;
        }
        self.history.insert(self.count, line.to_owned());
        let tokens = commands::tokenize(line);
        // A line of nothing but an unmatched quote has no token; Apache would re-run the
        // previous command.
        let flow = if tokens.is_empty() {
            Flow::Continue
        } else {
            self.process(tokens)
        };
        self.count += 1;
        flow
    }

    /// `processCmd`: runs a command, prints its error and keeps its exit code.
    fn process(&mut self, tokens: Vec<String>) -> Flow {
        let result = self.process_command(tokens);
        self.runtime.block_on(self.watches.flush());
        match result {
            Ok(Flow::Quit) => Flow::Quit,
            Ok(Flow::Continue) => {
                self.exit_code = 0;
                Flow::Continue
            }
            Err(e) => {
                errln(&e.message);
                self.exit_code = e.code;
                Flow::Continue
            }
        }
    }

    /// `processZKCmd`.
    fn process_command(&mut self, tokens: Vec<String>) -> Result<Flow, CliError> {
        let Some(name) = tokens.first().cloned() else {
            return Ok(Flow::Continue);
        };
        let builtin = commands::SHELL_COMMANDS.iter().any(|(n, _)| *n == name);
        let spec = commands::find(&name);
        if !builtin && spec.is_none() {
            format::errln(commands::usage_text().trim_end_matches('\n'));
            return Err(CliError {
                message: format!("Command not found: Command not found {name}"),
                code: 127,
            });
        }
        match name.as_str() {
            "quit" => {
                if let Some(client) = self.current() {
                    self.runtime.block_on(client.close());
                }
                return Ok(Flow::Quit);
            }
            "redo" if tokens.len() >= 2 => self.redo(&tokens[1])?,
            "history" => {
                let mut text = String::new();
                for i in (self.count - 10).max(0)..=self.count {
                    if let Some(line) = self.history.get(&i) {
                        text.push_str(&format!("{i} - {line}\n"));
                    }
                }
                out(&text);
            }
            "printwatches" => match tokens.get(1) {
                None => outln(&format!(
                    "printwatches is {}",
                    if self.watches.printing() { "on" } else { "off" }
                )),
                Some(value) => self.watches.set_printing(value == "on"),
            },
            "connect" => {
                let host = tokens.get(1).cloned().unwrap_or_else(|| self.host.clone());
                self.connect(&host)?;
            }
            _ => {}
        }
        let client = match self.current() {
            Some(client) if !client.state().is_terminal() => client,
            _ => {
                outln("Not connected");
                return Ok(Flow::Continue);
            }
        };
        if let Some(spec) = spec {
            let env = Env {
                runtime: &self.runtime,
                client: &client,
                watches: &self.watches,
            };
            commands::execute(&env, spec, tokens)?;
        }
        Ok(Flow::Continue)
    }

    /// `redo N`: runs history line N again (and records it as this line).
    fn redo(&mut self, number: &str) -> Result<(), CliError> {
        let index = java_decode(number)
            .ok_or_else(|| CliError::new(format!("For input string: \"{number}\"")))?;
        if index < 0 || index >= self.count {
            return Err(CliError::new("Command index out of range"));
        }
        let line = self.history.get(&index).cloned().unwrap_or_default();
        let tokens = commands::tokenize(&line);
        if tokens.first().map(String::as_str) == Some("redo") {
            return Err(CliError::new("No redoing redos"));
        }
        self.history.insert(self.count, line);
        if self.process(tokens) == Flow::Quit {
            std::process::exit(self.exit_code);
        }
        Ok(())
    }

    /// Ends the session without printing its close (Apache exits without closing).
    fn finish_quietly(&mut self) {
        self.runtime.block_on(self.watches.flush());
        self.watches.quiet();
        if let Some(client) = self.current() {
            let closing = client.close();
            let _ = self
                .runtime
                .block_on(async { tokio::time::timeout(Duration::from_secs(5), closing).await });
        }
    }
}

/// `Integer.decode`: decimal, `0x`/`0X`/`#` hex, leading-zero octal, with a sign.
fn java_decode(text: &str) -> Option<i64> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let value = if let Some(hex) = body
        .strip_prefix("0x")
        .or_else(|| body.strip_prefix("0X"))
        .or_else(|| body.strip_prefix('#'))
    {
        i64::from_str_radix(hex, 16).ok()?
    } else if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(&body[1..], 8).ok()?
    } else {
        body.parse::<i64>().ok()?
    };
    if body.is_empty() || body.starts_with(['-', '+']) {
        return None;
    }
    let value = if negative { -value } else { value };
    i32::try_from(value).ok().map(i64::from)
}

fn history_file() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".zk_cli_history"))
}

/// Completes command names and znode paths (children read from the server).
struct CliHelper {
    client: Arc<Mutex<Option<Client>>>,
    runtime: tokio::runtime::Handle,
}

impl CliHelper {
    fn children(&self, parent: &str) -> Vec<String> {
        let client = self.client.lock().ok().and_then(|slot| slot.clone());
        let Some(client) = client.filter(|c| c.state().is_connected()) else {
            return Vec::new();
        };
        let read = client.get_children(parent);
        self.runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(2), read).await })
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    }
}

impl Completer for CliHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let before = line.get(..pos).unwrap_or(line);
        let start = before
            .rfind(char::is_whitespace)
            .map(|i| i + 1)
            .unwrap_or(0);
        let word = &before[start..];
        if start == 0 {
            let names = commands::all_commands()
                .into_iter()
                .map(|(name, _)| name.to_owned())
                .filter(|name| name.starts_with(word))
                .collect();
            return Ok((start, names));
        }
        if !word.starts_with('/') {
            return Ok((start, Vec::new()));
        }
        let cut = word.rfind('/').map(|i| i + 1).unwrap_or(1);
        let (dir, prefix) = word.split_at(cut);
        let parent = if dir.len() > 1 {
            dir.trim_end_matches('/')
        } else {
            "/"
        };
        let mut children: Vec<String> = self
            .children(parent)
            .into_iter()
            .filter(|child| child.starts_with(prefix))
            .map(|child| format!("{dir}{child}"))
            .collect();
        children.sort();
        Ok((start, children))
    }
}

impl Hinter for CliHelper {
    type Hint = String;
}

impl Highlighter for CliHelper {}

impl Validator for CliHelper {}

impl Helper for CliHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_like_java() {
        assert_eq!(java_decode("12"), Some(12));
        assert_eq!(java_decode("0x1f"), Some(31));
        assert_eq!(java_decode("#10"), Some(16));
        assert_eq!(java_decode("010"), Some(8));
        assert_eq!(java_decode("-3"), Some(-3));
        assert_eq!(java_decode("abc"), None);
        assert_eq!(java_decode(""), None);
        assert_eq!(java_decode("--1"), None);
    }
}
