//! [`LentReads`]: an event loop waiting for a client's replies reads the connection
//! itself, so each batch of replies wakes the loop's thread alone instead of the IO thread
//! and then the loop (the same saving [`block_on`](super::block_on) makes for a blocked
//! caller; see `socket.rs`).
//!
//! The loop watches [`LentReads::fd`] and calls [`LentReads::handle`] when it is readable:
//! the bytes are read and handled there, under the machine lock, and the calls they
//! answer complete (their wakers run on the loop's thread). Dropping the value gives the
//! reads back. The IO thread takes them back by itself when a ping falls due (a loop that
//! stopped reading must not make a live connection look silent) and to close the session;
//! `handle` then says false, and so it does when the connection is replaced or over. A
//! thread about to block gives back what its loop borrowed first
//! ([`prepare_to_block`](super::prepare_to_block)): nobody would read it meanwhile.

use std::os::fd::RawFd;
use std::sync::Arc;

use super::driver::{Driver, Lent};
use super::wait::{self, WaitHere};

/// The connection's reads, borrowed by an event loop (see the module doc).
pub struct LentReads {
    driver: Arc<Driver>,
    lent: Option<Lent>,
}

impl LentReads {
    pub(crate) fn take(driver: &Arc<Driver>) -> Option<LentReads> {
        let lent = driver.lend_reads()?;
        let weak: std::sync::Weak<dyn WaitHere> = Arc::downgrade(driver) as _;
        wait::borrowed(weak, lent.lending);
        Some(LentReads {
            driver: driver.clone(),
            lent: Some(lent),
        })
    }

    /// The socket to watch for readability. It stays open while this value lives.
    pub fn fd(&self) -> RawFd {
        self.lent.as_ref().map_or(-1, |lent| lent.socket.raw_fd())
    }

    /// Whether the reads are still this value's: false once the IO thread took them
    /// back, or the connection is closing, replaced or over (as [`Self::handle`] would
    /// say, without reading).
    pub fn is_current(&self) -> bool {
        self.lent
            .as_ref()
            .is_some_and(|lent| self.driver.still_lends(lent))
    }

    /// Reads and handles what the socket has (call it when [`Self::fd`] is readable);
    /// false when the loop should stop watching and drop this value: the reads are the
    /// IO thread's again, or the connection is closing, replaced or over.
    pub fn handle(&self) -> bool {
        self.lent
            .as_ref()
            .is_some_and(|lent| self.driver.handle_lent(lent))
    }
}

impl Drop for LentReads {
    fn drop(&mut self) {
        if let Some(lent) = self.lent.take() {
            wait::returned(lent.lending);
            self.driver.return_lent(lent);
        }
    }
}
