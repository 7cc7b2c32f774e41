//! The pipeline's stage operations: extract, setup (console recipe), wait for SSH, sync,
//! provision (with `@pre-provision`/`@post-provision` snapshots), and the rollback. The boot
//! stage is the zones area's `zone_start`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use illumos::names::{DatasetName, SnapshotName, ZoneName};
use illumos::zfs;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::confine::{ansible_cfg, Account, Launch, RunDir};
use super::console::{run_recipe, Console, Login};
use super::extract::{self, Limits};
use super::recipes::{resolve_steps, RecipeBody};
use super::remote::{self, Proc, Target};
use super::settings::{Provisioner, Secrets, Settings};
use super::{store, ProvisioningServices};
use crate::tasks::{BoxFuture, OpCx, OpError, Operation};

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
    pub zone: String,
    pub settings: Settings,
    /// `POOL/DATASET/ZONE/provisioning`.
    pub dataset: String,
    /// The zone's boot volume, snapshotted with the provisioning dataset.
    #[serde(default)]
    pub boot_volume: Option<String>,
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
}

/// The task secrets' entry holding the provisioners as set (see [`StageParams::metadata`]).
pub const PROVISIONERS_SECRET: &str = "provisioners";

fn failed(e: impl std::fmt::Display) -> OpError {
    OpError::failed(e.to_string())
}

fn zfs_failed(e: zfs::ZfsError) -> OpError {
    OpError::failed(format!("{e}: {}", e.detail()))
}

fn remote_failed(e: remote::RemoteError) -> OpError {
    match e {
        remote::RemoteError::Cancelled => OpError::Cancelled,
        other => OpError::failed(other.to_string()),
    }
}

async fn secrets(cx: &OpCx) -> Result<Secrets, OpError> {
    Ok(match cx.secrets().await? {
        Some(v) => serde_json::from_value(v).unwrap_or_default(),
        None => Secrets::default(),
    })
}

/// What the extract stage made, for its undo.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Made {
    Dataset {
        name: String,
        zone: String,
    },
    /// A `@pre-provision` snapshot the provision stage made.
    Snapshot {
        name: String,
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
        .await
        .map_err(zfs_failed)?
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
        Err(e) => return Err(failed(format!("cannot look at {}: {e}", dir.display()))),
    };
    // SAFETY: geteuid cannot fail.
    if owner == unsafe { libc::geteuid() } {
        return Ok(());
    }
    let target: illumos::install::Target = mp.parse().map_err(failed)?;
    illumos::install::own_mountpoint(&cx.runner, &target).await?;
    cx.note(&format!(
        "{mp} handed to {} by zoneweaver-install",
        illumos::runner::agent_user()
    ));
    Ok(())
}

pub struct Extract(pub Arc<ProvisioningServices>);

impl Operation for Extract {
    fn name(&self) -> &'static str {
        EXTRACT
    }

    fn run<'a>(&'a self, cx: &'a OpCx) -> BoxFuture<'a, Result<Option<Value>, OpError>> {
        Box::pin(async move {
            let p: StageParams = cx.params()?;
            let svc = &self.0;
            let ds: DatasetName = p.dataset.parse().map_err(failed)?;
            cx.progress(10, "Creating the provisioning dataset").await?;
            let existing = zfs::get(&cx.runner, &ds).await.map_err(zfs_failed)?;
            match &existing {
                Some(d) if !d.is_owned_by(&p.zone) => {
                    return Err(OpError::failed(format!(
                        "{ds} exists and was not made by the agent for zone {}; refusing to write into it",
                        p.zone
                    )))
                }
                Some(_) => {}
                None => {
                    cx.will_make(&Made::Dataset {
                        name: ds.to_string(),
                        zone: p.zone.clone(),
                    })
                    .await?;
                    zfs::create_filesystem(&cx.runner, &ds, true, &[zfs::Prop::owner(&p.zone)])
                        .await
                        .map_err(zfs_failed)?;
                }
            }
            let (mp, dir) = mountpoint(svc, cx, &ds).await?;
            take_over_mountpoint(cx, &mp, &dir).await?;
            std::fs::create_dir_all(&dir).map_err(|e| {
                failed(format!(
                    "cannot create {} as {}: {e}",
                    dir.display(),
                    illumos::runner::agent_user()
                ))
            })?;
            let Some(artifact) = p.settings.artifact_id.clone() else {
                cx.note("no artifact to extract");
                return Ok(Some(json!({ "dataset": ds.as_str(), "extracted": false })));
            };
            let file = svc.artifact_path(&artifact);
            if !file.is_file() {
                return Err(OpError::failed(format!("artifact {artifact} is gone")));
            }
            // Re-provisioning: the dataset is ours, its old contents make way for the new.
            if existing.is_some() {
                for e in std::fs::read_dir(&dir).map_err(failed)? {
                    let path = e.map_err(failed)?.path();
                    let r = match std::fs::symlink_metadata(&path) {
                        Ok(m) if m.is_dir() => std::fs::remove_dir_all(&path),
                        _ => std::fs::remove_file(&path),
                    };
                    r.map_err(failed)?;
                }
            }
            cx.progress(40, "Extracting the artifact").await?;
            let limits = Limits {
                max_bytes: svc.config.provisioning.max_extract_bytes,
                max_entries: svc.config.provisioning.max_extract_entries,
            };
            let stop = Arc::new(AtomicBool::new(false));
            let (stop2, dir2) = (stop.clone(), dir.clone());
            let job =
                tokio::task::spawn_blocking(move || extract::extract(&file, &dir2, limits, &stop2));
            let done = tokio::select! {
                r = job => r.map_err(failed)?.map_err(failed)?,
                _ = cx.cancel.cancelled() => {
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    return Err(OpError::Cancelled);
                }
            };
            cx.note(&format!(
                "extracted {} files, {} directories, {} links ({} bytes) into {ds}",
                done.files, done.dirs, done.links, done.bytes
            ));
            Ok(Some(json!({
                "dataset": ds.as_str(),
                "extracted": true,
                "files": done.files,
                "bytes": done.bytes,
            })))
        })
    }

    fn undo<'a>(&'a self, cx: &'a OpCx, journal: Vec<Value>) -> BoxFuture<'a, Result<(), OpError>> {
        Box::pin(async move {
            for entry in journal {
                let Ok(Made::Dataset { name, zone }) = serde_json::from_value(entry) else {
                    continue;
                };
                let Ok(ds) = name.parse::<DatasetName>() else {
                    continue;
                };
                // Only what bears our mark for this zone is destroyed.
                match zfs::get(&cx.runner, &ds).await.map_err(zfs_failed)? {
                    Some(d) if d.is_owned_by(&zone) => {
                        zfs::destroy(&cx.runner, &name, true)
                            .await
                            .map_err(zfs_failed)?;
                        cx.note(&format!("destroyed {name}"));
                    }
                    _ => {}
                }
            }
            Ok(())
        })
    }
}

