//! Revocations reach open streams: a long-lived request (`/events`, `/tasks/{id}/wait`) was
//! authorised once, when it began, so it selects on [`Revocations::until_revoked`] and ends
//! when its key is revoked, instead of outliving the key.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::broadcast;

use super::store;
use crate::db::Db;

/// How often the database is asked for revocations while streams are open: `key revoke` on
/// the command line changes the database beside the running agent, which hears nothing of it.
const POLL: Duration = Duration::from_millis(500);

pub struct Revocations {
    db: Db,
    /// Ids of keys just revoked.
    tx: broadcast::Sender<String>,
    polling: AtomicBool,
}

impl Revocations {
    pub fn new(db: Db) -> Revocations {
        Revocations {
            db,
            tx: broadcast::channel(64).0,
            polling: AtomicBool::new(false),
        }
    }

    /// Ends the open streams of key `id` (the API's revoke calls it once the row is updated).
    pub fn revoked(&self, id: &str) {
        let _ = self.tx.send(id.to_owned());
    }

    /// Resolves once key `key_id` is revoked (at once if it already is).
    pub fn until_revoked(&self, key_id: &str) -> impl Future<Output = ()> + Send + 'static {
        self.start_polling();
        // Subscribed before the check below, so a revocation in between is not missed.
        let mut rx = self.tx.subscribe();
        let db = self.db.clone();
        let id = key_id.to_owned();
        async move {
            if !is_active(&db, &id).await {
                return;
            }
            loop {
                match rx.recv().await {
                    Ok(revoked) if revoked == id => return,
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if !is_active(&db, &id).await {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
                }
            }
        }
    }

    /// One task for the whole agent, started by the first stream; it reads the database only
    /// while some stream listens.
    fn start_polling(&self) {
        if self.polling.swap(true, Ordering::SeqCst) {
            return;
        }
        let (db, tx) = (self.db.clone(), self.tx.clone());
        tokio::spawn(async move {
            let mut seen = HashSet::new();
            loop {
                tokio::time::sleep(POLL).await;
                if tx.receiver_count() == 0 {
                    continue;
                }
                let ids = match db.read(store::revoked_ids).await {
                    Ok(ids) => ids,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read revoked API keys");
                        continue;
                    }
                };
                for id in ids {
                    if seen.insert(id.clone()) {
                        let _ = tx.send(id);
                    }
                }
            }
        });
    }
}

/// A failed read counts as active: a database hiccup must not cut every stream.
async fn is_active(db: &Db, id: &str) -> bool {
    let id = id.to_owned();
    db.read(move |c| store::is_active(c, &id))
        .await
        .unwrap_or(true)
}
