//! What more than one test binary of zk-server needs.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Mutex;

/// A loopback port that was free a moment ago, for a server to bind soon after; never the same
/// one twice in a test binary. Chosen below the kernel's ephemeral range rather than by binding
/// port 0: a port from that range can be taken, before the server binds it, as the source port
/// of any outgoing connection (tests/common/peers.py picks its ports the same way).
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut handed_out = HANDED_OUT.lock().unwrap();
    let ceiling = ephemeral_floor();
    let span = u32::from(ceiling - 10_000);
    // Spread over the range by process and by call, so concurrent test binaries rarely try the
    // same ports.
    let mut next = std::process::id().wrapping_mul(7_919);
    for _ in 0..10_000 {
        next = next.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let port = 10_000 + ((next >> 8) % span) as u16;
        if !handed_out.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            handed_out.push(port);
            return port;
        }
    }
    panic!("no free port found in 10000..{ceiling}");
}

/// The first port the kernel hands out for outgoing connections (32768 if unknown).
fn ephemeral_floor() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768u16)
        .max(10_001)
}

/// Opens a session with a raw ConnectRequest (written byte by byte, independent of zk-core's
/// codec) and reads the ConnectResponse; the stream is ready for requests.
pub fn raw_session(address: impl ToSocketAddrs, timeout_ms: i32) -> TcpStream {
    let mut stream = TcpStream::connect(address).unwrap();
    let mut connect = vec![0, 0, 0, 45];
    connect.extend_from_slice(&[0; 4]); // protocol version
    connect.extend_from_slice(&[0; 8]); // last zxid seen
    connect.extend_from_slice(&timeout_ms.to_be_bytes());
    connect.extend_from_slice(&[0; 8]); // session id
    connect.extend_from_slice(&16i32.to_be_bytes());
    connect.extend_from_slice(&[0; 16]);
    connect.push(0);
    stream.write_all(&connect).unwrap();
    let mut reply = [0u8; 41];
    stream.read_exact(&mut reply).unwrap();
    stream
}
