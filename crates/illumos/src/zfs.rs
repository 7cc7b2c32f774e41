//! zfs: volumes and filesystems, properties, snapshots, clones, send | recv.

use crate::cmd::{Cmd, Tool};
use crate::names::{DatasetName, Size, SnapshotName};
use crate::runner::{CommandError, Runner};

/// The user property that marks a dataset as made by the agent, with the zone it belongs to.
/// Cleanup destroys only datasets that carry it.
pub const OWNER_PROPERTY: &str = "zoneweaver:owner";

// Reference §1.9, zfs errors.
const NOT_FOUND: &str = "dataset does not exist";
const EXISTS: &str = "dataset already exists";
const BUSY: &str = "dataset is busy";
const HAS_CHILDREN: &str = "has children";
const HAS_CLONES: &str = "dependent clones";

#[derive(Debug, thiserror::Error)]
pub enum ZfsFailure {
    #[error("dataset does not exist")]
    NotFound,
    #[error("dataset already exists")]
    AlreadyExists,
    #[error("dataset is busy")]
    Busy,
    #[error("dataset has children or dependent clones")]
    HasDependents,
    #[error(transparent)]
    Command(CommandError),
    #[error(transparent)]
    Parse(#[from] ParseError),
}

#[derive(Debug, thiserror::Error)]
#[error("zfs {op} {name}: {kind}")]
pub struct ZfsError {
    pub op: &'static str,
    pub name: String,
    #[source]
    pub kind: ZfsFailure,
}

impl ZfsError {
    pub fn is_not_found(&self) -> bool {
        matches!(self.kind, ZfsFailure::NotFound)
    }

    /// The tool's own words, for a task's error message.
    pub fn detail(&self) -> String {
        match &self.kind {
            ZfsFailure::Command(CommandError::Failed(f)) => f.stderr.trim().to_owned(),
            other => other.to_string(),
        }
    }
}

fn classify(op: &'static str, name: &str, e: CommandError) -> ZfsError {
    let kind = match e.stderr() {
        Some(s) if s.contains(NOT_FOUND) => ZfsFailure::NotFound,
        Some(s) if s.contains(EXISTS) => ZfsFailure::AlreadyExists,
        Some(s) if s.contains(BUSY) => ZfsFailure::Busy,
        Some(s) if s.contains(HAS_CHILDREN) || s.contains(HAS_CLONES) => ZfsFailure::HasDependents,
        _ => ZfsFailure::Command(e),
    };
    ZfsError {
        op,
        name: name.to_owned(),
        kind,
    }
}

/// A property to set at creation: validated by construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prop {
    name: String,
    value: String,
}

impl Prop {
    /// The agent's ownership mark.
    pub fn owner(zone: &str) -> Prop {
        Prop {
            name: OWNER_PROPERTY.to_owned(),
            value: zone.to_owned(),
        }
    }

    fn arg(&self) -> String {
        format!("{}={}", self.name, self.value)
    }
}

pub fn create_volume_cmd(name: &DatasetName, size: &Size, sparse: bool, props: &[Prop]) -> Cmd {
    let mut c = Cmd::new(Tool::Zfs).arg("create");
    if sparse {
        c = c.arg("-s");
    }
    for p in props {
        c = c.arg("-o").arg(p.arg());
    }
    c.arg("-V").arg(size.as_str()).arg(name)
}

/// `zfs create [-p] -o ... NAME`. With `parents`, missing parents are made and an existing
/// target is not an error (reference §1.9).
pub fn create_filesystem_cmd(name: &DatasetName, parents: bool, props: &[Prop]) -> Cmd {
    let mut c = Cmd::new(Tool::Zfs).arg("create");
    if parents {
        c = c.arg("-p");
    }
    for p in props {
        c = c.arg("-o").arg(p.arg());
    }
    c.arg(name)
}

pub fn destroy_cmd(name: &str, recursive: bool) -> Cmd {
    let mut c = Cmd::new(Tool::Zfs).arg("destroy");
    if recursive {
        c = c.arg("-r");
    }
    c.arg(name)
}

pub fn snapshot_cmd(snap: &SnapshotName) -> Cmd {
    Cmd::new(Tool::Zfs).arg("snapshot").arg(snap)
}

