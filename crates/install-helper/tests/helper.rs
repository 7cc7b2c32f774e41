//! The helper as the package installs it: a copy at `<root>/opt/zoneweaver/lib/zoneweaver-install`
//! beside a root-owned policy file, run as root (as pfexec runs it), as a setuid copy from
//! an unprivileged real uid (what `euid=0` in exec_attr gives), and as a plain user.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

const NOBODY: u32 = 65534;

/// Held while a test writes an executable and while one spawns: a child forked by another
/// thread while a copy is open for writing keeps that descriptor until it execs, and exec of
/// the copy then fails with ETXTBSY.
static EXEC: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn copy_exe(from: &Path, to: &Path) {
    let _g = EXEC.lock().unwrap_or_else(|e| e.into_inner());
    std::fs::copy(from, to).unwrap();
}
const POLICY: &str = "# what the agent may change through the helper\n\
                      file /etc/ipf/ipnat.conf\nfile /etc/dhcpd.conf\n\
                      zonepath-file /rpool/zones cloud-init-sshkeys\n\
                      mountpoints-under /rpool/zones\n";

struct Root {
    top: PathBuf,
    root: PathBuf,
    exe: PathBuf,
}

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

impl Root {
    fn new() -> Root {
        static N: AtomicUsize = AtomicUsize::new(0);
        let top = std::env::temp_dir().join(format!(
            "zw-install-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&top);
        let root = top.join("root");
        let exe = root.join("opt/zoneweaver/lib/zoneweaver-install");
        std::fs::create_dir_all(exe.parent().unwrap()).unwrap();
        copy_exe(Path::new(env!("CARGO_BIN_EXE_zoneweaver-install")), &exe);
        set_mode(&exe, 0o555);
        for d in ["etc/ipf", "etc/zoneweaver-agent", "rpool/zones"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        // Everything on the way must be traversable by the unprivileged callers below.
        for d in [&top, &root] {
            set_mode(d, 0o755);
        }
        let r = Root { top, root, exe };
        std::fs::write(r.policy(), POLICY).unwrap();
        set_mode(&r.policy(), 0o444);
        r
    }

    fn policy(&self) -> PathBuf {
        self.root.join("etc/zoneweaver-agent/privileged-paths")
    }

    fn path(&self, illumos: &str) -> PathBuf {
        self.root.join(illumos.trim_start_matches('/'))
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.exe);
        c.args(args).env_clear();
        c
    }

    /// The helper started by `nobody` (a setuid copy stands for pfexec's euid=0).
    fn as_nobody(&self, args: &[&str]) -> Command {
        let mut c = self.command(args);
        c.uid(NOBODY).gid(NOBODY);
        c
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        run_with(self.command(args), stdin)
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.top);
    }
}

fn run_with(mut c: Command, stdin: &[u8]) -> Output {
    use std::io::Write;
    let spawned = {
        let _g = EXEC.lock().unwrap_or_else(|e| e.into_inner());
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
    };
    let mut child = spawned.unwrap();
    // The helper may refuse before reading: a broken pipe is not the test's concern.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

fn set_mode(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(o.status.success(), "exit {:?}: {}", o.status, stderr(o));
    stdout(o)
}

/// Asserts a refusal (exit 1) whose message contains `why`.
#[track_caller]
fn refused(o: &Output, why: &str) {
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(o));
    let e = stderr(o);
    assert!(e.starts_with("zoneweaver-install: "), "{e}");
    assert!(e.contains(why), "{e:?} lacks {why:?}");
}

macro_rules! needs_root {
    () => {
        if !is_root() {
            eprintln!("note: not root; the helper's privileged behaviour is not tested");
            return;
        }
    };
}

#[test]
fn backup_install_restore_remove_replace_an_allowed_file_atomically() {
    needs_root!();
    let r = Root::new();
    let conf = r.path("/etc/ipf/ipnat.conf");
    let backup = r.path("/etc/ipf/ipnat.conf.zw-backup");

    assert_eq!(
        ok(&r.run(&["backup", "/etc/ipf/ipnat.conf"], b"")),
        "absent\n"
    );
    assert!(!backup.exists());
    ok(&r.run(&["install", "/etc/ipf/ipnat.conf"], b"map one\n"));
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "map one\n");
    let m = std::fs::metadata(&conf).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o7777), (0, 0o644));

    assert_eq!(
        ok(&r.run(&["backup", "//etc/ipf/./ipnat.conf"], b"")),
        "existed\n"
    );
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), "map one\n");
    ok(&r.run(&["install", "/etc/ipf/ipnat.conf"], b"map two\n"));
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "map two\n");
    ok(&r.run(&["restore", "/etc/ipf/ipnat.conf"], b""));
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "map one\n");

    // A temp file left by a crash neither blocks the next install nor survives a remove.
    let temp = r.path("/etc/ipf/ipnat.conf.zw-install");
    std::fs::write(&temp, "half").unwrap();
    ok(&r.run(&["install", "/etc/ipf/ipnat.conf"], b"map three\n"));
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "map three\n");
    assert!(!temp.exists());
    std::fs::write(&temp, "half").unwrap();
    ok(&r.run(&["remove", "/etc/ipf/ipnat.conf"], b""));
    assert!(!conf.exists() && !temp.exists());
    ok(&r.run(&["remove", "/etc/ipf/ipnat.conf"], b""));

    // Nothing to restore from is a refusal, not an empty file.
    std::fs::remove_file(&backup).unwrap();
    refused(
        &r.run(&["restore", "/etc/ipf/ipnat.conf"], b""),
        "no /etc/ipf/ipnat.conf.zw-backup",
    );
    assert!(!conf.exists());
}