/// The console stage (and the live recipe test): `zlogin -C` on a pty, driven by the recipe.
pub struct Setup {
    pub svc: Arc<ProvisioningServices>,
    pub name: &'static str,
}

impl Operation for Setup {
    fn name(&self) -> &'static str {
        self.name
    }

    fn run<'a>(&'a self, cx: &'a OpCx) -> BoxFuture<'a, Result<Option<Value>, OpError>> {
        Box::pin(async move {
            let p: StageParams = cx.params()?;
            let Some(recipe) = p.recipe.clone().filter(|r| !r.skips_console()) else {
                cx.note("the recipe has no console work; setup skipped");
                return Ok(Some(json!({ "skipped": true })));
            };
            let zone: ZoneName = p.zone.parse().map_err(failed)?;
            let secrets = secrets(cx).await?;
            let mut vars = p.variables.clone();
            // The NIC made by the network stage, unless the zone's or the agent's variables
            // say otherwise.
            let fixed = p.settings.variables_text();
            for (k, v) in super::nic::zone_variables(&self.svc, &p.zone).await? {
                if !fixed.contains_key(&k)
                    && !self.svc.config.provisioning.variables.contains_key(&k)
                {
                    vars.insert(k, v);
                }
            }
            if let Some(pw) = &secrets.password {
                vars.insert("password".into(), pw.clone());
            }
            let (steps, missing) =
                resolve_steps(&recipe.steps, &vars).map_err(|e| OpError::failed(e.message))?;
            if !missing.is_empty() {
                return Err(OpError::failed(format!(
                    "the recipe uses variables with no value: {}",
                    missing.join(", ")
                )));
            }
            cx.progress(10, "Attaching to the zone console").await?;
            let session = cx.runner.spawn_pty(&illumos::zlogin::console_cmd(&zone))?;
            let note = |l: &str| cx.note(l);
            let mut con = Console::new(
                session,
                cx.cancel.clone(),
                secrets.password.iter().cloned().collect(),
                &note,
            );
            cx.progress(30, &format!("Running recipe {}", recipe.name))
                .await?;
            let login = Login {
                username: p.settings.username().to_owned(),
                password: secrets.password.clone(),
            };
            let result = run_recipe(&mut con, &recipe, &steps, &login).await;
            if result.is_ok() {
                // Recorded before detaching: the console session ends with zlogin's exit,
                // and a crash there must not fail a stage whose work is done.
                cx.will_make(&Ran::Recipe {
                    recipe: recipe.name.clone(),
                    steps: steps.len(),
                })
                .await?;
            }
            // Detach politely (`~.` at the start of a line), then make sure zlogin is gone.
            let _ = con
                .send_raw(&format!("\r{}", illumos::zlogin::DISCONNECT))
                .await;
            con.flush_transcript();
            let session = con.into_inner();
            session.close(Duration::from_secs(2)).await;
            match result {
                Ok(()) => Ok(Some(json!({ "recipe": recipe.name, "steps": steps.len() }))),
                Err(super::console::ConsoleError::Cancelled) => Err(OpError::Cancelled),
                Err(e) => Err(OpError::failed(e.to_string())),
            }
        })
    }

    /// What a recipe did in the guest cannot be taken back; once it ran to its end the stage's
    /// work is done, and only detaching from the console remained: the stage completes.
    fn roll_forward<'a>(
        &'a self,
        _cx: &'a OpCx,
        journal: &'a [Value],
    ) -> BoxFuture<'a, Result<Option<Option<Value>>, OpError>> {
        Box::pin(async move {
            Ok(ran(journal).find_map(|r| match r {
                Ran::Recipe { recipe, steps } => {
                    Some(Some(json!({ "recipe": recipe, "steps": steps })))
                }
                _ => None,
            }))
        })
    }
}

