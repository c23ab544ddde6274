//! The established connection's socket, shared by the connection task and the callers,
//! and how a caller can wait for replies on it without waking the task.
//!
//! The runtime's poller watches the socket for writability only. Its readability reaches
//! the poller through an epoll set of one ([`Socket::readable`]), so that a caller that
//! waits for its own reply on the socket ([`Socket::lend_reads`], then
//! [`Socket::wait_readable`]) can take the socket out of that set meanwhile: the reply then
//! wakes the caller's thread alone, instead of the task's thread, which would read it and
//! wake the caller in turn (one thread wake-up per round trip instead of two).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};
use tokio::io::Interest;

/// What [`Socket::wait_readable`] returned for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Waited {
    /// The socket has bytes (or its end: a read says which); checked first.
    Readable,
    /// The other descriptor was signalled.
    Signalled,
    /// A Unix signal interrupted the wait.
    Interrupted,
    /// The wait itself failed.
    Failed,
}

/// What one read of the socket found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadOutcome {
    /// The socket may have more.
    More,
    /// The socket has nothing more now.
    Drained,
    /// The connection is over (closed, or an error).
    Closed,
}

pub(crate) struct Socket {
    /// The socket, registered with the runtime for writability only.
    io: AsyncFd<std::net::TcpStream>,
    /// An epoll set holding the socket for readability, registered with the runtime.
    reads: AsyncFd<OwnedFd>,
}

/// Readability of the socket for the connection task.
const READ_EVENTS: u32 = (libc::EPOLLIN | libc::EPOLLRDHUP) as u32;

impl Socket {
    /// Takes over a connected stream. Runs inside the runtime (it registers with its poller).
    pub fn new(stream: tokio::net::TcpStream) -> io::Result<Socket> {
        let stream = stream.into_std()?;
        // SAFETY: epoll_create1 has no preconditions; the result is checked.
        let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if epoll < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `epoll` is a descriptor we just opened and own alone.
        let epoll = unsafe { OwnedFd::from_raw_fd(epoll) };
        epoll_ctl(
            epoll.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            stream.as_raw_fd(),
            READ_EVENTS,
        )?;
        // SAFETY: a TcpStream and an OwnedFd keep their one descriptor open, unchanged,
        // until they are dropped, which the AsyncFd owning them does last.
        let io = unsafe { AsyncFd::register_with_interest(stream, Interest::WRITABLE)? };
        // SAFETY: as above.
        let reads = unsafe { AsyncFd::register_with_interest(epoll, Interest::READABLE)? };
        Ok(Socket { io, reads })
    }

    fn stream(&self) -> &std::net::TcpStream {
        self.io.get_ref()
    }

    pub fn raw_fd(&self) -> RawFd {
        self.stream().as_raw_fd()
    }

    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&mut self.stream()).read(buf)
    }

    /// Reads into spare room; `Ok(n)`: the first `n` bytes of `room` are initialised.
    pub fn read_into(&self, room: &mut [std::mem::MaybeUninit<u8>]) -> io::Result<usize> {
        // SAFETY: `room` is writable for its whole length during the call, and `read`
        // writes at most that much.
        let n = unsafe {
            libc::read(
                self.stream().as_raw_fd(),
                room.as_mut_ptr().cast(),
                room.len(),
            )
        };
        usize::try_from(n).map_err(|_| io::Error::last_os_error())
    }

    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        (&mut self.stream()).write(buf)
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream().peer_addr()
    }

    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.stream().set_nodelay(nodelay)
    }

    /// Ends the connection now, even while a caller still holds the socket.
    pub fn shutdown(&self) {
        let _ = self.stream().shutdown(Shutdown::Both);
    }

    /// Waits until the socket may have bytes for the task. Clear the guard's readiness
    /// after a read that drained the socket, so the next wait sleeps until new bytes.
    pub async fn readable(&self) -> io::Result<AsyncFdReadyGuard<'_, OwnedFd>> {
        self.reads.readable().await
    }

    /// Waits until the socket may take more bytes. Clear the guard's readiness after a
    /// write that found it full.
    pub async fn writable(&self) -> io::Result<AsyncFdReadyGuard<'_, std::net::TcpStream>> {
        self.io.writable().await
    }

    /// Stops new bytes from waking the task, while a caller waits on the socket itself.
    pub fn lend_reads(&self) -> io::Result<()> {
        self.epoll_ctl(libc::EPOLL_CTL_DEL)
    }

    /// Undoes [`Self::lend_reads`]; bytes that arrived and were not read wake the task.
    /// (The socket goes back into the set anew rather than by `EPOLL_CTL_MOD`, which
    /// wakes nobody when the set still lists the socket as ready from before.)
    pub fn return_reads(&self) -> io::Result<()> {
        self.epoll_ctl(libc::EPOLL_CTL_ADD)
    }

    fn epoll_ctl(&self, op: libc::c_int) -> io::Result<()> {
        epoll_ctl(
            self.reads.get_ref().as_raw_fd(),
            op,
            self.stream().as_raw_fd(),
            READ_EVENTS,
        )
    }

    /// Blocks the calling thread until the socket is readable or `signal` (an eventfd)
    /// is, or a Unix signal interrupts the wait.
    pub fn wait_readable(&self, signal: RawFd) -> Waited {
        let mut fds = [
            libc::pollfd {
                fd: self.stream().as_raw_fd(),
                events: libc::POLLIN | libc::POLLRDHUP,
                revents: 0,
            },
            libc::pollfd {
                fd: signal,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: `fds` is a valid array of two pollfd for the duration of the call.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if ready < 0 {
            return match io::Error::last_os_error().kind() {
                io::ErrorKind::Interrupted => Waited::Interrupted,
                _ => Waited::Failed,
            };
        }
        if fds[0].revents != 0 {
            Waited::Readable
        } else if fds[1].revents != 0 {
            Waited::Signalled
        } else {
            Waited::Interrupted
        }
    }
}

fn epoll_ctl(epoll: RawFd, op: libc::c_int, fd: RawFd, events: u32) -> io::Result<()> {
    let mut event = libc::epoll_event {
        events,
        u64: fd as u64,
    };
    // SAFETY: both descriptors are open for the call, and `event` outlives it.
    if unsafe { libc::epoll_ctl(epoll, op, fd, &mut event) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