/// `zfs rollback [-r] SNAP`. Without `-r`, zfs refuses when newer snapshots exist
/// (reference §1.9); with it they are destroyed.
pub fn rollback_cmd(snap: &SnapshotName, destroy_newer: bool) -> Cmd {
    let mut c = Cmd::new(Tool::Zfs).arg("rollback");
    if destroy_newer {
        c = c.arg("-r");
    }
    c.arg(snap)
}

pub fn clone_cmd(snap: &SnapshotName, target: &DatasetName, props: &[Prop]) -> Cmd {
    let mut c = Cmd::new(Tool::Zfs).arg("clone");
    for p in props {
        c = c.arg("-o").arg(p.arg());
    }
    c.arg(snap).arg(target)
}

pub fn send_cmd(snap: &SnapshotName) -> Cmd {
    Cmd::new(Tool::Zfs).arg("send").arg(snap)
}

pub fn recv_cmd(target: &DatasetName) -> Cmd {
    Cmd::new(Tool::Zfs).arg("recv").arg(target)
}

pub fn set_cmd(name: &DatasetName, prop: &Prop) -> Cmd {
    Cmd::new(Tool::Zfs).arg("set").arg(prop.arg()).arg(name)
}

pub const LIST_FIELDS: &str = "name,type,volsize,origin,zoneweaver:owner";

/// `zfs list -H -p -o name,type,volsize,origin,zoneweaver:owner [-r] [-t ...] NAME`
pub fn list_cmd(name: &str, recursive: bool, types: &str) -> Cmd {
    let mut c = Cmd::new(Tool::Zfs).args(["list", "-H", "-p", "-o", LIST_FIELDS]);
    if recursive {
        c = c.arg("-r");
    }
    c.args(["-t", types]).arg(name).quiet()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetType {
    Filesystem,
    Volume,
    Snapshot,
    Bookmark,
}

impl DatasetType {
    /// The name `zfs list -o type` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetType::Filesystem => "filesystem",
            DatasetType::Volume => "volume",
            DatasetType::Snapshot => "snapshot",
            DatasetType::Bookmark => "bookmark",
        }
    }
}

/// A row of [`list_cmd`] output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    pub name: String,
    pub kind: DatasetType,
    /// Bytes, for volumes.
    pub volsize: Option<u64>,
    /// The snapshot a clone was made from.
    pub origin: Option<String>,
    /// The zone named by the agent's ownership property, if set.
    pub owner: Option<String>,
}