/// Journaled when a stage's work in the guest is done (see the stages' `roll_forward`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Ran {
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

fn ran(journal: &[Value]) -> impl Iterator<Item = Ran> + '_ {
    journal
        .iter()
        .filter_map(|e| serde_json::from_value::<Ran>(e.clone()).ok())
}

/// A stage that talks SSH: its target, a private directory for the run, and a key file.
struct Ssh {
    target: Target,
    home: PathBuf,
    secrets: Vec<String>,
}

impl Drop for Ssh {
    fn drop(&mut self) {
        // The private directory holds at most a copy of an inline key: gone with the stage.
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

async fn ssh_for(svc: &ProvisioningServices, cx: &OpCx, p: &StageParams) -> Result<Ssh, OpError> {
    // The zone's address: provisioning.variables.ip, else its provisioning NIC's reservation.
    let addr = match p.settings.guest_address() {
        Some(a) => a,
        None => super::nic::zone_variables(svc, &p.zone)
            .await?
            .get("ip")
            .and_then(|ip| ip.parse().ok())
            .ok_or_else(|| {
                OpError::failed(
                    "the zone's address is unknown: it has no provisioning NIC reservation and provisioning.variables.ip is not set",
                )
            })?,
    };
    super::guest_endpoint::check(&svc.config, addr, p.settings.ssh_port)
        .map_err(OpError::failed)?;
    let home = svc
        .config
        .data_dir
        .join("provisioning/run")
        .join(&cx.task.id);
    remote::private_dir(&home).map_err(failed)?;
    let secrets = secrets(cx).await?;
    let key = match (
        &secrets.ssh_private_key,
        &p.settings.credentials.ssh_key_path,
    ) {
        (Some(k), _) if p.settings.credentials.ssh_private_key_set => {
            let path = home.join("id_key");
            let mut text = k.clone();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            remote::private_file(&path, text.as_bytes()).map_err(failed)?;
            path
        }
        (_, Some(path)) => PathBuf::from(path),
        _ => {
            let key = svc.config.provisioning_key_path();
            let note = |l: &str| cx.note(l);
            let proc = Proc {
                cancel: &cx.cancel,
                note: &note,
                secrets: &[],
                kill_grace: svc.runner.config().kill_grace,
                home: &home,
                confined: None,
            };
            remote::ensure_key(&proc, &svc.config.provisioning.tools, &key)
                .await
                .map_err(remote_failed)?;
            key
        }
    };
    let kh_dir = svc.config.data_dir.join("provisioning/known_hosts");
    remote::private_dir(&kh_dir).map_err(failed)?;
    // Read from the host each time, not from the zones area's cache: a stage runs the same
    // commands whatever the cache holds (the crash sweeps count them).
    let zone: illumos::names::ZoneName = p.zone.parse().map_err(failed)?;
    let uuid = illumos::zoneadm::get(&cx.runner, &zone)
        .await
        .map_err(|e| OpError::failed(e.detail()))?
        .ok_or_else(|| OpError::failed(format!("zone {} does not exist", p.zone)))?
        .uuid;
    let known_hosts =
        remote::known_hosts_file(&kh_dir, &p.zone, uuid.as_deref()).map_err(remote_failed)?;
    let mut all_secrets: Vec<String> = Vec::new();
    all_secrets.extend(secrets.password.clone());
    Ok(Ssh {
        target: Target {
            addr,
            port: p.settings.ssh_port,
            user: p.settings.username().to_owned(),
            key,
            known_hosts,
            alias: Target::host_key_alias(addr, p.settings.ssh_port),
            connect_timeout_secs: svc.config.provisioning.ssh.connect_timeout_seconds,
        },
        home,
        secrets: all_secrets,
    })
}

impl Ssh {
    fn proc<'a>(
        &'a self,
        svc: &ProvisioningServices,
        cx: &'a OpCx,
        note: &'a (dyn Fn(&str) + Send + Sync),
    ) -> Proc<'a> {
        Proc {
            cancel: &cx.cancel,
            note,
            secrets: &self.secrets,
            kill_grace: svc.runner.config().kill_grace,
            home: &self.home,
            confined: None,
        }
    }
}

const LONG: Duration = Duration::from_secs(6 * 3600);

pub struct WaitSsh(pub Arc<ProvisioningServices>);

