//! What every example shares: where the ensemble is and how to connect. Each program in
//! `src/bin` is one of the classic ZooKeeper use cases; see `examples/rust/README.md`.

use std::time::Duration;

use zk_core::client::{Client, ClientOptions};

/// The connect string: the first argument, else `$ZK_HOSTS`, else `127.0.0.1:2181`.
pub fn hosts() -> String {
    std::env::args()
        .nth(1)
        .or_else(|| std::env::var("ZK_HOSTS").ok())
        .unwrap_or_else(|| "127.0.0.1:2181".into())
}

/// A new session (each call is another client, as another process would be).
pub async fn connect(hosts: &str) -> Client {
    connect_with(hosts, Duration::from_secs(10)).await
}

/// A new session with `session_timeout`; exits the program if the ensemble is unreachable.
pub async fn connect_with(hosts: &str, session_timeout: Duration) -> Client {
    let options = ClientOptions::default().session_timeout(session_timeout);
    match Client::connect(hosts, options).await {
        Ok(client) => client,
        Err(e) => {
            eprintln!("cannot connect to {hosts}: {e}");
            std::process::exit(2);
        }
    }
}

/// Prints the verdict line the tests look for and exits 0 or 1.
pub fn verdict(example: &str, ok: bool, detail: &str) -> ! {
    println!("{example}: {} ({detail})", if ok { "ok" } else { "FAILED" });
    std::process::exit(if ok { 0 } else { 1 })
}
