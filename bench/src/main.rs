//! `zk-bench`: a load generator for ZooKeeper servers (zk-server and Apache ZooKeeper).
//!
//! Workloads (after etcd's and ZooKeeper's own benchmarks):
//!
//! - `load`: creates `--keys` persistent nodes `PREFIX/kNNNNNNN` of `--value-size` bytes
//!   (existing ones are skipped), then stops; used to preload a server.
//! - `read`: getData of random keys. `write`: setData of random keys. `mixed`: 90 % getData,
//!   10 % setData.
//! - `create-delete`: create an ephemeral-sequential node under `PREFIX/cd`, then delete it
//!   (each call is one operation).
//! - `watch`: `--clients` sessions each hold a data watch on `PREFIX/watch`; one more session
//!   sets it. The latency is from the setData reply to the last watcher's event.
//! - `idle`: opens `--clients` sessions and leaves them idle (pings only) for `--duration`;
//!   reports the server's RSS growth per session and its CPU while idle.
//!
//! Every session is one [`Client`]; `--inflight` tasks share it (pipelined on one
//! connection). The report is a table and one JSON line (the last line of stdout); a progress
//! line goes to stderr every second. With `--server-pid`, the server's CPU time (utime + stime
//! plus reaped children's, from `/proc/PID/stat`) and RSS are sampled around the measured phase.
//!
//! Ensembles: `--server` takes a connect string `h1:p1,h2:p2,h3:p3`; session `i` connects to
//! host `i % n` only (no shuffling, no fail-over to another host), so the sessions are spread
//! evenly over the members. `--server-pid` takes several pids (comma-separated or the flag
//! repeated); CPU time and RSS are then the sums over those processes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use zk_core::client::{Client, ClientOptions, Error, TlsOptions};
use zk_core::proto::{Acl, CreateMode, ErrorCode};

const USAGE: &str = "\
Usage: zk-bench --workload load|read|write|mixed|create-delete|watch|idle [options]
  --server HOST:PORT[,HOST:PORT...]
                         server(s) to load (default 127.0.0.1:2181); session i
                         connects to the (i mod n)-th host only
  --clients N            sessions (default 8)
  --inflight K           outstanding requests per session (default 8)
  --value-size B         bytes per value (default 100)
  --keys N               key space (default 10000)
  --duration S           measured seconds (default 10)
  --warmup S             unmeasured seconds first (default 2)
  --prefix P             parent node (default /bench)
  --server-pid PID[,PID...]
                         sample these processes' CPU time and RSS from /proc
                         (summed; the flag may also be repeated)
  --threads T            tokio worker threads; 1 = current-thread runtime (default 1)
  --session-timeout-ms M requested session timeout (default 30000)
  --tls-ca FILE          speak TLS, trusting the PEM authorities in FILE
  --tls-cert FILE, --tls-key FILE
                         a client certificate and key (PEM) for the TLS handshake
  --label L              free text copied into the JSON line
  --quiet                no progress line";