impl Operation for WaitSsh {
    fn name(&self) -> &'static str {
        WAIT_SSH
    }

    fn run<'a>(&'a self, cx: &'a OpCx) -> BoxFuture<'a, Result<Option<Value>, OpError>> {
        Box::pin(async move {
            let svc = &self.0;
            let p: StageParams = cx.params()?;
            let ssh = ssh_for(svc, cx, &p).await?;
            let note = |l: &str| cx.note(l);
            let proc = ssh.proc(svc, cx, &note);
            let cfg = &svc.config.provisioning.ssh;
            let deadline =
                tokio::time::Instant::now() + Duration::from_secs(cfg.wait_timeout_seconds);
            let interval = Duration::from_secs(cfg.wait_interval_seconds);
            let sock = SocketAddr::new(ssh.target.addr, ssh.target.port);
            let ready = p.recipe.as_ref().and_then(|r| r.ssh_ready_command.clone());
            cx.progress(10, &format!("Waiting for SSH on {sock}"))
                .await?;
            let mut attempts = 0u32;
            loop {
                cx.check_cancelled()?;
                attempts += 1;
                let tcp = tokio::time::timeout(
                    Duration::from_secs(cfg.connect_timeout_seconds),
                    tokio::net::TcpStream::connect(sock),
                )
                .await;
                let why = match tcp {
                    Ok(Ok(_)) => {
                        // A real handshake and login, recording the host key at first contact.
                        let remote = ready.as_deref().unwrap_or("true");
                        match proc
                            .run(
                                &svc.config.provisioning.tools.ssh,
                                &ssh.target.ssh_args(remote),
                                &[],
                                None,
                                Duration::from_secs(cfg.connect_timeout_seconds.max(1) * 6),
                                false,
                            )
                            .await
                        {
                            Ok(f) if f.code == Some(0) => break,
                            // Not a guest still booting: another machine answers at the
                            // zone's address, or the guest changed its key. Waiting will not
                            // help.
                            Ok(f) if remote::host_key_changed(&f.stderr) => {
                                return Err(OpError::failed(format!(
                                    "the SSH host key at {sock} is not the one pinned for zone {} at first contact ({}); refusing to connect. A zone deleted and created again starts afresh; a guest whose key was changed on purpose needs that file removed",
                                    p.zone,
                                    ssh.target.known_hosts.display()
                                )));
                            }
                            Ok(f) => format!("ssh exited with {:?}: {}", f.code, f.stderr.trim()),
                            Err(remote::RemoteError::Cancelled) => return Err(OpError::Cancelled),
                            Err(e) => e.to_string(),
                        }
                    }
                    Ok(Err(e)) => format!("TCP: {e}"),
                    Err(_) => "TCP: timed out".into(),
                };
                if tokio::time::Instant::now() + interval > deadline {
                    return Err(OpError::failed(format!(
                        "SSH on {sock} was not ready after {} s ({attempts} attempts); last: {why}",
                        cfg.wait_timeout_seconds
                    )));
                }
                if attempts == 1 || attempts.is_multiple_of(10) {
                    cx.note(&format!("not ready yet ({why}); retrying"));
                }
                cx.sleep(interval).await?;
            }
            cx.note(&format!("SSH ready on {sock} after {attempts} attempt(s)"));
            Ok(Some(
                json!({ "address": sock.to_string(), "attempts": attempts }),
            ))
        })
    }
}

pub struct SyncFolders(pub Arc<ProvisioningServices>);

impl Operation for SyncFolders {
    fn name(&self) -> &'static str {
        SYNC
    }

    fn run<'a>(&'a self, cx: &'a OpCx) -> BoxFuture<'a, Result<Option<Value>, OpError>> {
        Box::pin(async move {
            let svc = &self.0;
            let p: StageParams = cx.params()?;
            if p.settings.sync_folders.is_empty() {
                cx.note("no sync folders");
                return Ok(Some(json!({ "synced": 0 })));
            }
            let ds: DatasetName = p.dataset.parse().map_err(failed)?;
            let root = dataset_dir(svc, cx, &ds).await?;
            let root = root.canonicalize().map_err(failed)?;
            let ssh = ssh_for(svc, cx, &p).await?;
            let note = |l: &str| cx.note(l);
            let proc = ssh.proc(svc, cx, &note);
            let tools = &svc.config.provisioning.tools;
            let n = p.settings.sync_folders.len();
            for (i, f) in p.settings.sync_folders.iter().enumerate() {
                cx.progress((i * 100 / n) as i64, &format!("Syncing to {}", f.dest))
                    .await?;
                let src = match f.source.strip_prefix("provisioning_dataset/") {
                    Some(sub) => root.join(sub),
                    None => root.clone(),
                };
                // The source must be a directory inside the dataset, links resolved.
                let src = src
                    .canonicalize()
                    .map_err(|e| OpError::failed(format!("sync source {}: {e}", f.source)))?;
                if !src.starts_with(&root) || !src.is_dir() {
                    return Err(OpError::failed(format!(
                        "sync source {} is not a directory inside the provisioning dataset",
                        f.source
                    )));
                }
                let mkdir = format!("mkdir -p {}", super::console::sh_quote(&f.dest));
                proc.check(&tools.ssh, &ssh.target.ssh_args(&mkdir), &[], None, LONG)
                    .await
                    .map_err(remote_failed)?;
                let args = ssh
                    .target
                    .rsync_args(&tools.ssh, &src, &f.dest, &f.exclude)
                    .map_err(remote_failed)?;
                proc.check(&tools.rsync, &args, &[], None, LONG)
                    .await
                    .map_err(remote_failed)?;
            }
            Ok(Some(json!({ "synced": n })))
        })
    }
}

