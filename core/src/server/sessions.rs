//! Session liveness on this server: deadlines renewed by client traffic, and which
//! connection holds each session. Expiry itself goes through the log (a CloseSession txn),
//! so this table only decides *when* to propose it. Time is passed in.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::watch::ConnId;

#[derive(Debug, Clone)]
struct Tracked {
    timeout: Duration,
    deadline: Instant,
    conn: Option<ConnId>,
    closing: bool,
}

/// Deadlines and owners of every live session.
#[derive(Debug, Default)]
pub struct SessionTracker {
    sessions: HashMap<i64, Tracked>,
    /// Sessions touched since [`SessionTracker::take_touched`] last ran: what an ensemble
    /// member reports to the leader, which alone decides expiry.
    touched: HashSet<i64>,
}

impl SessionTracker {
    /// Starts tracking a session (new, or restored after a restart with a fresh deadline).
    pub fn register(&mut self, id: i64, timeout_ms: i32, now: Instant) {
        let timeout = Duration::from_millis(timeout_ms.max(0) as u64);
        self.sessions.insert(
            id,
            Tracked {
                timeout,
                deadline: now + timeout,
                conn: None,
                closing: false,
            },
        );
    }

    /// Renews a session's deadline; false if it is unknown or already being closed.
    pub fn touch(&mut self, id: i64, now: Instant) -> bool {
        match self.sessions.get_mut(&id) {
            Some(t) if !t.closing => {
                t.deadline = now + t.timeout;
                self.touched.insert(id);
                true
            }
            _ => false,
        }
    }

    /// The sessions touched since the last call.
    pub fn take_touched(&mut self) -> Vec<i64> {
        self.touched.drain().collect()
    }

    /// Gives every session a whole timeout from `now`: what a new ensemble leader does, since
    /// it cannot know when other members last heard from their clients.
    pub fn refresh_all(&mut self, now: Instant) {
        for t in self.sessions.values_mut() {
            t.deadline = now + t.timeout;
            t.closing = false;
        }
    }

    /// Gives the session a new timeout (reconnects renegotiate it).
    pub fn set_timeout(&mut self, id: i64, timeout_ms: i32, now: Instant) {
        if let Some(t) = self.sessions.get_mut(&id) {
            t.timeout = Duration::from_millis(timeout_ms.max(0) as u64);
            t.deadline = now + t.timeout;
        }
    }

    /// Binds the session to `conn`, returning the connection that held it before.
    pub fn attach(&mut self, id: i64, conn: ConnId) -> Option<ConnId> {
        let t = self.sessions.get_mut(&id)?;
        t.conn.replace(conn).filter(|&previous| previous != conn)
    }

    /// Unbinds the session if `conn` still holds it.
    pub fn detach(&mut self, id: i64, conn: ConnId) {
        if let Some(t) = self.sessions.get_mut(&id) {
            if t.conn == Some(conn) {
                t.conn = None;
            }
        }
    }

    pub fn owner(&self, id: i64) -> Option<ConnId> {
        self.sessions.get(&id).and_then(|t| t.conn)
    }

    pub fn is_live(&self, id: i64) -> bool {
        self.sessions.get(&id).is_some_and(|t| !t.closing)
    }

    /// Sessions past their deadline; each is returned once and then marked closing.
    pub fn take_expired(&mut self, now: Instant) -> Vec<i64> {
        let mut out: Vec<i64> = self
            .sessions
            .iter_mut()
            .filter(|(_, t)| !t.closing && t.deadline <= now)
            .map(|(&id, t)| {
                t.closing = true;
                id
            })
            .collect();
        out.sort_unstable();
        out
    }

    /// Marks a session as closing (client asked), so it is not expired as well.
    pub fn mark_closing(&mut self, id: i64) {
        if let Some(t) = self.sessions.get_mut(&id) {
            t.closing = true;
        }
    }

    pub fn remove(&mut self, id: i64) {
        self.touched.remove(&id);
        self.sessions.remove(&id);
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// `(session id, timeout)` of every session, for `dump`.
    pub fn list(&self) -> Vec<(i64, Duration)> {
        let mut out: Vec<(i64, Duration)> = self
            .sessions
            .iter()
            .map(|(&id, t)| (id, t.timeout))
            .collect();
        out.sort_unstable();
        out
    }

    /// `(session id, deadline)` of every session, for `dump`.
    pub fn deadlines(&self) -> Vec<(i64, Instant)> {
        let mut out: Vec<(i64, Instant)> = self
            .sessions
            .iter()
            .map(|(&id, t)| (id, t.deadline))
            .collect();
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_follows_the_clock_passed_in() {
        let t0 = Instant::now();
        let mut tracker = SessionTracker::default();
        tracker.register(1, 4000, t0);
        tracker.register(2, 10000, t0);
        assert!(tracker
            .take_expired(t0 + Duration::from_millis(3999))
            .is_empty());
        assert!(tracker.touch(1, t0 + Duration::from_millis(3000)));
        assert!(tracker
            .take_expired(t0 + Duration::from_millis(6000))
            .is_empty());
        assert_eq!(
            tracker.take_expired(t0 + Duration::from_millis(7000)),
            vec![1]
        );
        assert!(tracker
            .take_expired(t0 + Duration::from_millis(7000))
            .is_empty());
        assert!(!tracker.touch(1, t0));
        assert_eq!(tracker.take_expired(t0 + Duration::from_secs(11)), vec![2]);
    }

    #[test]
    fn attach_reports_the_previous_owner() {
        let mut tracker = SessionTracker::default();
        tracker.register(1, 4000, Instant::now());
        assert_eq!(tracker.attach(1, 10), None);
        assert_eq!(tracker.attach(1, 11), Some(10));
        tracker.detach(1, 10);
        assert_eq!(tracker.owner(1), Some(11));
        tracker.detach(1, 11);
        assert_eq!(tracker.owner(1), None);
    }
}
