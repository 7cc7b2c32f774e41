//! The zones' VNC sessions: which zones a console was started for, by whom, and the signal
//! that ends their WebSocket bridges when the session is stopped. Kept in memory: a session
//! is only a record and a switch (nothing listens, nothing outlives the agent), and a
//! restart ends every WebSocket anyway.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct Session {
    pub created_at: String,
    pub created_by: String,
    pub last_accessed: String,
    /// Cancelled when the session is stopped: every bridge of the zone closes.
    pub ended: CancellationToken,
}

#[derive(Default)]
pub struct Sessions(Mutex<HashMap<String, Session>>);

impl Sessions {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The zone's session, made now by `caller` if it has none; true when it already existed.
    pub fn open(&self, zone: &str, caller: &str) -> (Session, bool) {
        let now = crate::time::now_rfc3339();
        let mut map = self.map();
        if let Some(s) = map.get_mut(zone) {
            s.last_accessed = now;
            return (s.clone(), true);
        }
        let s = Session {
            created_at: now.clone(),
            created_by: caller.to_owned(),
            last_accessed: now,
            ended: CancellationToken::new(),
        };
        map.insert(zone.to_owned(), s.clone());
        tracing::info!(zone, caller, "VNC session started");
        (s, false)
    }

    pub fn get(&self, zone: &str) -> Option<Session> {
        self.map().get(zone).cloned()
    }

    /// Ends the zone's session and closes its bridges; false when it had none.
    pub fn stop(&self, zone: &str, caller: &str) -> bool {
        match self.map().remove(zone) {
            Some(s) => {
                s.ended.cancel();
                tracing::info!(zone, caller, "VNC session stopped");
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_reused_until_stopped_and_stopping_ends_its_bridges() {
        let s = Sessions::default();
        let (a, reused) = s.open("vm1", "ops");
        assert!(!reused);
        let (b, reused) = s.open("vm1", "other");
        assert!(reused);
        assert_eq!(b.created_by, "ops");
        assert!(s.stop("vm1", "ops"));
        assert!(a.ended.is_cancelled());
        assert!(!s.stop("vm1", "ops"));
        assert!(s.get("vm1").is_none());
    }
}