/// The datasets snapshotted around the provisioners.
fn snapshot_targets(p: &StageParams) -> Vec<String> {
    let mut v = vec![p.dataset.clone()];
    v.extend(p.boot_volume.clone());
    v
}

/// Destroys a snapshot if it exists (zfs words a missing snapshot differently from a missing
/// dataset, so look first).
async fn destroy_snapshot(cx: &OpCx, snap: &SnapshotName) -> Result<(), OpError> {
    if zfs::snapshot_exists(&cx.runner, snap)
        .await
        .map_err(zfs_failed)?
    {
        zfs::destroy(&cx.runner, snap.as_str(), false)
            .await
            .map_err(zfs_failed)?;
    }
    Ok(())
}

/// Snapshots every target as `name`; `journal`: each new snapshot is journaled first, for the
/// undo.
async fn snapshot_all(
    cx: &OpCx,
    p: &StageParams,
    name: &str,
    journal: bool,
) -> Result<Vec<String>, OpError> {
    let mut made = Vec::new();
    for ds in snapshot_targets(p) {
        let ds: DatasetName = ds.parse().map_err(failed)?;
        if zfs::get(&cx.runner, &ds)
            .await
            .map_err(zfs_failed)?
            .is_none()
        {
            continue;
        }
        let snap: SnapshotName = ds.snapshot(name).map_err(failed)?;
        // Re-provisioning replaces the previous snapshot of the same name.
        destroy_snapshot(cx, &snap).await?;
        if journal {
            cx.will_make(&Made::Snapshot {
                name: snap.to_string(),
            })
            .await?;
        }
        zfs::snapshot(&cx.runner, &snap).await.map_err(zfs_failed)?;
        made.push(snap.to_string());
    }
    Ok(made)
}

pub struct Provision(pub Arc<ProvisioningServices>);

impl Operation for Provision {
    fn name(&self) -> &'static str {
        PROVISION
    }

    fn run<'a>(&'a self, cx: &'a OpCx) -> BoxFuture<'a, Result<Option<Value>, OpError>> {
        Box::pin(async move {
            let svc = &self.0;
            let p: StageParams = cx.params()?;
            cx.progress(5, "Snapshotting @pre-provision").await?;
            // A later post-provision of a previous run would block the rollback to the new pre.
            for ds in snapshot_targets(&p) {
                if let Ok(ds) = ds.parse::<DatasetName>() {
                    if let Ok(s) = ds.snapshot(POST) {
                        destroy_snapshot(cx, &s).await?;
                    }
                }
            }
            let pre = snapshot_all(cx, &p, PRE, true).await?;
            let all = stage_provisioners(cx, &p).await?;
            let provisioners: Vec<&Provisioner> =
                if p.settings.mode == super::settings::Mode::None && all.is_empty() {
                    Vec::new()
                } else {
                    all.iter().collect()
                };
            let mut ran = Vec::new();
            if !provisioners.is_empty() {
                let ds: DatasetName = p.dataset.parse().map_err(failed)?;
                let root = dataset_dir(svc, cx, &ds).await?;
                let root = root.canonicalize().map_err(failed)?;
                let ssh = ssh_for(svc, cx, &p).await?;
                let note = |l: &str| cx.note(l);
                let proc = ssh.proc(svc, cx, &note);
                let n = provisioners.len();
                cx.will_make(&Ran::ProvisionersBegun).await?;
                for (i, pr) in provisioners.iter().enumerate() {
                    cx.progress(
                        10 + (i * 80 / n) as i64,
                        &format!("Provisioner {} of {n}", i + 1),
                    )
                    .await?;
                    run_provisioner(svc, cx, &proc, &ssh, &root, &p, pr, i).await?;
                    ran.push(i);
                }
            } else {
                cx.note("no provisioners");
            }
            cx.will_make(&Ran::Provisioned {
                pre: pre.clone(),
                provisioners: ran.len(),
            })
            .await?;
            finish(svc, cx, &p, pre, ran.len(), None).await
        })
    }

    /// Before the provisioners begin, the stage made only its `@pre-provision` snapshots: they
    /// go. Once the provisioners began changing the guest, `@pre-provision` is the rollback
    /// point the spec promises for a failed provisioning, so it stays.
    fn undo<'a>(&'a self, cx: &'a OpCx, journal: Vec<Value>) -> BoxFuture<'a, Result<(), OpError>> {
        Box::pin(async move {
            if ran(&journal).any(|r| matches!(r, Ran::ProvisionersBegun)) {
                cx.note("the provisioners began: @pre-provision stays as the rollback point");
                return Ok(());
            }
            for entry in journal {
                let Ok(Made::Snapshot { name }) = serde_json::from_value(entry) else {
                    continue;
                };
                let Ok(snap) = name.parse::<SnapshotName>() else {
                    continue;
                };
                destroy_snapshot(cx, &snap).await?;
                cx.note(&format!("destroyed {name}"));
            }
            Ok(())
        })
    }

    /// Past the provisioners the guest is provisioned: what is left (the `@post-provision`
    /// snapshots, the record, the NIC's removal) is finished, each step again from the start
    /// as it skips or replaces what is already done.
    fn roll_forward<'a>(
        &'a self,
        cx: &'a OpCx,
        journal: &'a [Value],
    ) -> BoxFuture<'a, Result<Option<Option<Value>>, OpError>> {
        Box::pin(async move {
            let Some((pre, provisioners)) = ran(journal).find_map(|r| match r {
                Ran::Provisioned { pre, provisioners } => Some((pre, provisioners)),
                _ => None,
            }) else {
                return Ok(None);
            };
            let p: StageParams = cx.params()?;
            let nic = super::nic::interrupted_removal(journal);
            finish(&self.0, cx, &p, pre, provisioners, nic.as_deref())
                .await
                .map(Some)
        })
    }
}