/// A file the admin keeps from other users (a dhcpd.conf with a TSIG key) stays so: the new
/// version, its backup and a restore keep its owner, group and permission bits.
#[test]
fn a_replaced_file_keeps_its_mode_and_group_and_so_does_its_backup() {
    needs_root!();
    let r = Root::new();
    let conf = r.path("/etc/ipf/ipnat.conf");
    std::fs::write(&conf, "map secret\n").unwrap();
    set_mode(&conf, 0o640);
    std::os::unix::fs::chown(&conf, Some(7), Some(4)).unwrap();
    let like = |p: &Path| {
        let m = std::fs::metadata(p).unwrap();
        (m.uid(), m.gid(), m.mode() & 0o7777)
    };
    ok(&r.run(&["backup", "/etc/ipf/ipnat.conf"], b""));
    ok(&r.run(&["install", "/etc/ipf/ipnat.conf"], b"map two\n"));
    assert_eq!(like(&conf), (7, 4, 0o640));
    let backup = r.path("/etc/ipf/ipnat.conf.zw-backup");
    assert_eq!(like(&backup), (7, 4, 0o640));
    std::fs::remove_file(&conf).unwrap();
    ok(&r.run(&["restore", "/etc/ipf/ipnat.conf"], b""));
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "map secret\n");
    assert_eq!(like(&conf), (7, 4, 0o640));
    // A restore onto the file there keeps that file's owner and mode, not the backup's.
    std::os::unix::fs::chown(&conf, Some(8), Some(9)).unwrap();
    set_mode(&conf, 0o600);
    ok(&r.run(&["restore", "/etc/ipf/ipnat.conf"], b""));
    assert_eq!(like(&conf), (8, 9, 0o600));
    // Write access for others is not kept.
    set_mode(&conf, 0o666);
    ok(&r.run(&["install", "/etc/ipf/ipnat.conf"], b"map three\n"));
    assert_eq!(like(&conf), (8, 9, 0o664));
}

