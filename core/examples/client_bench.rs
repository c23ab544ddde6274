//! Client benchmark: getData round-trips and pipelined getData throughput of zk-core's
//! async client, for bench/client/run.sh (which runs Apache's Java client and kazoo the
//! same way against the same server).
//!
//! ```text
//! client_bench --server HOST:PORT --mode roundtrip|pipelined [--ops N] [--inflight K]
//!              [--value-size B] [--path P] [--warmup W] [--runtime multi|current]
//!     W (default N/10) untimed operations first, then N timed getData calls on P:
//!     one at a time (roundtrip) or with K outstanding (pipelined). Prints one JSON line:
//!     {"client":"zk-rust","mode":..,"ops":..,"seconds":..,"ops_per_sec":..,"p50_us":..,"p99_us":..}
//! client_bench --server HOST:PORT --setup [--value-size B] [--path P]
//!     creates P (or overwrites it) with B bytes of data, then exits.
//! ```
//!
//! `--runtime` picks tokio's multi-thread runtime (the default, one worker per core, as
//! `#[tokio::main]` gives) or the current-thread one (reported as client "zk-rust-ct").
//!
//! Latency is measured per call, from just before the call to its reply; in pipelined mode
//! it therefore includes the time a request waits behind the K-1 others.

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use zk_core::client::{Client, ClientOptions, Error};
use zk_core::proto::{Acl, CreateMode, ErrorCode};

struct Args {
    server: String,
    mode: String,
    ops: usize,
    inflight: usize,
    value_size: usize,
    path: String,
    warmup: Option<usize>,
    setup: bool,
    current_thread: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        server: "127.0.0.1:2181".into(),
        mode: "roundtrip".into(),
        ops: 20_000,
        inflight: 64,
        value_size: 100,
        path: "/bench".into(),
        warmup: None,
        setup: false,
        current_thread: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--setup" {
            args.setup = true;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("{flag} takes a number"))
        };
        match flag.as_str() {
            "--server" => args.server = value.clone(),
            "--mode" => args.mode = value.clone(),
            "--ops" => args.ops = number()?,
            "--inflight" => args.inflight = number()?.max(1),
            "--value-size" => args.value_size = number()?,
            "--path" => args.path = value.clone(),
            "--warmup" => args.warmup = Some(number()?),
            "--runtime" => match value.as_str() {
                "multi" => args.current_thread = false,
                "current" => args.current_thread = true,
                _ => return Err("--runtime is multi or current".into()),
            },
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if !matches!(args.mode.as_str(), "roundtrip" | "pipelined") {
        return Err("--mode is roundtrip or pipelined".into());
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("client_bench: {message}");
            return ExitCode::from(2);
        }
    };
    let mut builder = if args.current_thread {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    match builder.enable_all().build() {
        Ok(runtime) => runtime.block_on(run_main(args)),
        Err(e) => {
            eprintln!("client_bench: cannot start tokio: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_main(args: Args) -> ExitCode {
    let client = match Client::connect(&args.server, ClientOptions::default()).await {
        Ok(client) => client,
        Err(e) => {
            eprintln!("client_bench: cannot connect to {}: {e}", args.server);
            return ExitCode::FAILURE;
        }
    };
    let result = if args.setup {
        setup(&client, &args).await
    } else {
        bench(&client, &args).await
    };
    client.close().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("client_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn setup(client: &Client, args: &Args) -> Result<(), Error> {
    let value = vec![b'x'; args.value_size];
    match client
        .create(
            &args.path,
            &value,
            &Acl::open_unsafe(),
            CreateMode::Persistent,
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(Error::Server(ErrorCode::NodeExists)) => {
            client.set_data(&args.path, &value, -1).await.map(|_| ())
        }
        Err(e) => Err(e),
    }
}

async fn bench(client: &Client, args: &Args) -> Result<(), Error> {
    let warmup = args.warmup.unwrap_or(args.ops / 10);
    let pipelined = args.mode == "pipelined";
    if warmup > 0 {
        run(client, &args.path, warmup, pipelined, args.inflight).await?;
    }
    let start = Instant::now();
    let mut latencies = run(client, &args.path, args.ops, pipelined, args.inflight).await?;
    let seconds = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let percentile = |p: usize| -> u64 {
        if latencies.is_empty() {
            return 0;
        }
        latencies[(latencies.len() * p / 100).min(latencies.len() - 1)]
    };
    println!(
        "{{\"client\":\"{}\",\"mode\":\"{}\",\"ops\":{},\"seconds\":{:.4},\"ops_per_sec\":{:.1},\"p50_us\":{},\"p99_us\":{}}}",
        if args.current_thread { "zk-rust-ct" } else { "zk-rust" },
        args.mode,
        args.ops,
        seconds,
        args.ops as f64 / seconds,
        percentile(50),
        percentile(99),
    );
    Ok(())
}

/// Runs `ops` getData calls and returns each one's latency in microseconds.
async fn run(
    client: &Client,
    path: &str,
    ops: usize,
    pipelined: bool,
    inflight: usize,
) -> Result<Vec<u64>, Error> {
    if !pipelined {
        let mut latencies = Vec::with_capacity(ops);
        for _ in 0..ops {
            let t = Instant::now();
            client.get_data(path).await?;
            latencies.push(t.elapsed().as_micros() as u64);
        }
        return Ok(latencies);
    }
    // K workers on clones of the one client, each taking the next operation number until
    // `ops` are issued: at most K calls outstanding on the connection at any time.
    let issued = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..inflight.min(ops.max(1)) {
        let client = client.clone();
        let issued = issued.clone();
        let path = path.to_owned();
        workers.spawn(async move {
            let mut latencies = Vec::with_capacity(ops / inflight + 1);
            while issued.fetch_add(1, Ordering::Relaxed) < ops {
                let t = Instant::now();
                client.get_data(&path).await?;
                latencies.push(t.elapsed().as_micros() as u64);
            }
            Ok::<_, Error>(latencies)
        });
    }
    let mut all = Vec::with_capacity(ops);
    while let Some(joined) = workers.join_next().await {
        let latencies = joined.map_err(|e| Error::Protocol(format!("worker panicked: {e}")))??;
        all.extend(latencies);
    }
    Ok(all)
}