impl Dataset {
    pub fn is_owned_by(&self, zone: &str) -> bool {
        self.owner.as_deref() == Some(zone)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unexpected zfs output line {line:?}: {why}")]
pub struct ParseError {
    pub line: String,
    pub why: &'static str,
}

/// A `-H` line's TAB-separated fields, exactly `n` of them, and the error for this line.
fn tab_fields(
    line: &str,
    n: usize,
) -> Result<(Vec<&str>, impl Fn(&'static str) -> ParseError + '_), ParseError> {
    let err = move |why| ParseError {
        line: line.to_owned(),
        why,
    };
    let f: Vec<&str> = line.split('\t').collect();
    if f.len() != n {
        return Err(err("wrong number of tab-separated fields"));
    }
    Ok((f, err))
}

fn dataset_type(s: &str) -> Option<DatasetType> {
    Some(match s {
        "filesystem" => DatasetType::Filesystem,
        "volume" => DatasetType::Volume,
        "snapshot" => DatasetType::Snapshot,
        "bookmark" => DatasetType::Bookmark,
        _ => return None,
    })
}

/// Parses `zfs list -H -p -o name,type,volsize,origin,zoneweaver:owner`: one TAB between
/// fields, `-` for unset (reference §0, tab mode).
pub fn parse_list(text: &str) -> Result<Vec<Dataset>, ParseError> {
    let opt = |v: &str| (v != "-" && !v.is_empty()).then(|| v.to_owned());
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (f, err) = tab_fields(line, 5)?;
            let kind = dataset_type(f[1]).ok_or_else(|| err("unknown dataset type"))?;
            let volsize = match f[2] {
                "-" | "" => None,
                v => Some(v.parse().map_err(|_| err("volsize is not a number"))?),
            };
            Ok(Dataset {
                name: f[0].to_owned(),
                kind,
                volsize,
                origin: opt(f[3]),
                owner: opt(f[4]),
            })
        })
        .collect()
}

/// Datasets at and below `name` (snapshots too when asked); `Ok(None)` when `name` is missing.
pub async fn list(
    run: &Runner,
    name: &DatasetName,
    recursive: bool,
    with_snapshots: bool,
) -> Result<Option<Vec<Dataset>>, ZfsError> {
    let types = if with_snapshots {
        "filesystem,volume,snapshot"
    } else {
        "filesystem,volume"
    };
    match run.output(&list_cmd(name.as_str(), recursive, types)).await {
        Ok(out) => parse_list(&out.stdout).map(Some).map_err(|e| ZfsError {
            op: "list",
            name: name.to_string(),
            kind: e.into(),
        }),
        Err(e) => {
            let e = classify("list", name.as_str(), e);
            if e.is_not_found() {
                Ok(None)
            } else {
                Err(e)
            }
        }
    }
}

/// One dataset, or `None` when it does not exist (only "does not exist" means absent).
pub async fn get(run: &Runner, name: &DatasetName) -> Result<Option<Dataset>, ZfsError> {
    Ok(list(run, name, false, false)
        .await?
        .and_then(|mut v| (!v.is_empty()).then(|| v.remove(0))))
}

pub fn mountpoint_cmd(name: &DatasetName) -> Cmd {
    Cmd::new(Tool::Zfs)
        .args(["get", "-H", "-o", "value", "mountpoint"])
        .arg(name)
        .quiet()
}

/// The filesystem's mountpoint (`none` and `legacy` as printed), or `None` if it does not exist.
pub async fn mountpoint(run: &Runner, name: &DatasetName) -> Result<Option<String>, ZfsError> {
    match run.output(&mountpoint_cmd(name)).await {
        Ok(out) => Ok(Some(out.stdout.trim().to_owned())),
        Err(e) => {
            let e = classify("get", name.as_str(), e);
            if e.is_not_found() {
                Ok(None)
            } else {
                Err(e)
            }
        }
    }
}

/// The snapshots of one dataset, oldest first (`-s creation`).
pub fn snapshots_cmd(name: &DatasetName) -> Cmd {
    Cmd::new(Tool::Zfs)
        .args([
            "list",
            "-H",
            "-p",
            "-o",
            LIST_FIELDS,
            "-t",
            "snapshot",
            "-s",
            "creation",
            "-d",
            "1",
        ])
        .arg(name)
        .quiet()
}

pub async fn snapshots(run: &Runner, name: &DatasetName) -> Result<Vec<Dataset>, ZfsError> {
    let out = run
        .output(&snapshots_cmd(name))
        .await
        .map_err(|e| classify("list", name.as_str(), e))?;
    parse_list(&out.stdout).map_err(|e| ZfsError {
        op: "list",
        name: name.to_string(),
        kind: e.into(),
    })
}

pub async fn snapshot_exists(run: &Runner, snap: &SnapshotName) -> Result<bool, ZfsError> {
    match run
        .output(&list_cmd(snap.as_str(), false, "snapshot"))
        .await
    {
        Ok(_) => Ok(true),
        Err(e) => {
            let e = classify("list", snap.as_str(), e);
            if e.is_not_found() {
                Ok(false)
            } else {
                Err(e)
            }
        }
    }
}

pub async fn create_volume(
    run: &Runner,
    name: &DatasetName,
    size: &Size,
    sparse: bool,
    props: &[Prop],
) -> Result<(), ZfsError> {
    run.output(&create_volume_cmd(name, size, sparse, props))
        .await
        .map(drop)
        .map_err(|e| classify("create", name.as_str(), e))
}

pub async fn create_filesystem(
    run: &Runner,
    name: &DatasetName,
    parents: bool,
    props: &[Prop],
) -> Result<(), ZfsError> {
    run.output(&create_filesystem_cmd(name, parents, props))
        .await
        .map(drop)
        .map_err(|e| classify("create", name.as_str(), e))
}

/// Destroys a dataset (with `-r` its children and snapshots); absent already counts as done.
pub async fn destroy(run: &Runner, name: &str, recursive: bool) -> Result<(), ZfsError> {
    match run.output(&destroy_cmd(name, recursive)).await {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = classify("destroy", name, e);
            if e.is_not_found() {
                Ok(())
            } else {
                Err(e)
            }
        }
    }
}

