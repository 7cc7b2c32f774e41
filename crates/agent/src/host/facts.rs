//! Host reads for `/stats`, cached briefly and coalesced: the UI probes `/stats` often (each
//! page load, each connection test), and concurrent probes should cost one set of commands.
//!
//! Two lifetimes: what the machine *is* (uname, processors, page size) changes only when an
//! administrator renames the host or reconfigures it, so it is kept for a minute; what it is
//! *doing* (load, free memory, addresses) is kept for two seconds.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use illumos::dladm::{self, Vnic};
use illumos::ipadm::{self, AddrFilter, Address};
use illumos::kstat::{self, SystemFigures};
use illumos::psrinfo::{self, Socket};
use illumos::uname::{self, Uname};
use illumos::{pagesize, Runner};

use crate::error::HostFailure;

const MACHINE_TTL: Duration = Duration::from_secs(60);
const FIGURES_TTL: Duration = Duration::from_secs(2);

/// What the machine is.
#[derive(Debug)]
pub struct Machine {
    pub uname: Uname,
    pub sockets: Vec<Socket>,
    pub pagesize: u64,
}

/// What the machine is doing.
#[derive(Debug)]
pub struct Figures {
    pub system: SystemFigures,
    pub addresses: Vec<Address>,
    /// For the hardware address of an interface that is a VNIC.
    pub vnics: Vec<Vnic>,
}

/// One cached value. The async mutex is held across a refresh, so callers that find it stale
/// together wait for one read and share its answer; a failed read caches nothing.
pub(crate) struct Cached<T> {
    ttl: Duration,
    slot: tokio::sync::Mutex<Option<(Instant, Arc<T>)>>,
}

impl<T> Cached<T> {
    pub(crate) fn new(ttl: Duration) -> Self {
        Cached {
            ttl,
            slot: tokio::sync::Mutex::new(None),
        }
    }

    pub(crate) async fn get<F, Fut>(&self, read: F) -> Result<Arc<T>, HostFailure>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, HostFailure>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some((at, v)) = slot.as_ref() {
            if at.elapsed() < self.ttl {
                return Ok(v.clone());
            }
        }
        let v = Arc::new(read().await?);
        *slot = Some((Instant::now(), v.clone()));
        Ok(v)
    }

    /// Reads now, whatever the age of the kept value (a caller's explicit refresh); callers
    /// that come meanwhile wait for this read.
    pub(crate) async fn renew<F, Fut>(&self, read: F) -> Result<Arc<T>, HostFailure>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, HostFailure>>,
    {
        let mut slot = self.slot.lock().await;
        let v = Arc::new(read().await?);
        *slot = Some((Instant::now(), v.clone()));
        Ok(v)
    }
}

pub struct HostFacts {
    runner: Runner,
    machine: Cached<Machine>,
    figures: Cached<Figures>,
}

impl HostFacts {
    pub fn new(runner: Runner) -> Self {
        HostFacts {
            runner,
            machine: Cached::new(MACHINE_TTL),
            figures: Cached::new(FIGURES_TTL),
        }
    }

    pub async fn machine(&self) -> Result<Arc<Machine>, HostFailure> {
        let run = &self.runner;
        self.machine
            .get(|| async move {
                let (uname, sockets, pagesize) =
                    tokio::try_join!(uname::read(run), psrinfo::sockets(run), pagesize::read(run))?;
                Ok(Machine {
                    uname,
                    sockets,
                    pagesize,
                })
            })
            .await
    }

    pub async fn figures(&self) -> Result<Arc<Figures>, HostFailure> {
        let run = &self.runner;
        self.figures
            .get(|| async move {
                let (system, addresses, vnics) = tokio::try_join!(
                    async { Ok::<_, HostFailure>(kstat::system(run).await?) },
                    async { Ok(ipadm::show_addr(run, &AddrFilter::All).await?) },
                    async { Ok(dladm::show_vnics(run).await?) },
                )?;
                Ok(Figures {
                    system,
                    addresses,
                    vnics,
                })
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn callers_within_the_ttl_share_one_read() {
        let cache: Cached<u32> = Cached::new(Duration::from_secs(3600));
        let reads = AtomicUsize::new(0);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let read = || async {
            reads.fetch_add(1, Ordering::SeqCst);
            Ok(7)
        };
        // The first read waits until the second caller has been polled: the second finds the
        // lock held, then the fresh value.
        let slow = || async {
            reads.fetch_add(1, Ordering::SeqCst);
            let _ = rx.await;
            Ok(7)
        };
        let (a, b, ()) = tokio::join!(cache.get(slow), cache.get(read), async {
            let _ = tx.send(());
        });
        assert_eq!((*a.unwrap(), *b.unwrap()), (7, 7));
        assert_eq!(*cache.get(read).await.unwrap(), 7);
        assert_eq!(reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_read_is_not_kept() {
        let cache: Cached<u32> = Cached::new(Duration::from_secs(3600));
        let failed = cache
            .get(|| async { Err(HostFailure::new(std::io::Error::other("kstat failed"))) })
            .await;
        assert!(failed.is_err());
        assert_eq!(*cache.get(|| async { Ok(1) }).await.unwrap(), 1);
    }
}