#[derive(Clone, Debug)]
struct Args {
    workload: String,
    server: String,
    /// `server` split into hosts, each with the chroot (if any) appended.
    hosts: Vec<String>,
    clients: usize,
    inflight: usize,
    value_size: usize,
    keys: usize,
    duration: f64,
    warmup: f64,
    prefix: String,
    server_pids: Vec<u32>,
    threads: usize,
    session_timeout_ms: u64,
    label: String,
    quiet: bool,
    /// TLS with these PEM files: authorities, and an optional client certificate and key.
    tls_ca: Option<String>,
    tls_cert: Option<String>,
    tls_key: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        workload: String::new(),
        server: "127.0.0.1:2181".into(),
        hosts: Vec::new(),
        clients: 8,
        inflight: 8,
        value_size: 100,
        keys: 10_000,
        duration: 10.0,
        warmup: 2.0,
        prefix: "/bench".into(),
        server_pids: Vec::new(),
        threads: 1,
        session_timeout_ms: 30_000,
        label: String::new(),
        quiet: false,
        tls_ca: None,
        tls_cert: None,
        tls_key: None,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let flag = argv[i].as_str();
        if flag == "--quiet" {
            a.quiet = true;
            i += 1;
            continue;
        }
        if flag == "--help" || flag == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let v = argv
            .get(i + 1)
            .ok_or_else(|| format!("{flag} needs a value"))?
            .clone();
        let num = |v: &str| v.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        let secs = |v: &str| v.parse::<f64>().map_err(|e| format!("{flag}: {e}"));
        match flag {
            "--workload" => a.workload = v,
            "--server" => a.server = v,
            "--clients" => a.clients = num(&v)?.max(1),
            "--inflight" => a.inflight = num(&v)?.max(1),
            "--value-size" => a.value_size = num(&v)?,
            "--keys" => a.keys = num(&v)?.max(1),
            "--duration" => a.duration = secs(&v)?,
            "--warmup" => a.warmup = secs(&v)?,
            "--prefix" => a.prefix = v,
            "--server-pid" => {
                for pid in v.split(',').filter(|p| !p.is_empty()) {
                    a.server_pids.push(num(pid)? as u32);
                }
            }
            "--threads" => a.threads = num(&v)?.max(1),
            "--session-timeout-ms" => a.session_timeout_ms = num(&v)? as u64,
            "--label" => a.label = v,
            "--tls-ca" => a.tls_ca = Some(v),
            "--tls-cert" => a.tls_cert = Some(v),
            "--tls-key" => a.tls_key = Some(v),
            _ => return Err(format!("unknown flag {flag}")),
        }
        i += 2;
    }
    a.hosts = split_hosts(&a.server);
    if a.hosts.is_empty() {
        return Err(format!("--server {:?} names no host", a.server));
    }
    match a.workload.as_str() {
        "load" | "read" | "write" | "mixed" | "create-delete" | "watch" | "idle" => Ok(a),
        "" => Err("--workload is required".into()),
        w => Err(format!("unknown workload {w:?}")),
    }
}

/// `h1:p1,h2:p2/chroot` -> `["h1:p1/chroot", "h2:p2/chroot"]`.
fn split_hosts(connect: &str) -> Vec<String> {
    let (hosts, chroot) = match connect.find('/') {
        Some(at) => connect.split_at(at),
        None => (connect, ""),
    };
    hosts
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|h| format!("{h}{chroot}"))
        .collect()
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("zk-bench: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    }
    .expect("tokio runtime");
    match runtime.block_on(run(args)) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("zk-bench: {e}");
            std::process::exit(1);
        }
    }
}

// ----- /proc sampling -----

#[derive(Clone, Copy, Debug, Default)]
struct ProcSample {
    cpu_seconds: f64,
    rss_bytes: u64,
}

/// The sum over `pids`; None when there are none or one cannot be read (it exited).
fn sample(pids: &[u32]) -> Option<ProcSample> {
    if pids.is_empty() {
        return None;
    }
    let mut total = ProcSample::default();
    for &pid in pids {
        let one = sample_one(pid)?;
        total.cpu_seconds += one.cpu_seconds;
        total.rss_bytes += one.rss_bytes;
    }
    Some(total)
}

fn sample_one(pid: u32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime 15, rss (pages) 24.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // cutime + cstime: reaped children (zk-server forks its snapshot writer).
    let cutime: u64 = fields.get(13)?.parse().ok()?;
    let cstime: u64 = fields.get(14)?.parse().ok()?;
    let rss_pages: u64 = fields.get(21)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let (tck, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    Some(ProcSample {
        cpu_seconds: (utime + stime + cutime + cstime) as f64 / tck.max(1) as f64,
        rss_bytes: rss_pages * page.max(1) as u64,
    })
}

// ----- shared state -----

struct Shared {
    args: Args,
    value: Vec<u8>,
    acl: Vec<Acl>,
    /// Set once the warm-up is over: from then on latencies are recorded.
    measuring: AtomicBool,
    stop: AtomicBool,
    ops: AtomicU64,
    errors: AtomicU64,
}

fn key(prefix: &str, i: usize) -> String {
    format!("{prefix}/k{i:07}")
}

/// xorshift64*: cheap per-task randomness with no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("histogram bounds")
}

