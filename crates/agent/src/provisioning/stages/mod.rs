//! The pipeline's stage operations: extract, setup (console recipe), wait for SSH, sync,
//! provision (with `@pre-provision`/`@post-provision` snapshots), and the rollback. The boot
//! stage is the zones area's `zone_start`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use illumos::names::{DatasetName, SnapshotName, ZoneName};
use illumos::zfs;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::recipes::RecipeBody;
use super::remote;
use super::settings::{Secrets, Settings};
use super::ProvisioningServices;
use crate::tasks::{Cx, OpCx, OpError};

mod extract;
mod provision;
mod rollback;
mod setup;
mod ssh;

pub use extract::Extract;
pub use provision::Provision;
pub use rollback::Rollback;
pub use setup::Setup;
pub use ssh::{SyncFolders, WaitSsh};

pub const EXTRACT: &str = "zone_provision_extract";
pub const SETUP: &str = "zone_setup";
pub const RECIPE_TEST: &str = "zone_recipe_test";
pub const WAIT_SSH: &str = "zone_wait_ssh";
pub const SYNC: &str = "zone_sync";
pub const PROVISION: &str = "zone_provision_run";
pub const ROLLBACK: &str = "zone_provision_rollback";
/// The group task of a pipeline.
pub const PIPELINE: &str = "zone_provision";

pub const PRE: &str = "pre-provision";
pub const POST: &str = "post-provision";

/// What every stage knows (task metadata: never secrets).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageParams {
    pub zone: ZoneName,
    pub settings: Settings,
    /// `POOL/DATASET/ZONE/provisioning`; none for the live recipe test (stored as "").
    #[serde(with = "empty_is_none")]
    pub dataset: Option<DatasetName>,
    /// The zone's boot volume, snapshotted with the provisioning dataset.
    #[serde(default)]
    pub boot_volume: Option<DatasetName>,
    #[serde(default)]
    pub recipe: Option<RecipeBody>,
    /// Variables for the recipe (merged; never secrets).
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Set in stored metadata: `settings.provisioners` there is redacted, the provision
    /// stage takes the provisioners from its task secrets.
    #[serde(default)]
    pub provisioners_in_secrets: bool,
}

impl StageParams {
    /// The task metadata of a stage, which every role may read (`GET /tasks/{id}`): the
    /// provisioners' scripts, arguments, environment and extra vars are redacted, for every
    /// reader, as metadata is a long-lived record of the run. The zone's settings keep them
    /// for operators; the provision stage gets them as task secrets.
    pub fn metadata(&self) -> Result<Value, serde_json::Error> {
        let mut v = serde_json::to_value(self)?;
        super::settings::redact(&mut v["settings"]);
        v["provisioners_in_secrets"] = true.into();
        Ok(v)
    }

    /// The provisioning dataset, which every stage but the recipe test has.
    fn dataset(&self) -> Result<&DatasetName, OpError> {
        self.dataset
            .as_ref()
            .ok_or_else(|| OpError::failed("this stage needs the provisioning dataset"))
    }

    /// The datasets snapshotted around the provisioners.
    fn snapshot_targets(&self) -> impl Iterator<Item = &DatasetName> {
        self.dataset.iter().chain(self.boot_volume.iter())
    }
}

/// The recipe test has no dataset; its metadata has always said so with "".
mod empty_is_none {
    use illumos::names::DatasetName;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<DatasetName>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.as_ref().map_or("", |d| d.as_str()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DatasetName>, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() {
            return Ok(None);
        }
        s.parse().map(Some).map_err(serde::de::Error::custom)
    }
}

/// The task secrets' entry holding the provisioners as set (see [`StageParams::metadata`]).
pub const PROVISIONERS_SECRET: &str = "provisioners";

fn io_failed(what: impl std::fmt::Display, e: std::io::Error) -> OpError {
    OpError::failed(format!("{what}: {e}"))
}

/// A guest command that failed is the stage's failure; a cancelled one is the cancellation.
impl From<remote::RemoteError> for OpError {
    fn from(e: remote::RemoteError) -> Self {
        match e {
            remote::RemoteError::Cancelled => OpError::Cancelled,
            other => OpError::failed(other.to_string()),
        }
    }
}

async fn secrets(cx: &OpCx) -> Result<Secrets, OpError> {
    Ok(match cx.secrets().await? {
        Some(v) => serde_json::from_value(v).unwrap_or_default(),
        None => Secrets::default(),
    })
}

/// Everything a pipeline stage journals: its own steps, the provisioning NIC's, and the
/// network area's (the NIC's DHCP reservation). Each kind has its own `kind` tag, so an
/// untagged read finds the one it is; an entry of none of them fails the undo.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Entry {
    Made(Made),
    Ran(Ran),
    Nic(super::nic::Made),
    Network(crate::network::journal::Entry),
}

impl From<Made> for Entry {
    fn from(m: Made) -> Self {
        Entry::Made(m)
    }
}

impl From<crate::network::journal::Entry> for Entry {
    fn from(e: crate::network::journal::Entry) -> Self {
        Entry::Network(e)
    }
}

