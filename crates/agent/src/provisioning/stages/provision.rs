//! `zone_provision_run`: the provisioners between the `@pre-provision` and `@post-provision`
//! snapshots, and the confined Ansible controller's run directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::ssh::{ssh_for, Ssh};
use super::{
    dataset_dir, destroy_snapshot, io_failed, own_snapshot, ran, snapshot_all, Entry, Made, Ran,
    StageParams, LONG, POST, PRE, PROVISION, PROVISIONERS_SECRET,
};
use crate::provisioning::confine::{ansible_cfg, Account, Launch, RunDir};
use crate::provisioning::remote::{self, Proc, Target};
use crate::provisioning::settings::Provisioner;
use crate::provisioning::{store, ProvisioningServices};
use crate::tasks::{Cx, OpCx, OpError, RollForward, TaskOp};

pub struct Provision(pub Arc<ProvisioningServices>);

impl TaskOp for Provision {
    type Params = StageParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        PROVISION
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: StageParams) -> Result<Option<Value>, OpError> {
        let svc = &self.0;
        cx.progress(5, "Snapshotting @pre-provision").await?;
        // A later post-provision of a previous run would block the rollback to the new pre.
        for ds in p.snapshot_targets() {
            destroy_snapshot(cx, &own_snapshot(ds, POST)?).await?;
        }
        let pre = snapshot_all(cx, &p, PRE, true).await?;
        let all = stage_provisioners(cx, &p).await?;
        let provisioners: Vec<&Provisioner> =
            if p.settings.mode == crate::provisioning::settings::Mode::None && all.is_empty() {
                Vec::new()
            } else {
                all.iter().collect()
            };
        let mut ran = Vec::new();
        if !provisioners.is_empty() {
            let root = dataset_dir(svc, cx, p.dataset()?).await?;
            let root = root
                .canonicalize()
                .map_err(|e| io_failed(root.display(), e))?;
            let ssh = ssh_for(svc, cx, &p).await?;
            let note = |l: &str| cx.note(l);
            let proc = ssh.proc(svc, cx, &note);
            let n = provisioners.len();
            cx.will_make(&Ran::ProvisionersBegun.into()).await?;
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
        cx.will_make(
            &Ran::Provisioned {
                pre: pre.clone(),
                provisioners: ran.len(),
            }
            .into(),
        )
        .await?;
        finish(svc, cx, &p, pre, ran.len(), None).await
    }

    /// Before the provisioners begin, the stage made only its `@pre-provision` snapshots: they
    /// go. Once the provisioners began changing the guest, `@pre-provision` is the rollback
    /// point the spec promises for a failed provisioning, so it stays.
    async fn undo(
        &self,
        cx: &Cx<'_, Entry>,
        _p: StageParams,
        journal: Vec<Entry>,
    ) -> Result<(), OpError> {
        if ran(&journal).any(|r| matches!(r, Ran::ProvisionersBegun)) {
            cx.note("the provisioners began: @pre-provision stays as the rollback point");
            return Ok(());
        }
        for entry in journal {
            if let Entry::Made(Made::Snapshot { name }) = entry {
                destroy_snapshot(cx, &name).await?;
                cx.note(&format!("destroyed {name}"));
            }
        }
        Ok(())
    }

    /// Past the provisioners the guest is provisioned: what is left (the `@post-provision`
    /// snapshots, the record, the NIC's removal) is finished, each step again from the start
    /// as it skips or replaces what is already done.
    async fn roll_forward(
        &self,
        cx: &Cx<'_, Entry>,
        p: StageParams,
        journal: &[Entry],
    ) -> Result<RollForward, OpError> {
        let Some((pre, provisioners)) = ran(journal).find_map(|r| match r {
            Ran::Provisioned { pre, provisioners } => Some((pre.clone(), *provisioners)),
            _ => None,
        }) else {
            return Ok(RollForward::Undo);
        };
        let nic = crate::provisioning::nic::interrupted_removal(journal);
        finish(&self.0, cx, &p, pre, provisioners, nic.as_deref())
            .await
            .map(RollForward::Completed)
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
        Some(v) => Ok(serde_json::from_value(v)?),
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
    cx: &Cx<'_, Entry>,
    p: &StageParams,
    pre: Vec<String>,
    provisioners: usize,
    removing: Option<&str>,
) -> Result<Option<Value>, OpError> {
    cx.progress(95, "Snapshotting @post-provision").await?;
    let post = snapshot_all(cx, p, POST, false).await?;
    let zone = p.zone.to_string();
    cx.db
        .write(move |c| store::mark_provisioned(c, &zone))
        .await?;
    let nic = if p.settings.remove_provisioning_nic && svc.network.settings.provisioning.enabled {
        cx.progress(98, "Removing the provisioning NIC").await?;
        crate::provisioning::nic::remove(svc, cx, &p.zone, removing).await?
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
    all.extend(crate::provisioning::settings::masked_values(pr));
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
                (Some(s), _) => {
                    let path = inside(root, s)?;
                    std::fs::read(&path).map_err(|e| io_failed(path.display(), e))?
                }
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
            .await?;
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
                .await?;
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
                .await?;
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
                crate::provisioning::console::sh_quote(&guest_vars)
            );
            proc.check(
                &tools.ssh,
                &ssh.target.ssh_args(&upload),
                &[],
                Some(Value::Object(vars).to_string().into_bytes()),
                LONG,
            )
            .await?;
            let remote = remote::ansible_local_remote(playbook, &guest_vars, collections);
            let r = proc
                .check(&tools.ssh, &ssh.target.ssh_args(&remote), &[], None, LONG)
                .await;
            let rm = format!(
                "rm -f {}",
                crate::provisioning::console::sh_quote(&guest_vars)
            );
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
            r?;
        }
    }
    Ok(())
}

/// What an `ansible` provisioner's confined controller gets: its own directory outside the
/// data directory holding copies of the playbook's folder, the vars, the guest's key and
/// known_hosts, and the agent's ansible.cfg (see [`crate::provisioning::confine`]).
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
        let account = Account::lookup(&cfg.run_as).map_err(|e| OpError::failed(e.to_string()))?;
        let dir = RunDir::create(&cfg.run_dir, &format!("{}-{index}", cx.task.id), &account)
            .map_err(|e| OpError::failed(e.to_string()))?;
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
        let mut options = target.ssh_command_string(ssh_program)?;
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
