//! A real Apache ZooKeeper 3.8 (Debian's `zookeeper` package) started by a test.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const JAR: &str = "/usr/share/java/zookeeper.jar";
const CLASSPATH: &str =
    "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/netty-codec.jar:\
/usr/share/java/netty-resolver.jar:/usr/share/java/slf4j-nop.jar";

/// A running Apache server; killed on drop.
pub struct ApacheServer {
    child: Child,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl ApacheServer {
    /// Starts one, or returns `None` when Apache is not installed and `ZK_REQUIRE_APACHE`
    /// is unset (the full test command sets it, so there a missing install fails).
    pub fn start(extra_config: &str) -> Option<ApacheServer> {
        Self::start_with(extra_config, &[], &[])
    }

    /// As [`start`](Self::start), with JVM flags (a JAAS file:
    /// `-Djava.security.auth.login.config=PATH`) and files written into the server's
    /// folder first: `files` are (name, text), and `{dir}` in a flag names the folder.
    pub fn start_with(
        extra_config: &str,
        files: &[(&str, &str)],
        jvm_flags: &[&str],
    ) -> Option<ApacheServer> {
        if !Path::new(JAR).exists() {
            assert!(
                std::env::var_os("ZK_REQUIRE_APACHE").is_none(),
                "ZK_REQUIRE_APACHE is set but Apache ZooKeeper is not installed ({JAR} missing)"
            );
            eprintln!("skipping: Apache ZooKeeper is not installed ({JAR} missing)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let port = free_port();
        let cfg = dir.path().join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 admin.enableServer=false\n4lw.commands.whitelist=*\nmaxClientCnxns=0\n{extra_config}",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new("java")
            .arg("-Xmx256m")
            .args(
                jvm_flags
                    .iter()
                    .map(|f| f.replace("{dir}", &dir.path().display().to_string())),
            )
            .args([
                "-cp",
                CLASSPATH,
                "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            ])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("java runs");
        Some(ApacheServer {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            _dir: dir,
        })
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Drop for ApacheServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