/// A bhyve zone's SSH key file: written, read, backed up, restored and removed inside a zonepath
/// (root's, 0700) below the policy's directory, as a root file mode 0644; refused in a directory
/// that is not shaped like a zonepath, and under any other name.
#[test]
fn a_zonepath_file_is_replaced_only_inside_a_root_only_zonepath() {
    needs_root!();
    let r = Root::new();
    let zp = r.path("/rpool/zones/web/path");
    std::fs::create_dir_all(&zp).unwrap();
    set_mode(&zp, 0o700);
    let target = "/rpool/zones/web/path/cloud-init-sshkeys";
    let keys = b"ssh-ed25519 AAAA a@h\nssh-rsa BBBB b@h\n";
    assert_eq!(ok(&r.run(&["backup", target], b"")), "absent\n");
    ok(&r.run(&["install", target], keys));
    let m = std::fs::metadata(r.path(target)).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o7777), (0, 0o644));
    assert_eq!(std::fs::read(r.path(target)).unwrap(), keys);
    // The agent's user cannot read a root-only zonepath: `read` prints the file for it.
    assert_eq!(ok(&r.run(&["read", target], b"")).as_bytes(), keys);
    assert_eq!(ok(&r.run(&["backup", target], b"")), "existed\n");
    ok(&r.run(&["install", target], b"ssh-rsa CCCC c@h\n"));
    ok(&r.run(&["restore", target], b""));
    assert_eq!(std::fs::read(r.path(target)).unwrap(), keys);
    ok(&r.run(&["remove", target], b""));
    assert!(!r.path(target).exists());
    refused(&r.run(&["read", target], b""), "does not exist");

    // A directory others may read, or one the caller owns, is no zonepath.
    set_mode(&zp, 0o755);
    refused(&r.run(&["install", target], keys), "is not a zonepath");
    set_mode(&zp, 0o700);
    std::os::unix::fs::chown(&zp, Some(NOBODY), Some(NOBODY)).unwrap();
    refused(&r.run(&["install", target], keys), "is not a zonepath");
    assert!(!r.path(target).exists());
    refused(
        &r.run(&["install", "/rpool/zones/web/path/other"], keys),
        "is not a file the policy allows",
    );
    refused(
        &r.run(&["install", "/etc/cloud-init-sshkeys"], keys),
        "is not a file the policy allows",
    );
}