/// The provisioners as set: from the task's secrets when the metadata holds them redacted.
async fn stage_provisioners(cx: &OpCx, p: &StageParams) -> Result<Vec<Provisioner>, OpError> {
    if !p.provisioners_in_secrets {
        return Ok(p.settings.provisioners.clone());
    }
    let secret = cx
        .secrets()
        .await?
        .and_then(|mut s| s.get_mut(PROVISIONERS_SECRET).map(Value::take));
    match secret {
        Some(v) => serde_json::from_value(v).map_err(failed),
        None if p.settings.provisioners.is_empty() => Ok(Vec::new()),
        None => Err(OpError::failed(
            "the provisioners' settings are no longer with the task; run the pipeline again",
        )),
    }
}

/// The provision stage after its provisioners: `@post-provision`, the record, and the
/// provisioning NIC's removal when asked for (`removing`: the NIC an interrupted run was
/// removing).
async fn finish(
    svc: &ProvisioningServices,
    cx: &OpCx,
    p: &StageParams,
    pre: Vec<String>,
    provisioners: usize,
    removing: Option<&str>,
) -> Result<Option<Value>, OpError> {
    cx.progress(95, "Snapshotting @post-provision").await?;
    let post = snapshot_all(cx, p, POST, false).await?;
    let zone = p.zone.clone();
    cx.db
        .write(move |c| store::mark_provisioned(c, &zone))
        .await?;
    let nic = if p.settings.remove_provisioning_nic && svc.network.settings.provisioning.enabled {
        cx.progress(98, "Removing the provisioning NIC").await?;
        let zone: ZoneName = p.zone.parse().map_err(failed)?;
        super::nic::remove(svc, cx, &zone, removing).await?
    } else {
        Value::Null
    };
    Ok(Some(json!({
        "provisioners": provisioners,
        "snapshots": { "pre": pre, "post": post },
        "provisioning_nic": nic,
    })))
}

/// A path inside the provisioning dataset, links resolved; refused if it leaves it.
fn inside(root: &Path, rel: &str) -> Result<PathBuf, OpError> {
    let p = root
        .join(rel)
        .canonicalize()
        .map_err(|e| OpError::failed(format!("{rel}: {e}")))?;
    if !p.starts_with(root) {
        return Err(OpError::failed(format!(
            "{rel} leaves the provisioning dataset"
        )));
    }
    Ok(p)
}

/// The stage's secrets plus the provisioner's values the log masks.
fn masked(proc: &Proc<'_>, pr: &Provisioner) -> Vec<String> {
    let mut all = proc.secrets.to_vec();
    all.extend(super::settings::masked_values(pr));
    all
}

