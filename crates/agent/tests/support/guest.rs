//! A stand-in guest for the provisioning pipeline: a real sshd on 127.0.0.1 with a throwaway
//! host key, and the artifact, zone and upload helpers the pipeline tests share.

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use super::{free_port, temp_dir, TempDir, TestAgent};

/// The pipeline's stages in order, as `pipeline_tasks` and the status name them.
pub const STAGES: [&str; 7] = [
    "network",
    "extract",
    "boot",
    "setup",
    "wait_ssh",
    "sync",
    "provision",
];

const BOUNDARY: &str = "zw-test-boundary-7d1c";

pub fn multipart(file: Option<(&str, &[u8])>, sha256: Option<&str>) -> Vec<u8> {
    let mut b = Vec::new();
    if let Some(s) = sha256 {
        write!(
            b,
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"sha256\"\r\n\r\n{s}\r\n"
        )
        .unwrap();
    }
    if let Some((name, bytes)) = file {
        write!(b, "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/gzip\r\n\r\n").unwrap();
        b.extend_from_slice(bytes);
        b.extend_from_slice(b"\r\n");
    }
    write!(b, "--{BOUNDARY}--\r\n").unwrap();
    b
}

pub fn upload(agent: &TestAgent, name: &str, bytes: &[u8], sha: Option<&str>) -> super::Response {
    agent.request_bytes(
        "POST",
        "/artifacts",
        &format!("multipart/form-data; boundary={BOUNDARY}"),
        multipart(Some((name, bytes)), sha),
    )
}

/// A tar.gz of (path, contents, mode).
pub fn targz(files: &[(&str, &str, u32)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut ar = tar::Builder::new(gz);
    for (path, data, mode) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        h.set_cksum();
        ar.append_data(&mut h, path, data.as_bytes()).unwrap();
    }
    ar.into_inner().unwrap().finish().unwrap()
}

pub fn create_zone(agent: &TestAgent, name: &str, password: &str) {
    let r = agent.post(
        "/zones",
        json!({"name": name, "brand": "bhyve", "ram": "1G", "vcpus": "1",
               "boot_volume": {"create_new": true, "pool": "rpool", "dataset": "zones",
                               "volume_name": "root", "size": "10G", "sparse": true},
               "cloud_init": {"enabled": "on", "password": password}}),
    );
    assert_eq!(r.status, 202, "{:?}", r.body);
    let t = agent.wait(r.body["task_id"].as_str().unwrap());
    assert_eq!(t["status"], "completed", "{t:?}");
}

/// Starts the zone's provisioning pipeline and waits for its group task to end; returns that
/// task and `pipeline_tasks` (the stages' task ids).
pub fn run_pipeline(agent: &TestAgent, zone: &str) -> (serde_json::Value, serde_json::Value) {
    let r = agent.post(&format!("/zones/{zone}/provision"), json!({}));
    assert_eq!(r.status, 202, "{:?}", r.body);
    let group = r.body["task_id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    loop {
        let t = agent.get(&format!("/tasks/{group}")).body;
        if matches!(
            t["status"].as_str(),
            Some("completed" | "failed" | "cancelled")
        ) {
            return (t, r.body["pipeline_tasks"].clone());
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "pipeline stuck: {t}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub struct Sshd {
    child: Child,
    pub port: u16,
    pub client_key: PathBuf,
    _dir: TempDir,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn which(cmd: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/sbin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(cmd))
        .find(|p| p.is_file())
}

/// Whether a test that needs a real sshd (run as root) and rsync can run here; in CI it must.
/// `test` names it in the message; `ansible` says whether it needs ansible-playbook too.
pub fn guest_ready(test: &str, ansible: bool) -> Option<Option<PathBuf>> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let missing: Vec<&str> = ["sshd", "ssh", "ssh-keygen", "rsync"]
        .into_iter()
        .filter(|c| which(c).is_none())
        .collect();
    let playbook = if ansible { ansible_playbook() } else { None };
    if !root || !missing.is_empty() || (ansible && playbook.is_none()) {
        let why = format!(
            "root: {root}, missing: {missing:?}, ansible-playbook: {playbook:?} (run scripts/install-test-deps as root)"
        );
        assert!(!ci, "{test} cannot run in CI: {why}");
        eprintln!("skipping {test}: {why}");
        return None;
    }
    Some(playbook)
}

/// Whether the end-to-end test can run here (it needs Ansible too); in CI it must.
pub fn e2e_ready() -> Option<PathBuf> {
    guest_ready("the provisioning end-to-end test", true).flatten()
}

pub const ANSIBLE_ACCOUNT: &str = "zoneweaver-ansible";

/// The account the `ansible` provisioner's controller runs as (the agent's default
/// `provisioning.ansible.run_as`), made as the package makes it if missing (tests run as root
/// in CI): a system account with its own group and a private home (Ansible's `local`
/// connection keeps its temporary files there). Returns its uid.
pub fn ansible_account() -> u32 {
    super::system_account(ANSIBLE_ACCOUNT, "/var/lib/zoneweaver-ansible", &[]).0
}

/// ansible-playbook, also when pip put it beside a pyenv Python.
fn ansible_playbook() -> Option<PathBuf> {
    if let Some(p) = which("ansible-playbook") {
        return Some(p);
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import os,sys; print(os.path.join(os.path.dirname(os.path.realpath(sys.executable)), 'ansible-playbook'))",
        ])
        .output()
        .ok()?;
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    p.is_file().then_some(p)
}