#[test]
fn paths_the_policy_does_not_name_are_refused_and_left_alone() {
    needs_root!();
    let r = Root::new();
    std::fs::write(r.path("/etc/passwd"), "root:x:0:0\n").unwrap();
    for (args, why) in [
        (
            ["install", "/etc/passwd"],
            "/etc/passwd is not a file the policy allows",
        ),
        (["install", "/etc/ipf/../passwd"], "contains '..'"),
        (["install", "etc/dhcpd.conf"], "is not an absolute path"),
        (
            ["remove", "/etc/dhcpd.conf.zw-backup"],
            "is not a file the policy allows",
        ),
        (
            ["own-mountpoint", "/etc/ipf"],
            "not below a mountpoints-under entry",
        ),
        (
            ["own-mountpoint", "/rpool/zones"],
            "not below a mountpoints-under entry",
        ),
    ] {
        refused(&r.run(&args, b"owned\n"), why);
    }
    assert_eq!(
        std::fs::read_to_string(r.path("/etc/passwd")).unwrap(),
        "root:x:0:0\n"
    );
    let o = r.run(&["chmod", "/etc/dhcpd.conf"], b"");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn a_symbolic_link_as_target_or_parent_is_refused_not_followed() {
    needs_root!();
    let r = Root::new();
    let victim = r.path("/victim");
    std::fs::write(&victim, "precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, r.path("/etc/dhcpd.conf")).unwrap();
    for verb in ["install", "backup", "restore", "remove"] {
        refused(
            &r.run(&[verb, "/etc/dhcpd.conf"], b"evil\n"),
            "/etc/dhcpd.conf is a symbolic link",
        );
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(r
        .path("/etc/dhcpd.conf")
        .symlink_metadata()
        .unwrap()
        .is_symlink());

    // /etc/ipf swapped for a link to another directory.
    let elsewhere = r.path("/elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::remove_dir(r.path("/etc/ipf")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, r.path("/etc/ipf")).unwrap();
    refused(
        &r.run(&["install", "/etc/ipf/ipnat.conf"], b"evil\n"),
        "/etc/ipf is a symbolic link",
    );
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn an_untrustworthy_or_missing_policy_refuses_everything_naming_the_file() {
    needs_root!();
    let r = Root::new();
    let shown = r.policy().display().to_string();
    set_mode(&r.policy(), 0o664);
    let o = r.run(&["install", "/etc/dhcpd.conf"], b"x\n");
    refused(
        &o,
        &format!("policy file {shown} is group- or other-writable (mode 0664)"),
    );
    set_mode(&r.policy(), 0o446);
    refused(
        &r.run(&["install", "/etc/dhcpd.conf"], b"x\n"),
        "other-writable",
    );
    set_mode(&r.policy(), 0o444);
    std::os::unix::fs::chown(r.policy(), Some(NOBODY), None).unwrap();
    refused(
        &r.run(&["install", "/etc/dhcpd.conf"], b"x\n"),
        "is owned by uid 65534, not root",
    );
    std::fs::remove_file(r.policy()).unwrap();
    refused(
        &r.run(&["install", "/etc/dhcpd.conf"], b"x\n"),
        &format!("policy file {shown} is missing"),
    );
    std::fs::write(r.policy(), "file /etc/dhcpd.conf\nallow everything\n").unwrap();
    refused(&r.run(&["install", "/etc/dhcpd.conf"], b"x\n"), "line 2");
    assert!(!r.path("/etc/dhcpd.conf").exists());
}

#[test]
fn more_than_the_size_bound_on_stdin_is_refused() {
    needs_root!();
    let r = Root::new();
    std::fs::write(r.path("/etc/dhcpd.conf"), "old\n").unwrap();
    let big = vec![b'#'; 16 * 1024 * 1024 + 1];
    refused(
        &r.run(&["install", "/etc/dhcpd.conf"], &big),
        "larger than 16777216 bytes",
    );
    assert_eq!(
        std::fs::read_to_string(r.path("/etc/dhcpd.conf")).unwrap(),
        "old\n"
    );
}

#[test]
fn a_copy_outside_the_package_path_refuses_to_guess_its_root() {
    needs_root!();
    let r = Root::new();
    let stray = r.top.join("zoneweaver-install");
    copy_exe(&r.exe, &stray);
    let mut c = Command::new(&stray);
    c.args(["install", "/etc/dhcpd.conf"]);
    let o = run_with(c, b"x\n");
    refused(
        &o,
        "is not installed as <root>/opt/zoneweaver/lib/zoneweaver-install",
    );
}

#[test]
fn without_euid_0_it_refuses_at_once_naming_the_missing_grant() {
    needs_root!();
    let r = Root::new();
    let mut c = r.command(&["install", "/etc/dhcpd.conf"]);
    c.uid(NOBODY).gid(NOBODY);
    let o = run_with(c, b"x\n");
    refused(
        &o,
        "without euid 0: the RBAC profile does not grant \
         /opt/zoneweaver/lib/zoneweaver-install (exec_attr euid=0)",
    );
    assert!(stderr(&o).contains("running as "), "{}", stderr(&o));
    assert!(!r.path("/etc/dhcpd.conf").exists());
}

/// The helper made setuid root and started by uid 65534 has what pfexec's `euid=0` gives:
/// effective uid 0, real uid the caller's. `own-mountpoint` hands the directory to the real
/// uid, and only an empty, root-owned directory below an allowed parent.
#[test]
fn own_mountpoint_gives_a_fresh_mountpoint_to_the_callers_real_uid() {
    needs_root!();
    let r = Root::new();
    set_mode(&r.exe, 0o4555);
    let as_nobody = |args: &[&str]| run_with(r.as_nobody(args), b"");
    let mp = r.path("/rpool/zones/web/provisioning");
    std::fs::create_dir_all(&mp).unwrap();
    ok(&as_nobody(&[
        "own-mountpoint",
        "/rpool/zones/web/provisioning",
    ]));
    let m = std::fs::metadata(&mp).unwrap();
    assert_eq!((m.uid(), m.gid()), (NOBODY, NOBODY));

    // Already handed over (or someone else's): not root-owned, refused.
    refused(
        &as_nobody(&["own-mountpoint", "/rpool/zones/web/provisioning"]),
        "is owned by uid 65534, not root",
    );
    // Not empty: whatever is in it stays root's.
    let full = r.path("/rpool/zones/db/provisioning");
    std::fs::create_dir_all(&full).unwrap();
    std::fs::write(full.join("shadow"), "x").unwrap();
    refused(
        &as_nobody(&["own-mountpoint", "/rpool/zones/db/provisioning"]),
        "is not empty",
    );
    assert_eq!(std::fs::metadata(&full).unwrap().uid(), 0);
    // A zonepath (or any other empty root directory there) is not a provisioning mountpoint.
    std::fs::create_dir_all(r.path("/rpool/zones/web2")).unwrap();
    refused(
        &as_nobody(&["own-mountpoint", "/rpool/zones/web2"]),
        "is not a provisioning dataset's mountpoint",
    );
    assert_eq!(
        std::fs::metadata(r.path("/rpool/zones/web2"))
            .unwrap()
            .uid(),
        0
    );
    // A link to a root-owned directory elsewhere, as the directory or as a parent.
    std::fs::create_dir_all(r.path("/rpool/zones/lk")).unwrap();
    std::os::unix::fs::symlink(r.path("/etc/ipf"), r.path("/rpool/zones/lk/provisioning")).unwrap();
    refused(
        &as_nobody(&["own-mountpoint", "/rpool/zones/lk/provisioning"]),
        "/rpool/zones/lk/provisioning is a symbolic link",
    );
    std::os::unix::fs::symlink(r.path("/etc"), r.path("/rpool/zones/link")).unwrap();
    refused(
        &as_nobody(&["own-mountpoint", "/rpool/zones/link/provisioning"]),
        "/rpool/zones/link is a symbolic link",
    );
    assert_eq!(std::fs::metadata(r.path("/etc/ipf")).unwrap().uid(), 0);
    // A file is not a mountpoint.
    std::fs::create_dir_all(r.path("/rpool/zones/f")).unwrap();
    std::fs::write(r.path("/rpool/zones/f/provisioning"), "").unwrap();
    refused(
        &as_nobody(&["own-mountpoint", "/rpool/zones/f/provisioning"]),
        "is not a directory",
    );
}

/// A zone as zoneadm leaves it: `<zonepath>` 0700 root, its root with a `tmp` directory.
fn zone_dirs(r: &Root, zonepath: &str) {
    std::fs::create_dir_all(r.path(&format!("{zonepath}/root/tmp"))).unwrap();
    set_mode(&r.path(zonepath), 0o700);
}

/// Writes `/etc/zones/index` as zonecfg does (root's, 0644) with these zone lines.
fn zone_index(r: &Root, lines: &[&str]) {
    let mut text = String::from("# DO NOT EDIT\nglobal:installed:/\n");
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    std::fs::create_dir_all(r.path("/etc/zones")).unwrap();
    // Written anew, as zonecfg renames a new file over it: no owner or mode is inherited.
    let _ = std::fs::remove_file(r.path("/etc/zones/index"));
    std::fs::write(r.path("/etc/zones/index"), text).unwrap();
    set_mode(&r.path("/etc/zones/index"), 0o644);
}

/// A listening socket at `illumos` that greets as bhyve's VNC server does, then echoes.
fn vnc_server(r: &Root, illumos: &str) {
    use std::io::{Read, Write};
    let listener = std::os::unix::net::UnixListener::bind(r.path(illumos)).unwrap();
    std::thread::spawn(move || {
        while let Ok((mut s, _)) = listener.accept() {
            let _ = s.write_all(b"RFB 003.008\n");
            let mut b = [0u8; 5];
            if s.read_exact(&mut b).is_ok() {
                let _ = s.write_all(&b);
            }
        }
    });
}

/// Runs `vnc-connect ZONE SOCKET` as nobody, sends "hello" and returns the 17 bytes that come
/// back (the greeting, then the echo) with the helper's uids while connected. Reading before
/// closing stdin matters: the helper ends when its stdin does.
fn bridged(r: &Root, zone: &str, socket: &str) -> (Vec<u8>, Vec<String>) {
    use std::io::{Read, Write};
    let mut child = {
        let _g = EXEC.lock().unwrap_or_else(|e| e.into_inner());
        r.as_nobody(&["vnc-connect", zone, socket])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"hello").unwrap();
    let mut got = vec![0u8; 17];
    if let Err(e) = child.stdout.as_mut().unwrap().read_exact(&mut got) {
        let mut err = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut err);
        panic!("vnc-connect {zone} {socket}: {e}: {err}");
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let uids = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    let uids = uids.split_whitespace().skip(1).map(str::to_owned).collect();
    drop(stdin);
    assert!(child.wait().unwrap().success());
    (got, uids)
}

#[test]
fn vnc_connect_bridges_a_zones_socket_without_root_and_refuses_anything_else() {
    needs_root!();
    let r = Root::new();
    set_mode(&r.exe, 0o4555);
    zone_dirs(&r, "/rpool/zones/vm");
    zone_dirs(&r, "/rpool/zones/other");
    zone_index(
        &r,
        &[
            "vm:installed:/rpool/zones/vm:8a1c4f6e-30f1-4a1e-9a3d-2f4c1b0e7d55",
            "other:installed:/rpool/zones/other:8a1c4f6e-30f1-4a1e-9a3d-2f4c1b0e7d56",
        ],
    );
    vnc_server(&r, "/rpool/zones/vm/root/tmp/vm.vnc");
    vnc_server(&r, "/rpool/zones/other/root/tmp/vm.vnc");
    let (got, uids) = bridged(&r, "vm", "/rpool/zones/vm/root/tmp/vm.vnc");
    assert_eq!(got, b"RFB 003.008\nhello");
    // Connected, it runs as the caller: every uid is nobody's.
    assert_eq!(uids, ["65534"; 4]);

    let run = |zone: &str, target: &str| run_with(r.as_nobody(&["vnc-connect", zone, target]), b"");
    // Shaped like a zone root, but no zone's: the old shape-only check let it through.
    std::fs::create_dir_all(r.path("/export/home/root")).unwrap();
    vnc_server(&r, "/export/home/root/x.sock");
    for (zone, socket, why) in [
        (
            "vm",
            "/export/home/root/x.sock",
            "/export/home/root/x.sock is not inside the root of zone vm (/rpool/zones/vm/root)",
        ),
        ("home", "/export/home/root/x.sock", "there is no zone home"),
        ("vm", "/etc/dhcpd.conf", "is not inside the root of zone vm"),
        (
            "vm",
            "/root/tmp/vm.vnc",
            "is not inside the root of zone vm",
        ),
        // Another zone's socket, through this zone's name.
        (
            "vm",
            "/rpool/zones/other/root/tmp/vm.vnc",
            "/rpool/zones/other/root/tmp/vm.vnc is not inside the root of zone vm",
        ),
        ("global", "/root/tmp/vm.vnc", "not a non-global zone's name"),
        (
            "../vm",
            "/rpool/zones/vm/root/tmp/vm.vnc",
            "not a non-global zone's name",
        ),
    ] {
        refused(&run(zone, socket), why);
    }
    std::fs::write(r.path("/rpool/zones/vm/root/tmp/file.vnc"), "").unwrap();
    refused(
        &run("vm", "/rpool/zones/vm/root/tmp/file.vnc"),
        "is not a socket",
    );
    refused(
        &run("vm", "/rpool/zones/vm/root/tmp/none.vnc"),
        "does not exist (is the zone running?)",
    );
    // Links the guest plants inside its root do not lead out of it: not a directory on the
    // way, not the socket itself, even when they point at a socket the caller could name.
    std::os::unix::fs::symlink("/export/home/root", r.path("/rpool/zones/vm/root/out")).unwrap();
    refused(
        &run("vm", "/rpool/zones/vm/root/out/x.sock"),
        "/rpool/zones/vm/root/out is a symbolic link",
    );
    std::os::unix::fs::symlink(
        r.path("/rpool/zones/other/root/tmp/vm.vnc"),
        r.path("/rpool/zones/vm/root/tmp/link.vnc"),
    )
    .unwrap();
    refused(
        &run("vm", "/rpool/zones/vm/root/tmp/link.vnc"),
        "/rpool/zones/vm/root/tmp/link.vnc is a symbolic link",
    );
    // The other zone's own socket is its own to reach.
    let (got, _) = bridged(&r, "other", "/rpool/zones/other/root/tmp/vm.vnc");
    assert_eq!(got, b"RFB 003.008\nhello");
}

/// The zonepath is believed only as zoneadm would have it (zoneadm.c, validate_zonepath):
/// listed as installed in a root-owned index, reached without a link, 0700 root, its parent
/// root's and writable by nobody else.
#[test]
fn vnc_connect_checks_the_zonepath_as_zoneadm_does() {
    needs_root!();
    let r = Root::new();
    set_mode(&r.exe, 0o4555);
    zone_dirs(&r, "/rpool/zones/vm");
    vnc_server(&r, "/rpool/zones/vm/root/tmp/vm.vnc");
    let sock = "/rpool/zones/vm/root/tmp/vm.vnc";
    let refuses = |why: &str| {
        refused(
            &run_with(r.as_nobody(&["vnc-connect", "vm", sock]), b""),
            why,
        )
    };
    const VM: &str = "vm:installed:/rpool/zones/vm:8a1c4f6e-30f1-4a1e-9a3d-2f4c1b0e7d55";
    std::fs::create_dir_all(r.path("/etc/zones")).unwrap();
    refuses("/etc/zones/index is missing");
    zone_index(&r, &[VM]);
    assert_eq!(bridged(&r, "vm", sock).0, b"RFB 003.008\nhello");

    set_mode(&r.path("/etc/zones/index"), 0o664);
    refuses("/etc/zones/index is group- or other-writable (mode 0664)");
    set_mode(&r.path("/etc/zones/index"), 0o644);
    std::os::unix::fs::chown(r.path("/etc/zones/index"), Some(NOBODY), None).unwrap();
    refuses("/etc/zones/index is owned by uid 65534, not root");
    zone_index(&r, &["vm:configured:/rpool/zones/vm:"]);
    refuses("zone vm is configured");
    zone_index(&r, &[VM]);

    set_mode(&r.path("/rpool/zones/vm"), 0o755);
    refuses("zonepath /rpool/zones/vm has mode 0755, not 0700");
    set_mode(&r.path("/rpool/zones/vm"), 0o700);
    std::os::unix::fs::chown(r.path("/rpool/zones/vm"), Some(NOBODY), None).unwrap();
    refuses("zonepath /rpool/zones/vm is owned by uid 65534, not root");
    std::os::unix::fs::chown(r.path("/rpool/zones/vm"), Some(0), None).unwrap();
    set_mode(&r.path("/rpool/zones"), 0o777);
    refuses("/rpool/zones, the zonepath's parent, has mode 0777");
    set_mode(&r.path("/rpool/zones"), 0o755);
    assert_eq!(bridged(&r, "vm", sock).0, b"RFB 003.008\nhello");

    // A zonepath that is a link (zoneadm requires it to resolve to itself).
    std::os::unix::fs::symlink(r.path("/rpool/zones/vm"), r.path("/rpool/zones/lk")).unwrap();
    zone_index(
        &r,
        &["lk:installed:/rpool/zones/lk:8a1c4f6e-30f1-4a1e-9a3d-2f4c1b0e7d55"],
    );
    refused(
        &run_with(
            r.as_nobody(&["vnc-connect", "lk", "/rpool/zones/lk/root/tmp/vm.vnc"]),
            b"",
        ),
        "/rpool/zones/lk is a symbolic link",
    );
}
