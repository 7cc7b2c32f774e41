//! The stages that talk SSH: waiting for the guest's SSH (`zone_wait_ssh`) and syncing
//! folders into it (`zone_sync`), and what they share (the target, the key, known_hosts).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::{dataset_dir, io_failed, secrets, Entry, StageParams, LONG, SYNC, WAIT_SSH};
use crate::provisioning::remote::{self, Proc, Target};
use crate::provisioning::ProvisioningServices;
use crate::tasks::{Cx, OpCx, OpError, TaskOp};

/// A stage that talks SSH: its target, a private directory for the run, and a key file.
pub(super) struct Ssh {
    pub(super) target: Target,
    pub(super) home: PathBuf,
    pub(super) secrets: Vec<String>,
}

impl Drop for Ssh {
    fn drop(&mut self) {
        // The private directory holds at most a copy of an inline key: gone with the stage.
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

pub(super) async fn ssh_for(
    svc: &ProvisioningServices,
    cx: &OpCx,
    p: &StageParams,
) -> Result<Ssh, OpError> {
    // The zone's address: provisioning.variables.ip, else its provisioning NIC's reservation.
    let addr = match p.settings.guest_address() {
        Some(a) => a,
        None => crate::provisioning::nic::zone_variables(svc, &p.zone)
            .await?
            .get("ip")
            .and_then(|ip| ip.parse().ok())
            .ok_or_else(|| {
                OpError::failed(
                    "the zone's address is unknown: it has no provisioning NIC reservation and provisioning.variables.ip is not set",
                )
            })?,
    };
    crate::provisioning::guest_endpoint::check(&svc.config, addr, p.settings.ssh_port)
        .map_err(OpError::failed)?;
    let home = svc
        .config
        .data_dir
        .join("provisioning/run")
        .join(&cx.task.id);
    remote::private_dir(&home).map_err(|e| io_failed(home.display(), e))?;
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
            remote::private_file(&path, text.as_bytes())
                .map_err(|e| io_failed(path.display(), e))?;
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
            remote::ensure_key(&proc, &svc.config.provisioning.tools, &key).await?;
            key
        }
    };
    let kh_dir = svc.config.data_dir.join("provisioning/known_hosts");
    remote::private_dir(&kh_dir).map_err(|e| io_failed(kh_dir.display(), e))?;
    // Read from the host each time, not from the zones area's cache: a stage runs the same
    // commands whatever the cache holds (the crash sweeps count them).
    let uuid = illumos::zoneadm::get(&cx.runner, &p.zone)
        .await?
        .ok_or_else(|| OpError::failed(format!("zone {} does not exist", p.zone)))?
        .uuid;
    let known_hosts = remote::known_hosts_file(&kh_dir, p.zone.as_str(), uuid.as_deref())?;
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
    pub(super) fn proc<'a>(
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

pub struct WaitSsh(pub Arc<ProvisioningServices>);

impl TaskOp for WaitSsh {
    type Params = StageParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        WAIT_SSH
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: StageParams) -> Result<Option<Value>, OpError> {
        let svc = &self.0;
        let ssh = ssh_for(svc, cx, &p).await?;
        let note = |l: &str| cx.note(l);
        let proc = ssh.proc(svc, cx, &note);
        let cfg = &svc.config.provisioning.ssh;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(cfg.wait_timeout_seconds);
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
    }
}

pub struct SyncFolders(pub Arc<ProvisioningServices>);

impl TaskOp for SyncFolders {
    type Params = StageParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        SYNC
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: StageParams) -> Result<Option<Value>, OpError> {
        let svc = &self.0;
        if p.settings.sync_folders.is_empty() {
            cx.note("no sync folders");
            return Ok(Some(json!({ "synced": 0 })));
        }
        let root = dataset_dir(svc, cx, p.dataset()?).await?;
        let root = root
            .canonicalize()
            .map_err(|e| io_failed(root.display(), e))?;
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
            let mkdir = format!(
                "mkdir -p {}",
                crate::provisioning::console::sh_quote(&f.dest)
            );
            proc.check(&tools.ssh, &ssh.target.ssh_args(&mkdir), &[], None, LONG)
                .await?;
            let args = ssh
                .target
                .rsync_args(&tools.ssh, &src, &f.dest, &f.exclude)?;
            proc.check(&tools.rsync, &args, &[], None, LONG).await?;
        }
        Ok(Some(json!({ "synced": n })))
    }
}