pub async fn snapshot(run: &Runner, snap: &SnapshotName) -> Result<(), ZfsError> {
    run.output(&snapshot_cmd(snap))
        .await
        .map(drop)
        .map_err(|e| classify("snapshot", snap.as_str(), e))
}

/// Rolls a dataset back to `snap` (with `destroy_newer`, destroying the snapshots taken after
/// it). A missing snapshot is [`ZfsFailure::NotFound`].
pub async fn rollback(
    run: &Runner,
    snap: &SnapshotName,
    destroy_newer: bool,
) -> Result<(), ZfsError> {
    run.output(&rollback_cmd(snap, destroy_newer))
        .await
        .map(drop)
        .map_err(|e| classify("rollback", snap.as_str(), e))
}

pub async fn clone(
    run: &Runner,
    snap: &SnapshotName,
    target: &DatasetName,
    props: &[Prop],
) -> Result<(), ZfsError> {
    run.output(&clone_cmd(snap, target, props))
        .await
        .map(drop)
        .map_err(|e| classify("clone", target.as_str(), e))
}

/// `zfs send SNAP | zfs recv TARGET`, both processes killed on cancel.
pub async fn copy(run: &Runner, snap: &SnapshotName, target: &DatasetName) -> Result<(), ZfsError> {
    run.pipe(&send_cmd(snap), &recv_cmd(target))
        .await
        .map(drop)
        .map_err(|e| classify("recv", target.as_str(), e))
}

pub async fn set(run: &Runner, name: &DatasetName, prop: &Prop) -> Result<(), ZfsError> {
    run.output(&set_cmd(name, prop))
        .await
        .map(drop)
        .map_err(|e| classify("set", name.as_str(), e))
}

/// What [`usage_cmd`] asks for, in this order.
pub const USAGE_FIELDS: &str = "name,type,used,avail,refer,mountpoint";

/// `zfs list -H -p -t filesystem,volume -o name,type,used,avail,refer,mountpoint`: every
/// dataset's space, in bytes.
pub fn usage_cmd() -> Cmd {
    Cmd::new(Tool::Zfs)
        .args([
            "list",
            "-H",
            "-p",
            "-t",
            "filesystem,volume",
            "-o",
            USAGE_FIELDS,
        ])
        .quiet()
}

/// A row of [`usage_cmd`] output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub name: String,
    pub kind: DatasetType,
    pub used: u64,
    pub available: u64,
    pub referenced: u64,
    /// `None` for a volume (`-`).
    pub mountpoint: Option<String>,
}

pub fn parse_usage(text: &str) -> Result<Vec<Usage>, ParseError> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (f, err) = tab_fields(line, 6)?;
            let kind = dataset_type(f[1])
                .filter(|k| matches!(k, DatasetType::Filesystem | DatasetType::Volume))
                .ok_or_else(|| err("not a filesystem or volume"))?;
            let num = |v: &str| v.parse::<u64>().map_err(|_| err("a size is not a number"));
            Ok(Usage {
                name: f[0].to_owned(),
                kind,
                used: num(f[2])?,
                available: num(f[3])?,
                referenced: num(f[4])?,
                mountpoint: (f[5] != "-").then(|| f[5].to_owned()),
            })
        })
        .collect()
}