#[allow(clippy::too_many_arguments)]
async fn run_provisioner(
    svc: &ProvisioningServices,
    cx: &OpCx,
    proc: &Proc<'_>,
    ssh: &Ssh,
    root: &Path,
    p: &StageParams,
    pr: &Provisioner,
    index: usize,
) -> Result<(), OpError> {
    let tools = &svc.config.provisioning.tools;
    match pr {
        Provisioner::Shell {
            script,
            inline,
            args,
            env,
        } => {
            let body = match (script, inline) {
                (Some(s), _) => std::fs::read(inside(root, s)?).map_err(failed)?,
                (_, Some(t)) => t.clone().into_bytes(),
                _ => return Err(OpError::failed("shell provisioner without a script")),
            };
            cx.note(&format!("shell provisioner {}", index + 1));
            let secrets = masked(proc, pr);
            let proc = Proc {
                secrets: &secrets,
                ..*proc
            };
            proc.check(
                &tools.ssh,
                &ssh.target.ssh_args(remote::SHELL_REMOTE),
                &[],
                Some(remote::shell_stdin(args, env, &body)),
                LONG,
            )
            .await
            .map_err(remote_failed)?;
        }
        Provisioner::Ansible {
            playbook,
            extra_vars,
            collections,
        } => {
            let book = inside(root, playbook)?;
            let mut vars = extra_vars.clone();
            for (k, v) in &p.variables {
                vars.entry(k.clone())
                    .or_insert_with(|| Value::String(v.clone()));
            }
            let run = ControllerRun::prepare(svc, cx, ssh, &book, index, &Value::Object(vars))?;
            let secrets = masked(proc, pr);
            let proc = Proc {
                secrets: &secrets,
                home: &run.home,
                confined: Some(&run.launch),
                ..*proc
            };
            let env: Vec<(&str, std::ffi::OsString)> = vec![(
                "ANSIBLE_CONFIG",
                run.dir.path().join("ansible.cfg").into_os_string(),
            )];
            for c in collections {
                proc.check(
                    &tools.ansible_galaxy,
                    &[
                        "collection".into(),
                        "install".into(),
                        "-p".into(),
                        run.dir.path().join("collections").into_os_string(),
                        c.into(),
                    ],
                    &env,
                    None,
                    LONG,
                )
                .await
                .map_err(remote_failed)?;
            }
            let args: Vec<std::ffi::OsString> = vec![
                "-i".into(),
                format!("{},", run.target.addr).into(),
                "-u".into(),
                run.target.user.clone().into(),
                "--private-key".into(),
                run.target.key.clone().into_os_string(),
                "-e".into(),
                format!("ansible_port={}", run.target.port).into(),
                "-e".into(),
                {
                    let mut s = std::ffi::OsString::from("@");
                    s.push(&run.vars_file);
                    s
                },
                run.playbook.clone().into_os_string(),
            ];
            proc.check(&tools.ansible_playbook, &args, &env, None, LONG)
                .await
                .map_err(remote_failed)?;
        }
        Provisioner::AnsibleLocal {
            playbook,
            extra_vars,
            collections,
        } => {
            let mut vars = extra_vars.clone();
            for (k, v) in &p.variables {
                vars.entry(k.clone())
                    .or_insert_with(|| Value::String(v.clone()));
            }
            let secrets = masked(proc, pr);
            let proc = &Proc {
                secrets: &secrets,
                ..*proc
            };
            let guest_vars = format!("/tmp/zoneweaver-extra-vars-{}.json", cx.task.id);
            let upload = format!(
                "umask 077 && cat > {}",
                super::console::sh_quote(&guest_vars)
            );
            proc.check(
                &tools.ssh,
                &ssh.target.ssh_args(&upload),
                &[],
                Some(Value::Object(vars).to_string().into_bytes()),
                LONG,
            )
            .await
            .map_err(remote_failed)?;
            let remote = remote::ansible_local_remote(playbook, &guest_vars, collections);
            let r = proc
                .check(&tools.ssh, &ssh.target.ssh_args(&remote), &[], None, LONG)
                .await;
            let rm = format!("rm -f {}", super::console::sh_quote(&guest_vars));
            let _ = proc
                .run(
                    &tools.ssh,
                    &ssh.target.ssh_args(&rm),
                    &[],
                    None,
                    Duration::from_secs(60),
                    false,
                )
                .await;
            r.map_err(remote_failed)?;
        }
    }
    Ok(())
}

/// What an `ansible` provisioner's confined controller gets: its own directory outside the
/// data directory holding copies of the playbook's folder, the vars, the guest's key and
/// known_hosts, and the agent's ansible.cfg (see [`super::confine`]).
struct ControllerRun {
    launch: Launch,
    dir: RunDir,
    home: PathBuf,
    playbook: PathBuf,
    vars_file: PathBuf,
    target: Target,
}

