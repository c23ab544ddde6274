//! What more than one test binary of zk-server needs.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};

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