/// Every filesystem and volume with its space.
pub async fn usage(run: &Runner) -> Result<Vec<Usage>, ZfsError> {
    let err = |kind| ZfsError {
        op: "list",
        name: String::new(),
        kind,
    };
    let out = run
        .output(&usage_cmd())
        .await
        .map_err(|e| classify("list", "", e))?;
    parse_usage(&out.stdout).map_err(|e| err(e.into()))
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_dataset_type_reads_back_as_zfs_prints_it() {
        for ty in [
            DatasetType::Filesystem,
            DatasetType::Volume,
            DatasetType::Snapshot,
            DatasetType::Bookmark,
        ] {
            let line = format!("rpool/x\t{}\t-\t-\t-\n", ty.as_str());
            assert_eq!(parse_list(&line).unwrap()[0].kind, ty);
        }
    }
    use super::*;

    fn ds(s: &str) -> DatasetName {
        s.parse().unwrap()
    }

    #[test]
    fn rollback_destroys_newer_snapshots_only_when_asked() {
        let snap: SnapshotName = "rpool/zones/z1/provisioning@pre-provision".parse().unwrap();
        assert_eq!(
            rollback_cmd(&snap, true).argv(),
            [
                "zfs",
                "rollback",
                "-r",
                "rpool/zones/z1/provisioning@pre-provision"
            ]
        );
        assert_eq!(
            rollback_cmd(&snap, false).argv(),
            [
                "zfs",
                "rollback",
                "rpool/zones/z1/provisioning@pre-provision"
            ]
        );
    }

    #[test]
    fn volume_creation_argv() {
        let c = create_volume_cmd(
            &ds("rpool/zones/vm1/root"),
            &"30G".parse().unwrap(),
            true,
            &[Prop::owner("vm1")],
        );
        assert_eq!(
            c.argv(),
            [
                "zfs",
                "create",
                "-s",
                "-o",
                "zoneweaver:owner=vm1",
                "-V",
                "30G",
                "rpool/zones/vm1/root"
            ]
        );
    }

    #[test]
    fn list_argv_names_its_fields() {
        assert_eq!(
            list_cmd("rpool/zones/vm1", true, "filesystem,volume").argv(),
            [
                "zfs",
                "list",
                "-H",
                "-p",
                "-o",
                LIST_FIELDS,
                "-r",
                "-t",
                "filesystem,volume",
                "rpool/zones/vm1"
            ]
        );
    }

    #[test]
    fn tab_mode_with_dashes_for_unset() {
        // captured shape: zfs list -H -p -o name,type,volsize,origin,zoneweaver:owner -r
        let text = "rpool/zones/vm1\tfilesystem\t-\t-\tvm1\nrpool/zones/vm1/root\tvolume\t32212254720\t-\tvm1\nrpool/vms/old\tvolume\t1073741824\trpool/t@base\t-\n";
        let v = parse_list(text).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].kind, DatasetType::Filesystem);
        assert_eq!(v[0].volsize, None);
        assert!(v[1].is_owned_by("vm1"));
        assert_eq!(v[1].volsize, Some(32212254720));
        assert_eq!(v[2].owner, None);
        assert_eq!(v[2].origin.as_deref(), Some("rpool/t@base"));
    }

    #[test]
    fn a_wrong_field_count_is_an_error_quoting_the_line() {
        let e = parse_list("rpool\tfilesystem\t-\n").unwrap_err();
        assert_eq!(e.line, "rpool\tfilesystem\t-");
        assert!(parse_list("rpool\tpool\t-\t-\t-\n").is_err());
    }

    #[test]
    fn stderr_is_classified() {
        let failed = |stderr: &str| {
            CommandError::Failed(crate::runner::CommandFailed {
                argv: "zfs x".into(),
                code: Some(1),
                stdout: String::new(),
                stderr: stderr.into(),
                hint: None,
            })
        };
        assert!(classify(
            "list",
            "a",
            failed("cannot open 'a': dataset does not exist")
        )
        .is_not_found());
        assert!(matches!(
            classify(
                "create",
                "a",
                failed("cannot create 'a': dataset already exists")
            )
            .kind,
            ZfsFailure::AlreadyExists
        ));
        assert!(matches!(
            classify(
                "destroy",
                "a",
                failed("cannot destroy 'a': dataset is busy")
            )
            .kind,
            ZfsFailure::Busy
        ));
        assert!(matches!(
            classify("destroy", "a", failed("cannot destroy 'a': filesystem has children\nuse '-r' to destroy the following datasets:\na/b")).kind,
            ZfsFailure::HasDependents
        ));
    }

    #[test]
    fn usage_rows_are_exact_bytes_and_a_volume_has_no_mountpoint() {
        let rows = parse_usage(
            "rpool\tfilesystem\t2048\t4096\t96\t/rpool\nrpool/vm0\tvolume\t1024\t4096\t512\t-\n",
        )
        .unwrap();
        assert_eq!(rows[0].mountpoint.as_deref(), Some("/rpool"));
        assert_eq!(
            (rows[0].used, rows[0].available, rows[0].referenced),
            (2048, 4096, 96)
        );
        assert_eq!(rows[1].kind, DatasetType::Volume);
        assert_eq!(rows[1].mountpoint, None);
        assert!(parse_usage("rpool\tfilesystem\t2K\t4K\t96\t/rpool\n").is_err());
        assert!(parse_usage("rpool@s\tsnapshot\t0\t-\t96\t-\n").is_err());
    }
}