/// A new ed25519 key pair at `path` (and `path.pub`), without a passphrase.
fn keygen(path: &Path) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(path.with_extension("pub"));
    let ok = Command::new(which("ssh-keygen").unwrap())
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

impl Sshd {
    /// Gives sshd a new host key, as if another machine now answered at its address (or the
    /// guest was reinstalled): sshd re-reads its configuration on SIGHUP. Returns once it
    /// serves the new key.
    pub fn change_host_key(&self) {
        let key = self._dir.0.join("host_key");
        keygen(&key);
        let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        let blob = public.split_whitespace().nth(1).unwrap().to_owned();
        // SAFETY: kill(2) on our own child, which is alive until this Sshd is dropped.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGHUP);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let scan = Command::new(which("ssh-keyscan").unwrap())
                .args(["-t", "ed25519", "-p", &self.port.to_string(), "127.0.0.1"])
                .stderr(Stdio::null())
                .output()
                .unwrap();
            if String::from_utf8_lossy(&scan.stdout).contains(&blob) {
                return;
            }
            assert!(Instant::now() < deadline, "sshd still serves its old key");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `path_dir`: put first on the sessions' PATH (where pip put ansible-playbook), so the
/// stand-in guest has Ansible and `ansible_local` never tries to install it.
pub fn start_sshd(path_dir: &Path) -> Sshd {
    start_sshd_at(path_dir, "127.0.0.1")
}

/// As [`start_sshd`], listening on another loopback address (`127.0.0.2`: a guest that is not
/// Ansible's `localhost`, so `delegate_to: localhost` means the controller).
pub fn start_sshd_at(path_dir: &Path, addr: &str) -> Sshd {
    let dir = temp_dir("sshd");
    let d = &dir.0;
    keygen(&d.join("host_key"));
    keygen(&d.join("client_key"));
    // The operator's key for the guest (`ssh_key_path`): the agent's user must read it.
    super::give_to_agent(&d.join("client_key"));
    std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
    // sshd wants its privilege-separation directory.
    let _ = std::fs::create_dir_all("/run/sshd");
    let port = free_port();
    std::fs::write(
        d.join("sshd_config"),
        format!(
            "Port {port}\nListenAddress {addr}\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
             PidFile {d}/sshd.pid\nStrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nSubsystem sftp internal-sftp\n\
             SetEnv PATH={p}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
            d = d.display(),
            p = path_dir.display()
        ),
    )
    .unwrap();
    let child = Command::new(which("sshd").unwrap())
        .args(["-D", "-e", "-f"])
        .arg(d.join("sshd_config"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(d.join("sshd.log")).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect((addr, port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "sshd did not listen: {}",
            std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Sshd {
        child,
        port,
        client_key: d.join("client_key"),
        _dir: dir,
    }
}

/// Installs an executable shell script `dir/name`. `install`, a child process, writes it: a
/// file this process opened for writing could be held open by a child another test thread forks
/// meanwhile, and running it would fail with ETXTBSY.
pub fn stand_in_tool(dir: &Path, name: &str, body: &str) -> PathBuf {
    let source = dir.join(format!("{name}.source"));
    std::fs::write(&source, format!("#!/bin/sh\n{body}\n")).unwrap();
    let tool = dir.join(name);
    let ok = Command::new("install")
        .args(["-m", "755"])
        .arg(&source)
        .arg(&tool)
        .status()
        .unwrap()
        .success();
    assert!(ok, "install {}", tool.display());
    tool
}
