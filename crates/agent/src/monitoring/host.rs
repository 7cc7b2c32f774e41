//! The monitoring area's host reads: what one sample reads (in parallel, one process per
//! tool), and the live listings (links, addresses, routes, pools, datasets) the listing routes
//! answer, cached briefly and coalesced as `/stats`' figures are.
//!
//! Every read goes through the runner to the managed host's own tools; kstat, swap and
//! netstat need no privilege, zpool, zfs, dladm and ipadm run through the profile.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use illumos::dladm::{self, Link, Phys, Vnic};
use illumos::ipadm::{self, AddrFilter, Address};
use illumos::kstat::{self, LinkCounters};
use illumos::read::ReadError;
use illumos::{diskstat, netstat, swap, zfs, zpool, Runner};

use crate::error::HostFailure;
use crate::host::facts::Cached;

/// How long a listing is served before the host is asked again.
const LISTING_TTL: Duration = Duration::from_secs(2);

/// Everything one sample reads.
#[derive(Debug)]
pub struct Reading {
    pub kstat: kstat::Sample,
    pub swap: swap::Summary,
    pub pools: Vec<zpool::Pool>,
    pub pool_io: Vec<zpool::PoolIo>,
    pub links: Vec<Link>,
    pub phys: Vec<Phys>,
    pub vnics: Vec<Vnic>,
    /// Each disk's I/O counters (kstat, read in the sample's one `kstat -p`).
    pub disks: Vec<diskstat::Disk>,
}

/// The host's datalinks with what each is and its counters.
#[derive(Debug)]
pub struct Links {
    pub links: Vec<Link>,
    pub phys: Vec<Phys>,
    pub vnics: Vec<Vnic>,
    pub counters: BTreeMap<String, LinkCounters>,
}

/// One sample's host reads: kstat (one process for CPU, memory pages, link counters, ARC
/// and disks), swap -s, zpool list and iostat, and dladm's link, phys and VNIC listings
/// (class and speed of each link), all at once.
pub async fn read(run: &Runner) -> Result<Reading, HostFailure> {
    let (mut kstat, swap, pools, pool_io, (links, phys, vnics)) = tokio::try_join!(
        async { Ok::<_, HostFailure>(kstat::sample(run).await?) },
        async { Ok(swap::summary(run).await?) },
        async { Ok(zpool::list(run).await?) },
        async { Ok(zpool::iostat(run).await?) },
        link_listings(run),
    )?;
    let disks = std::mem::take(&mut kstat.disks);
    Ok(Reading {
        kstat,
        swap,
        pools,
        pool_io,
        links,
        phys,
        vnics,
        disks,
    })
}

async fn link_listings(run: &Runner) -> Result<(Vec<Link>, Vec<Phys>, Vec<Vnic>), HostFailure> {
    Ok(tokio::try_join!(
        async { Ok::<_, HostFailure>(dladm::show_links(run).await?) },
        async { Ok(dladm::show_phys(run).await?) },
        async { Ok(dladm::show_vnics(run).await?) },
    )?)
}

/// The live listings, each cached for [`LISTING_TTL`].
pub struct Listings {
    runner: Runner,
    links: Cached<Links>,
    addresses: Cached<Vec<Address>>,
    routes: Cached<Vec<netstat::Route>>,
    pools: Cached<Vec<zpool::Pool>>,
    datasets: Cached<Vec<zfs::Usage>>,
    disks: Cached<Vec<diskstat::Disk>>,
}

impl Listings {
    pub fn new(runner: Runner) -> Self {
        Listings {
            runner,
            links: Cached::new(LISTING_TTL),
            addresses: Cached::new(LISTING_TTL),
            routes: Cached::new(LISTING_TTL),
            pools: Cached::new(LISTING_TTL),
            datasets: Cached::new(LISTING_TTL),
            disks: Cached::new(LISTING_TTL),
        }
    }

    pub async fn links(&self) -> Result<Arc<Links>, HostFailure> {
        let run = &self.runner;
        self.links
            .get(|| async move {
                let ((links, phys, vnics), counters) =
                    tokio::try_join!(link_listings(run), async {
                        // kstat exits 1 when nothing matches: boot_time always does, so a
                        // host without datalinks answers an empty listing, not an error.
                        let operands = kstat::LINK_COUNTERS.into_iter().chain([kstat::BOOT_TIME]);
                        let out = run.output(&kstat::read_cmd(operands)).await;
                        let stats = kstat::parse_parsable(&out.map_err(ReadError::from)?.stdout)?;
                        Ok::<_, HostFailure>(kstat::parse_links(&stats)?)
                    },)?;
                Ok(Links {
                    links,
                    phys,
                    vnics,
                    counters,
                })
            })
            .await
    }

    pub async fn addresses(&self) -> Result<Arc<Vec<Address>>, HostFailure> {
        let run = &self.runner;
        self.addresses
            .get(|| async move { Ok(ipadm::show_addr(run, &AddrFilter::All).await?) })
            .await
    }

    pub async fn routes(&self) -> Result<Arc<Vec<netstat::Route>>, HostFailure> {
        let run = &self.runner;
        self.routes
            .get(|| async move { Ok(netstat::routes(run).await?) })
            .await
    }

    pub async fn pools(&self) -> Result<Arc<Vec<zpool::Pool>>, HostFailure> {
        let run = &self.runner;
        self.pools
            .get(|| async move { Ok(zpool::list(run).await?) })
            .await
    }

    pub async fn datasets(&self) -> Result<Arc<Vec<zfs::Usage>>, HostFailure> {
        let run = &self.runner;
        self.datasets
            .get(|| async move { Ok(zfs::usage(run).await?) })
            .await
    }

    pub async fn disks(&self) -> Result<Arc<Vec<diskstat::Disk>>, HostFailure> {
        let run = &self.runner;
        self.disks
            .get(|| async move { Ok(diskstat::read(run).await?) })
            .await
    }
}
