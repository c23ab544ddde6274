//! `zk-cli`: a shell compatible with Apache ZooKeeper's `zkCli.sh` (3.8), over zk-core's
//! client. It parses, calls and prints; all ZooKeeper logic is in the client.
//!
//! ```text
//! zk-cli [-server host:port[,host:port][/chroot]] [-timeout ms] [-r] [-waitforconnection]
//!        [-client-configuration file] [cmd args...]
//! ```
//!
//! Client properties (TLS: `zookeeper.client.secure`, `zookeeper.ssl.*`) come as zkCli.sh's
//! do: `-D` flags in `$CLIENT_JVMFLAGS`/`$JVMFLAGS` and the `-client-configuration` file.
//!
//! With a command it runs it once and exits (non-zero if it failed); without, it reads
//! commands: with line editing and history (`~/.zk_cli_history`) on a terminal, one per
//! line otherwise.
//!
//! # Layout
//!
//! - `main.rs`: the launch options (`ZooKeeperMain.MyCommandOptions.parseOptions`).
//! - `shell.rs`: the session, the shell's own commands (`connect`, `history`, `redo`,
//!   `printwatches`, `quit`), the loops and completion.
//! - `commands.rs`: the command table, the line tokenizer, flag parsing and each command.
//! - `quota.rs`: `setquota`, `listquota`, `delquota`.
//! - `watches.rs`: the default watcher that prints `WATCHER::` events.
//! - `format.rs`: Apache's output and error texts.

mod commands;
mod format;
mod quota;
mod shell;
mod watches;

use std::time::Duration;

use format::{errln, outln};
use shell::{Settings, Shell};
use zk_core::client::{ClientOptions, JavaClientConfig};
use zk_core::server::config::{parse_jvm_flags, read_properties_file};

const USAGE: &str = "\
Usage: zk-cli [-server host:port[,host:port...][/chroot]] [-timeout ms] [-r] [-waitforconnection]
              [-client-configuration file] [cmd args...]

  -server             the ensemble to connect to (default localhost:2181)
  -timeout            the session timeout in milliseconds (default 30000)
  -r                  accept a read-only server
  -waitforconnection  wait for the session before running commands
  -client-configuration  a ZKClientConfig properties file (zookeeper.client.secure,
                      zookeeper.ssl.*, jute.maxbuffer, ...); the same properties are also
                      read as -D flags from $CLIENT_JVMFLAGS and $JVMFLAGS, as zkCli.sh does
  cmd args            run one command and exit; without one, read commands";

/// The launch options, parsed as Apache's `parseOptions` does: options until the first
/// word not starting with `-`, which starts the command.
#[derive(Debug, Default, PartialEq, Eq)]
struct Launch {
    server: Option<String>,
    timeout: Option<String>,
    read_only: bool,
    wait: bool,
    client_configuration: Option<String>,
    command: Option<Vec<String>>,
    help: bool,
}

fn parse_launch(args: &[String]) -> Launch {
    let mut launch = Launch::default();
    let mut it = args.iter();
    while let Some(opt) = it.next() {
        let mut value = |slot: &mut Option<String>| match it.next() {
            Some(v) => {
                *slot = Some(v.clone());
                true
            }
            None => {
                errln(&format!("Error: no argument found for option {opt}"));
                false
            }
        };
        let ok = match opt.as_str() {
            "-server" => value(&mut launch.server),
            "-timeout" => value(&mut launch.timeout),
            "-client-configuration" => value(&mut launch.client_configuration),
            "-r" => {
                launch.read_only = true;
                true
            }
            "-waitforconnection" => {
                launch.wait = true;
                true
            }
            "-h" | "-help" | "--help" => {
                launch.help = true;
                true
            }
            _ => true,
        };
        if !ok {
            break;
        }
        if !opt.starts_with('-') {
            let mut command = vec![opt.clone()];
            command.extend(it.cloned());
            launch.command = Some(command);
            break;
        }
    }
    launch
}

/// Apache's client properties as zkCli.sh passes them: the `-D` flags of `$CLIENT_JVMFLAGS`
/// and `$JVMFLAGS`, then the `-client-configuration` file (`ZKClientConfig`), which wins.
fn java_client_config(file: Option<&str>) -> Result<JavaClientConfig, String> {
    let flags = ["CLIENT_JVMFLAGS", "JVMFLAGS"]
        .map(|name| std::env::var(name).unwrap_or_default())
        .join(" ");
    let mut java = JavaClientConfig::from_pairs(parse_jvm_flags(&flags));
    if let Some(file) = file {
        let pairs = read_properties_file(std::path::Path::new(file))
            .map_err(|e| format!("zk-cli: -client-configuration: {e}"))?;
        java.extend(pairs);
    }
    java.apply(ClientOptions::default())
        .map_err(|e| format!("zk-cli: {e}"))?;
    Ok(java)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let launch = parse_launch(&args);
    if launch.help {
        outln(USAGE);
        return;
    }
    let timeout_ms = match launch.timeout.as_deref().map(str::parse::<u64>) {
        None => 30_000,
        Some(Ok(ms)) => ms,
        Some(Err(_)) => {
            errln(&format!(
                "zk-cli: -timeout needs a number of milliseconds, not {:?}",
                launch.timeout.unwrap_or_default()
            ));
            std::process::exit(2);
        }
    };
    let java = match java_client_config(launch.client_configuration.as_deref()) {
        Ok(java) => java,
        Err(message) => {
            errln(&message);
            std::process::exit(2);
        }
    };
    let server = launch
        .server
        .clone()
        .unwrap_or_else(|| "localhost:2181".to_owned());
    outln(&format!("Connecting to {server}"));
    let settings = Settings {
        server,
        timeout: Duration::from_millis(timeout_ms),
        read_only: launch.read_only,
        java,
    };
    let shell = match Shell::start(settings) {
        Ok(shell) => shell,
        Err(message) => {
            errln(&message);
            std::process::exit(1);
        }
    };
    if launch.wait {
        if let Err(message) = shell.wait_connected() {
            errln(&message);
            std::process::exit(1);
        }
    }
    let code = match launch.command {
        Some(command) => shell.run_once(command),
        None => shell.run_interactive(),
    };
    std::process::exit(code);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn launch_options_then_command() {
        let launch = parse_launch(&strings(&[
            "-server", "h:1/app", "-timeout", "5000", "-r", "get", "-s", "/a",
        ]));
        assert_eq!(launch.server.as_deref(), Some("h:1/app"));
        assert_eq!(launch.timeout.as_deref(), Some("5000"));
        assert!(launch.read_only);
        assert_eq!(launch.command, Some(strings(&["get", "-s", "/a"])));
        let launch = parse_launch(&strings(&["-unknown", "-server"]));
        assert_eq!(launch, Launch::default());
    }
}