impl ControllerRun {
    fn prepare(
        svc: &ProvisioningServices,
        cx: &OpCx,
        ssh: &Ssh,
        book: &Path,
        index: usize,
        vars: &Value,
    ) -> Result<ControllerRun, OpError> {
        let cfg = &svc.config.provisioning.ansible;
        // Fails at once when the account is missing: never Ansible as the agent.
        let account = Account::lookup(&cfg.run_as).map_err(failed)?;
        let dir = RunDir::create(&cfg.run_dir, &format!("{}-{index}", cx.task.id), &account)
            .map_err(failed)?;
        let io = |what: &str, e: std::io::Error| {
            OpError::failed(format!("preparing the Ansible run ({what}): {e}"))
        };
        let home = dir.mkdir(Path::new("home")).map_err(|e| io("home", e))?;
        for d in ["tmp", "collections", "empty"] {
            dir.mkdir(Path::new(d)).map_err(|e| io(d, e))?;
        }
        let folder = book.parent().unwrap_or(book);
        dir.copy_tree(folder, Path::new("playbook"))
            .map_err(|e| io("playbook folder", e))?;
        let playbook = dir
            .path()
            .join("playbook")
            .join(book.file_name().unwrap_or_default());
        let vars_file = dir
            .write("extra-vars.json", vars.to_string().as_bytes(), false)
            .map_err(|e| io("extra vars", e))?;
        let key = controller_key(svc, &ssh.target.key)?;
        let key = dir.write("id_key", &key, false).map_err(|e| io("key", e))?;
        // The host key recorded by the wait-for-SSH stage; the copy is the controller's to
        // write (accept-new), never copied back.
        let known = std::fs::read(&ssh.target.known_hosts).unwrap_or_default();
        let known_hosts = dir
            .write("known_hosts", &known, true)
            .map_err(|e| io("known_hosts", e))?;
        let target = Target {
            key,
            known_hosts,
            ..ssh.target.clone()
        };
        let ssh_program = &svc.config.provisioning.tools.ssh;
        let mut options = target
            .ssh_command_string(ssh_program)
            .map_err(remote_failed)?;
        // Only the options: drop the program and "-F /dev/null" (the config has its own).
        if let Some(pos) = options.find(" '-o'") {
            options = options[pos + 1..].to_owned();
        }
        dir.write(
            "ansible.cfg",
            ansible_cfg(dir.path(), &options).as_bytes(),
            false,
        )
        .map_err(|e| io("ansible.cfg", e))?;
        cx.note(&format!(
            "ansible-playbook runs as {} in {}",
            account.name,
            dir.path().display()
        ));
        let launch = Launch::new(account, svc.config.host.pfexec.as_deref());
        Ok(ControllerRun {
            dir: dir.removed_through(&launch),
            launch,
            home,
            playbook,
            vars_file,
            target,
        })
    }
}

/// The guest's private key, as the controller may get a copy of it: the agent's provisioning
/// key, a key given inline, or `credentials.ssh_key_path` if that is a private key and not
/// one of the agent's own files (the data directory holds its API keys, database and TLS key;
/// `ssl.key_path` may name a TLS key elsewhere).
fn controller_key(svc: &ProvisioningServices, path: &Path) -> Result<Vec<u8>, OpError> {
    let bytes =
        std::fs::read(path).map_err(|e| OpError::failed(format!("{}: {e}", path.display())))?;
    let own = svc.config.provisioning_key_path();
    let canon = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let data = svc.config.data_dir.canonicalize().ok();
    let in_data = data.as_ref().is_some_and(|d| canon.starts_with(d));
    // An inline key is written to the stage's private directory there.
    let in_run = data
        .as_ref()
        .is_some_and(|d| canon.starts_with(d.join("provisioning/run")));
    let text = String::from_utf8_lossy(&bytes);
    let looks_like_key =
        text.trim_start().starts_with("-----BEGIN ") && text.contains("PRIVATE KEY-----");
    let own_key = own.canonicalize().is_ok_and(|o| o == canon);
    let tls_key = svc
        .config
        .ssl
        .key_path
        .as_ref()
        .and_then(|k| k.canonicalize().ok())
        .is_some_and(|k| k == canon);
    if !looks_like_key || tls_key || (in_data && !own_key && !in_run) {
        return Err(OpError::failed(format!(
            "provisioning.credentials.ssh_key_path: {} is not a private key the agent may hand to Ansible",
            path.display()
        )));
    }
    Ok(bytes)
}

/// Rolls the provisioning dataset and the boot volume back to `@pre-provision` (the zone was
/// halted by the `zone_halt` this task depends on).
pub struct Rollback(pub Arc<ProvisioningServices>);

impl Operation for Rollback {
    fn name(&self) -> &'static str {
        ROLLBACK
    }

    fn run<'a>(&'a self, cx: &'a OpCx) -> BoxFuture<'a, Result<Option<Value>, OpError>> {
        Box::pin(async move {
            let p: StageParams = cx.params()?;
            let mut rolled = Vec::new();
            let mut missing = Vec::new();
            for ds in snapshot_targets(&p) {
                let ds: DatasetName = ds.parse().map_err(failed)?;
                let snap = ds.snapshot(PRE).map_err(failed)?;
                if !zfs::snapshot_exists(&cx.runner, &snap)
                    .await
                    .map_err(zfs_failed)?
                {
                    missing.push(snap.to_string());
                    continue;
                }
                cx.progress(50, &format!("Rolling {ds} back")).await?;
                zfs::rollback(&cx.runner, &snap, true)
                    .await
                    .map_err(zfs_failed)?;
                rolled.push(snap.to_string());
            }
            if rolled.is_empty() {
                return Err(OpError::failed(format!(
                    "nothing to roll back: no {}",
                    missing.join(", ")
                )));
            }
            cx.note(&format!("rolled back to {}", rolled.join(", ")));
            Ok(Some(json!({
                "zone_name": p.zone,
                "halted": true,
                "rolled_back": rolled,
                "missing": missing,
            })))
        })
    }
}