impl From<Ran> for Entry {
    fn from(r: Ran) -> Self {
        Entry::Ran(r)
    }
}

/// What the extract and provision stages made, for their undo.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Made {
    Dataset {
        name: DatasetName,
        zone: ZoneName,
    },
    /// A `@pre-provision` snapshot the provision stage made.
    Snapshot {
        name: SnapshotName,
    },
}

/// The host directory of a dataset's mountpoint (under `host.root`).
async fn dataset_dir(
    svc: &ProvisioningServices,
    cx: &OpCx,
    ds: &DatasetName,
) -> Result<PathBuf, OpError> {
    Ok(mountpoint(svc, cx, ds).await?.1)
}

/// A dataset's mountpoint: its illumos path and the host directory (under `host.root`).
async fn mountpoint(
    svc: &ProvisioningServices,
    cx: &OpCx,
    ds: &DatasetName,
) -> Result<(String, PathBuf), OpError> {
    let mp = zfs::mountpoint(&cx.runner, ds)
        .await?
        .ok_or_else(|| OpError::failed(format!("dataset {ds} does not exist")))?;
    if !mp.starts_with('/') {
        return Err(OpError::failed(format!(
            "dataset {ds} is not mounted (mountpoint {mp})"
        )));
    }
    let dir = svc.config.host_file(&mp);
    Ok((mp, dir))
}

/// Makes a fresh dataset's mountpoint the agent's own. `pfexec zfs create` leaves it to root;
/// an agent that is not root has it handed over by the privileged helper (which accepts only
/// an empty, root-owned directory below an allowed parent), so extraction and later syncs run
/// unprivileged. Run on every attempt: a crash between the create and the hand-over is
/// repaired on the next run, and a mountpoint already the agent's costs nothing.
async fn take_over_mountpoint(cx: &OpCx, mp: &str, dir: &Path) -> Result<(), OpError> {
    use std::os::unix::fs::MetadataExt;
    let owner = match std::fs::metadata(dir) {
        Ok(m) => m.uid(),
        // Not there (an emulated host that made no directory): created below, as the agent.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(io_failed(
                format_args!("cannot look at {}", dir.display()),
                e,
            ))
        }
    };
    // SAFETY: geteuid cannot fail.
    if owner == unsafe { libc::geteuid() } {
        return Ok(());
    }
    let target: illumos::install::Target = mp
        .parse()
        .map_err(|e| OpError::failed(format!("mountpoint {mp}: {e}")))?;
    illumos::install::own_mountpoint(&cx.runner, &target).await?;
    cx.note(&format!(
        "{mp} handed to {} by zoneweaver-install",
        illumos::runner::agent_user()
    ));
    Ok(())
}

/// Journaled when a stage's work in the guest is done (see the stages' `roll_forward`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ran {
    Recipe {
        recipe: String,
        steps: usize,
    },
    /// The provisioners began changing the guest: `@pre-provision` is its rollback point now.
    ProvisionersBegun,
    /// The provisioners all succeeded: the provision stage's commit point.
    Provisioned {
        pre: Vec<String>,
        provisioners: usize,
    },
}

/// The stage's own journal entries of what it ran in the guest.
fn ran(journal: &[Entry]) -> impl Iterator<Item = &Ran> {
    journal.iter().filter_map(|e| match e {
        Entry::Ran(r) => Some(r),
        _ => None,
    })
}

const LONG: Duration = Duration::from_secs(6 * 3600);

/// Destroys a snapshot if it exists (zfs words a missing snapshot differently from a missing
/// dataset, so look first).
async fn destroy_snapshot(cx: &OpCx, snap: &SnapshotName) -> Result<(), OpError> {
    if zfs::snapshot_exists(&cx.runner, snap).await? {
        zfs::destroy(&cx.runner, snap.as_str(), false).await?;
    }
    Ok(())
}

/// `DATASET@name` for a snapshot name the agent chooses (`pre-provision`, `post-provision`).
fn own_snapshot(ds: &DatasetName, name: &str) -> Result<SnapshotName, OpError> {
    ds.snapshot(name)
        .map_err(|e| OpError::failed(format!("{ds}@{name}: {e}")))
}

/// Snapshots every target as `name`; `journal`: each new snapshot is journaled first, for the
/// undo.
async fn snapshot_all(
    cx: &Cx<'_, Entry>,
    p: &StageParams,
    name: &str,
    journal: bool,
) -> Result<Vec<String>, OpError> {
    let mut made = Vec::new();
    for ds in p.snapshot_targets() {
        if zfs::get(&cx.runner, ds).await?.is_none() {
            continue;
        }
        let snap = own_snapshot(ds, name)?;
        // Re-provisioning replaces the previous snapshot of the same name.
        destroy_snapshot(cx, &snap).await?;
        if journal {
            cx.will_make(&Made::Snapshot { name: snap.clone() }.into())
                .await?;
        }
        zfs::snapshot(&cx.runner, &snap).await?;
        made.push(snap.to_string());
    }
    Ok(made)
}