/// Session `index` of the run, on host `index % hosts`.
async fn connect(args: &Args, index: usize) -> Result<Client, String> {
    let tls = match &args.tls_ca {
        Some(ca) => Some(
            TlsOptions::new(ca)
                .client_cert_files(args.tls_cert.as_ref(), args.tls_key.as_ref())
                .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    let options = ClientOptions {
        session_timeout: Duration::from_millis(args.session_timeout_ms),
        tls,
        ..ClientOptions::default()
    };
    let host = &args.hosts[index % args.hosts.len()];
    let client = Client::connect(host, options)
        .await
        .map_err(|e| format!("connect {host}: {e}"))?;
    client
        .wait_connected(Duration::from_secs(30))
        .await
        .map_err(|e| format!("connect {host}: {e}"))?;
    Ok(client)
}

async fn ensure(client: &Client, path: &str, data: &[u8]) -> Result<(), String> {
    match client
        .create(path, data, &Acl::open_unsafe(), CreateMode::Persistent)
        .await
    {
        Ok(_) | Err(Error::Server(ErrorCode::NodeExists)) => Ok(()),
        Err(e) => Err(format!("create {path}: {e}")),
    }
}

async fn connect_all(args: &Args) -> Result<Vec<Client>, String> {
    let mut clients = Vec::with_capacity(args.clients);
    // Connect in batches so a few thousand sessions do not all time out together.
    for chunk in (0..args.clients).collect::<Vec<_>>().chunks(64) {
        let mut pending = Vec::new();
        for &index in chunk {
            let a = args.clone();
            pending.push(tokio::spawn(async move { connect(&a, index).await }));
        }
        for p in pending {
            clients.push(p.await.map_err(|e| e.to_string())??);
        }
    }
    Ok(clients)
}

// ----- the report -----

struct Report {
    ops: u64,
    errors: u64,
    seconds: f64,
    hist: Histogram<u64>,
    cpu: Option<(ProcSample, ProcSample)>,
    extra: Vec<(String, String)>,
}

fn print_report(args: &Args, r: &Report) {
    let ops_per_sec = if r.seconds > 0.0 {
        r.ops as f64 / r.seconds
    } else {
        0.0
    };
    let pct = |q: f64| {
        if r.hist.is_empty() {
            0
        } else {
            r.hist.value_at_quantile(q)
        }
    };
    let (p50, p99, p999, max) = (pct(0.5), pct(0.99), pct(0.999), r.hist.max());
    let mut fields: Vec<(String, String)> = vec![
        ("workload".into(), json_str(&args.workload)),
        ("label".into(), json_str(&args.label)),
        ("server".into(), json_str(&args.server)),
        ("hosts".into(), args.hosts.len().to_string()),
        ("clients".into(), args.clients.to_string()),
        ("inflight".into(), args.inflight.to_string()),
        ("value_size".into(), args.value_size.to_string()),
        ("keys".into(), args.keys.to_string()),
        ("ops".into(), r.ops.to_string()),
        ("errors".into(), r.errors.to_string()),
        ("seconds".into(), format!("{:.3}", r.seconds)),
        ("ops_per_sec".into(), format!("{ops_per_sec:.1}")),
        ("p50_us".into(), p50.to_string()),
        ("p99_us".into(), p99.to_string()),
        ("p999_us".into(), p999.to_string()),
        ("max_us".into(), max.to_string()),
        ("mean_us".into(), format!("{:.1}", r.hist.mean())),
    ];
    let mut table = vec![
        ("workload", args.workload.clone()),
        (
            "sessions x inflight",
            format!("{} x {}", args.clients, args.inflight),
        ),
        ("ops", r.ops.to_string()),
        ("errors", r.errors.to_string()),
        ("seconds", format!("{:.2}", r.seconds)),
        ("ops/s", format!("{ops_per_sec:.0}")),
        (
            "p50 / p99 / p99.9 / max µs",
            format!("{p50} / {p99} / {p999} / {max}"),
        ),
    ];
    if let Some((a, b)) = r.cpu {
        let cpu = b.cpu_seconds - a.cpu_seconds;
        let per_k = if r.ops > 0 {
            cpu * 1000.0 / r.ops as f64
        } else {
            0.0
        };
        fields.push(("server_cpu_seconds".into(), format!("{cpu:.3}")));
        fields.push(("server_cpu_s_per_1k_ops".into(), format!("{per_k:.6}")));
        fields.push(("server_rss_bytes".into(), b.rss_bytes.to_string()));
        fields.push((
            "server_processes".into(),
            args.server_pids.len().to_string(),
        ));
        table.push(("server CPU s", format!("{cpu:.2}")));
        table.push(("server CPU ms / 1k ops", format!("{:.2}", per_k * 1000.0)));
        table.push((
            "server RSS MiB",
            format!("{:.1}", b.rss_bytes as f64 / 1048576.0),
        ));
    }
    for (k, v) in &r.extra {
        fields.push((k.clone(), v.clone()));
        table.push(("", format!("{k} = {v}")));
    }
    for (k, v) in &table {
        println!("{k:>28}  {v}");
    }
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    println!("{{{}}}", body.join(","));
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn spawn_progress(shared: Arc<Shared>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let start = Instant::now();
        let mut last = 0u64;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        while !shared.stop.load(Ordering::Relaxed) {
            tick.tick().await;
            if shared.args.quiet {
                continue;
            }
            let ops = shared.ops.load(Ordering::Relaxed);
            let phase = if shared.stop.load(Ordering::Relaxed) {
                "done"
            } else if shared.measuring.load(Ordering::Relaxed) {
                "measuring"
            } else {
                "warm-up"
            };
            eprint!(
                "\r[{:6.1}s] {phase:9} {:>10} ops  {:>9} ops/s  {} errors   ",
                start.elapsed().as_secs_f64(),
                ops,
                ops - last,
                shared.errors.load(Ordering::Relaxed)
            );
            last = ops;
        }
        if !shared.args.quiet {
            eprintln!();
        }
    })
}

// ----- workloads -----

async fn run(args: Args) -> Result<(), String> {
    let shared = Arc::new(Shared {
        value: vec![b'x'; args.value_size],
        acl: Acl::open_unsafe(),
        measuring: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        ops: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        args: args.clone(),
    });
    let report = match args.workload.as_str() {
        "load" => load(shared.clone()).await?,
        "watch" => watch(shared.clone()).await?,
        "idle" => idle(shared.clone()).await?,
        _ => timed(shared.clone()).await?,
    };
    print_report(&args, &report);
    Ok(())
}

/// Creates the keys that do not exist yet, `clients * inflight` at a time.
async fn load(shared: Arc<Shared>) -> Result<Report, String> {
    let args = &shared.args;
    let clients = connect_all(args).await?;
    ensure(&clients[0], &args.prefix, b"").await?;
    shared.measuring.store(true, Ordering::Relaxed);
    let progress = spawn_progress(shared.clone());
    let next = Arc::new(AtomicU64::new(0));
    let before = sample(&args.server_pids);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for client in &clients {
        for _ in 0..args.inflight {
            let (client, shared, next) = (client.clone(), shared.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                let mut hist = new_histogram();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if i >= shared.args.keys {
                        break;
                    }
                    let path = key(&shared.args.prefix, i);
                    let t = Instant::now();
                    let r = client
                        .create(&path, &shared.value, &shared.acl, CreateMode::Persistent)
                        .await;
                    let _ = hist.record(t.elapsed().as_micros().max(1) as u64);
                    match r {
                        Ok(_) | Err(Error::Server(ErrorCode::NodeExists)) => {}
                        Err(_) => {
                            shared.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    shared.ops.fetch_add(1, Ordering::Relaxed);
                }
                hist
            }));
        }
    }
    let mut hist = new_histogram();
    for t in tasks {
        hist.add(t.await.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let after = sample(&args.server_pids);
    shared.stop.store(true, Ordering::Relaxed);
    let _ = progress.await;
    for c in &clients {
        c.close().await;
    }
    Ok(Report {
        ops: shared.ops.load(Ordering::Relaxed),
        errors: shared.errors.load(Ordering::Relaxed),
        seconds,
        hist,
        cpu: before.zip(after),
        extra: vec![],
    })
}

/// read, write, mixed and create-delete: closed loops for warm-up + duration.
async fn timed(shared: Arc<Shared>) -> Result<Report, String> {
    let args = &shared.args;
    let clients = connect_all(args).await?;
    if args.workload == "create-delete" {
        ensure(&clients[0], &args.prefix, b"").await?;
        ensure(&clients[0], &format!("{}/cd", args.prefix), b"").await?;
    } else {
        // The keys must exist (zk-bench --workload load); check the first and the last.
        for i in [0, args.keys - 1] {
            let path = key(&args.prefix, i);
            if clients[0]
                .exists(&path)
                .await
                .map_err(|e| e.to_string())?
                .is_none()
            {
                return Err(format!("{path} does not exist: run --workload load first"));
            }
        }
    }
    let progress = spawn_progress(shared.clone());
    let mut tasks = Vec::new();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for client in &clients {
        for _ in 0..args.inflight {
            seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let (client, shared) = (client.clone(), shared.clone());
            tasks.push(tokio::spawn(worker(client, shared, Rng(seed | 1))));
        }
    }
    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    let ops_at_start = shared.ops.load(Ordering::Relaxed);
    let errors_at_start = shared.errors.load(Ordering::Relaxed);
    let before = sample(&args.server_pids);
    let start = Instant::now();
    shared.measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
    shared.measuring.store(false, Ordering::Relaxed);
    let ops = shared.ops.load(Ordering::Relaxed) - ops_at_start;
    let errors = shared.errors.load(Ordering::Relaxed) - errors_at_start;
    let seconds = start.elapsed().as_secs_f64();
    let after = sample(&args.server_pids);
    shared.stop.store(true, Ordering::Relaxed);
    let mut hist = new_histogram();
    for t in tasks {
        hist.add(t.await.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let _ = progress.await;
    for c in &clients {
        c.close().await;
    }
    Ok(Report {
        ops,
        errors,
        seconds,
        hist,
        cpu: before.zip(after),
        extra: vec![],
    })
}

async fn worker(client: Client, shared: Arc<Shared>, mut rng: Rng) -> Histogram<u64> {
    let mut hist = new_histogram();
    let args = &shared.args;
    let cd_prefix = format!("{}/cd/s-", args.prefix);
    while !shared.stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        let ok = match args.workload.as_str() {
            "read" => client
                .get_data(&key(&args.prefix, rng.below(args.keys)))
                .await
                .is_ok(),
            "write" => client
                .set_data(&key(&args.prefix, rng.below(args.keys)), &shared.value, -1)
                .await
                .is_ok(),
            "mixed" => {
                let path = key(&args.prefix, rng.below(args.keys));
                if rng.below(10) == 0 {
                    client.set_data(&path, &shared.value, -1).await.is_ok()
                } else {
                    client.get_data(&path).await.is_ok()
                }
            }
            _ => {
                // create-delete: two operations, each timed and counted.
                let created = client
                    .create(
                        &cd_prefix,
                        &shared.value,
                        &shared.acl,
                        CreateMode::EphemeralSequential,
                    )
                    .await;
                let measuring = shared.measuring.load(Ordering::Relaxed);
                if measuring {
                    let _ = hist.record(t.elapsed().as_micros().max(1) as u64);
                }
                shared.ops.fetch_add(1, Ordering::Relaxed);
                match created {
                    Ok((path, _)) => {
                        let t2 = Instant::now();
                        let ok = client.delete(&path, -1).await.is_ok();
                        if !ok {
                            shared.errors.fetch_add(1, Ordering::Relaxed);
                        }
                        if shared.measuring.load(Ordering::Relaxed) {
                            let _ = hist.record(t2.elapsed().as_micros().max(1) as u64);
                        }
                        shared.ops.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        shared.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                continue;
            }
        };
        if shared.measuring.load(Ordering::Relaxed) {
            let _ = hist.record(t.elapsed().as_micros().max(1) as u64);
        }
        if !ok {
            shared.errors.fetch_add(1, Ordering::Relaxed);
        }
        shared.ops.fetch_add(1, Ordering::Relaxed);
    }
    hist
}

/// Watch fan-out: rounds of (every watcher arms a data watch; the writer sets the node);
/// each round's latency is from the setData reply to the last watcher's event.
async fn watch(shared: Arc<Shared>) -> Result<Report, String> {
    let args = &shared.args;
    let path = format!("{}/watch", args.prefix);
    let writer = connect(args, 0).await?;
    ensure(&writer, &args.prefix, b"").await?;
    ensure(&writer, &path, &shared.value).await?;
    let watchers = connect_all(args).await?;
    let n = watchers.len();
    let armed = Arc::new(tokio::sync::Barrier::new(n + 1));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Option<Instant>>();
    let mut tasks = Vec::new();
    for w in &watchers {
        let (w, armed, tx, shared, path) = (
            w.clone(),
            armed.clone(),
            tx.clone(),
            shared.clone(),
            path.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let watch = w.get_data_watch(&path).await;
                armed.wait().await;
                if shared.stop.load(Ordering::Relaxed) {
                    break;
                }
                let got = match watch {
                    Ok((_, _, watch)) => watch.changed().await.ok().map(|_| Instant::now()),
                    Err(_) => None,
                };
                if tx.send(got).is_err() {
                    break;
                }
            }
        }));
    }
    let progress = spawn_progress(shared.clone());
    let warmup_end = Instant::now() + Duration::from_secs_f64(args.warmup);
    let mut hist = new_histogram();
    let mut start = None;
    let mut before = None;
    loop {
        let now = Instant::now();
        if start.is_none() && now >= warmup_end {
            start = Some(now);
            before = sample(&args.server_pids);
            shared.ops.store(0, Ordering::Relaxed);
            shared.errors.store(0, Ordering::Relaxed);
            shared.measuring.store(true, Ordering::Relaxed);
        }
        if let Some(s) = start {
            if now.duration_since(s).as_secs_f64() >= args.duration {
                break;
            }
        }
        armed.wait().await;
        let reply = match writer.set_data(&path, &shared.value, -1).await {
            Ok(_) => Instant::now(),
            Err(e) => return Err(format!("setData {path}: {e}")),
        };
        let mut last = reply;
        let mut missing = 0u64;
        for _ in 0..n {
            match rx.recv().await {
                Some(Some(t)) => last = last.max(t),
                _ => missing += 1,
            }
        }
        if shared.measuring.load(Ordering::Relaxed) {
            let _ = hist.record(last.duration_since(reply).as_micros().max(1) as u64);
        }
        shared.errors.fetch_add(missing, Ordering::Relaxed);
        shared.ops.fetch_add(1, Ordering::Relaxed);
    }
    let seconds = start.map_or(0.0, |s| s.elapsed().as_secs_f64());
    let after = sample(&args.server_pids);
    shared.stop.store(true, Ordering::Relaxed);
    armed.wait().await;
    for t in tasks {
        let _ = t.await;
    }
    let _ = progress.await;
    for c in watchers.iter().chain(std::iter::once(&writer)) {
        c.close().await;
    }
    Ok(Report {
        ops: shared.ops.load(Ordering::Relaxed),
        errors: shared.errors.load(Ordering::Relaxed),
        seconds,
        hist,
        cpu: before.zip(after),
        extra: vec![(
            "events_per_sec".into(),
            format!(
                "{:.1}",
                shared.ops.load(Ordering::Relaxed) as f64 * n as f64 / seconds.max(1e-9)
            ),
        )],
    })
}

/// Many idle sessions: server RSS growth per session and server CPU while only pings flow.
async fn idle(shared: Arc<Shared>) -> Result<Report, String> {
    let args = &shared.args;
    let base = sample(&args.server_pids);
    let open_start = Instant::now();
    let clients = connect_all(args).await?;
    let open_seconds = open_start.elapsed().as_secs_f64();
    shared.measuring.store(true, Ordering::Relaxed);
    let progress = spawn_progress(shared.clone());
    let before = sample(&args.server_pids);
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
    let seconds = start.elapsed().as_secs_f64();
    let after = sample(&args.server_pids);
    shared.stop.store(true, Ordering::Relaxed);
    let _ = progress.await;
    let mut extra = vec![
        ("sessions".into(), clients.len().to_string()),
        ("connect_seconds".into(), format!("{open_seconds:.3}")),
    ];
    if let (Some(base), Some(b), Some(a)) = (base, before, after) {
        let per_session = (a.rss_bytes as f64 - base.rss_bytes as f64) / clients.len() as f64;
        extra.push(("rss_bytes_per_session".into(), format!("{per_session:.0}")));
        extra.push((
            "idle_cpu_percent".into(),
            format!("{:.3}", 100.0 * (a.cpu_seconds - b.cpu_seconds) / seconds),
        ));
    }
    for c in &clients {
        c.close().await;
    }
    Ok(Report {
        ops: 0,
        errors: 0,
        seconds,
        hist: new_histogram(),
        cpu: before.zip(after),
        extra,
    })
}
