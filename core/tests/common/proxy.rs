//! A loopback TCP proxy the fault tests control: forward, stall, or cut every connection.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A proxy in front of one upstream address.
pub struct Proxy {
    pub addr: SocketAddr,
    stalled: Arc<AtomicBool>,
    swallowing: Arc<AtomicBool>,
    swallowed: Arc<AtomicUsize>,
    generation: watch::Sender<u64>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stalled = Arc::new(AtomicBool::new(false));
        let swallowing = Arc::new(AtomicBool::new(false));
        let swallowed = Arc::new(AtomicUsize::new(0));
        let (generation, _) = watch::channel(0u64);
        let proxy = Proxy {
            addr,
            stalled: stalled.clone(),
            swallowing: swallowing.clone(),
            swallowed: swallowed.clone(),
            generation: generation.clone(),
        };
        let mut held = Vec::new();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if swallowing.load(Ordering::SeqCst) {
                    held.push(client);
                    swallowed.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                let stalled = stalled.clone();
                let cut = generation.subscribe();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        pipe(client, server, stalled, cut).await;
                    }
                });
            }
        });
        proxy
    }

    /// Stops moving bytes (both ways, old and new connections) until `resume`.
    pub fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }

    pub fn resume(&self) {
        self.stalled.store(false, Ordering::SeqCst);
    }

    /// From now on, accepts new connections and holds them, never answering, for as long as
    /// the proxy lives (a server that accepted and then hung); `false` serves new ones again.
    pub fn swallow_new(&self, on: bool) {
        self.swallowing.store(on, Ordering::SeqCst);
    }

    /// How many connections were swallowed so far.
    pub fn swallowed(&self) -> usize {
        self.swallowed.load(Ordering::SeqCst)
    }

    /// Closes every connection open now.
    pub fn cut(&self) {
        self.generation.send_modify(|g| *g += 1);
    }
}

async fn pipe(
    client: TcpStream,
    server: TcpStream,
    stalled: Arc<AtomicBool>,
    mut cut: watch::Receiver<u64>,
) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = copy(&mut cr, &mut sw, stalled.clone());
    let down = copy(&mut sr, &mut cw, stalled);
    tokio::select! {
        _ = up => {}
        _ = down => {}
        _ = cut.changed() => {}
    }
}

async fn copy<R, W>(reader: &mut R, writer: &mut W, stalled: Arc<AtomicBool>)
where
    R: AsyncReadExt + Unpin,
    W: AsyncWriteExt + Unpin,
{
    let mut buf = vec![0u8; 65536];
    loop {
        while stalled.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while stalled.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if writer.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
