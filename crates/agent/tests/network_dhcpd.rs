//! End to end with real ISC dhcpd: the agent's generated dhcpd.conf passes `dhcpd -t`, and in
//! network namespaces this test creates (a server side holding the host VNIC's address, a
//! client side, joined by a veth pair) the real dhcpd serving the agent's file gives a real
//! DHCP client the reserved address for its MAC and a pool address for an unknown MAC.
//!
//! Needs root, `ip`, `dhcpd` and `dhclient` (scripts/install-test-deps). CI runs as root and
//! must run it: there a missing prerequisite fails the test; elsewhere it is skipped with a note.
//! Only traffic inside the namespaces it creates; they are removed even when the test fails.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use super::{completed, file};
use crate::support::TestAgent;

const DHCPD: &str = "/usr/sbin/dhcpd";
const DHCLIENT: &str = "/usr/sbin/dhclient";

fn which(p: &str) -> bool {
    Path::new(p).is_file()
}

/// Whether the prerequisites are there; in CI their absence is a failure.
fn prerequisites() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let missing: Vec<&str> = [
        (!root).then_some("root"),
        (!which(DHCPD)).then_some(DHCPD),
        (!which(DHCLIENT)).then_some(DHCLIENT),
        Command::new("ip")
            .arg("-V")
            .output()
            .is_err()
            .then_some("ip (iproute2)"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "the dhcpd end-to-end test needs {} (run scripts/install-test-deps as root)",
        missing.join(", ")
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg}");
    }
    eprintln!("note: skipping: {msg}");
    false
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two namespaces joined by a veth pair, and a dhcpd in the first; all gone on drop.
struct Lab {
    server: String,
    client: String,
    server_if: String,
    client_if: String,
    dir: PathBuf,
    dhcpd: Option<Child>,
}

impl Lab {
    fn new(dir: &Path) -> Lab {
        static N: AtomicUsize = AtomicUsize::new(0);
        let id = format!(
            "{}{}",
            std::process::id() % 100_000,
            N.fetch_add(1, Ordering::SeqCst)
        );
        let lab = Lab {
            server: format!("zwsrv{id}"),
            client: format!("zwcli{id}"),
            server_if: format!("zws{id}"),
            client_if: format!("zwc{id}"),
            dir: dir.to_path_buf(),
            dhcpd: None,
        };
        ip(&["netns", "add", &lab.server]);
        ip(&["netns", "add", &lab.client]);
        ip(&[
            "link",
            "add",
            &lab.server_if,
            "type",
            "veth",
            "peer",
            "name",
            &lab.client_if,
        ]);
        ip(&["link", "set", &lab.server_if, "netns", &lab.server]);
        ip(&["link", "set", &lab.client_if, "netns", &lab.client]);
        for (ns, dev) in [(&lab.server, &lab.server_if), (&lab.client, &lab.client_if)] {
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        lab
    }

    fn serve(&mut self, addr: &str, conf: &Path) {
        ip(&[
            "-n",
            &self.server,
            "addr",
            "add",
            addr,
            "dev",
            &self.server_if,
        ]);
        let leases = self.dir.join("dhcpd.leases");
        std::fs::write(&leases, "").unwrap();
        let log = std::fs::File::create(self.dir.join("dhcpd.log")).unwrap();
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.server,
                DHCPD,
                "-4",
                "-f",
                "-d",
                "-cf",
            ])
            .arg(conf)
            .arg("-lf")
            .arg(&leases)
            .arg("-pf")
            .arg(self.dir.join("dhcpd.pid"))
            .arg(&self.server_if)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.dhcpd = Some(child);
    }

    /// Runs dhclient once with `mac` on the client side; returns the address it was offered
    /// and acknowledged.
    fn lease_for(&self, mac: &str, n: usize) -> Ipv4Addr {
        ip(&[
            "-n",
            &self.client,
            "link",
            "set",
            &self.client_if,
            "address",
            mac,
        ]);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &self.client,
                    "timeout",
                    "20",
                    DHCLIENT,
                    "-4",
                    "-1",
                    "-v",
                    "-sf",
                    "/bin/true",
                ])
                .arg("-lf")
                .arg(self.dir.join(format!("dhclient{n}.leases")))
                .arg("-pf")
                .arg(self.dir.join(format!("dhclient{n}.pid")))
                .arg(&self.client_if)
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            // "DHCPACK of 10.190.190.77 from 10.190.190.1"
            // Without -d, dhclient goes to the background once bound: stop it.
            kill_pidfile(&self.dir.join(format!("dhclient{n}.pid")));
            if let Some(addr) = text
                .lines()
                .find_map(|l| l.split("DHCPACK of ").nth(1))
                .and_then(|r| r.split_whitespace().next())
                .and_then(|a| a.parse().ok())
            {
                return addr;
            }
            assert!(
                Instant::now() < deadline,
                "no lease for {mac}: {text}\ndhcpd: {}",
                std::fs::read_to_string(self.dir.join("dhcpd.log")).unwrap_or_default()
            );
        }
    }
}

fn kill_pidfile(p: &Path) {
    if let Ok(pid) = std::fs::read_to_string(p) {
        let _ = Command::new("kill")
            .arg(pid.trim())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_file(p);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut c) = self.dhcpd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for f in ["dhcpd.pid", "dhclient1.pid", "dhclient2.pid"] {
            kill_pidfile(&self.dir.join(f));
        }
        for ns in [&self.client, &self.server] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

#[test]
fn real_dhcpd_serves_the_agents_configuration() {
    if !prerequisites() {
        return;
    }
    let a = TestAgent::start_with(&format!("network:\n  dhcpd_path: {DHCPD}\n"));
    completed(&a, a.post("/provisioning/network/setup", json!({})));
    let t = completed(
        &a,
        a.post(
            "/network/dhcp/hosts",
            json!({"hostname": "web-01", "mac": "02:08:20:aa:bb:01", "ip": "10.190.190.77"}),
        ),
    );
    // The agent ran dhcpd -t on the new file before swapping it in.
    let out = a
        .get(&format!("/tasks/{}/output", t["id"].as_str().unwrap()))
        .body;
    assert!(
        out["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["line"] == "dhcpd -t: configuration OK"),
        "{out}"
    );
    // (a) dhcpd -t on the generated file, directly.
    let conf = a.host_path("root/etc/dhcpd.conf");
    let check = Command::new(DHCPD)
        .args(["-t", "-4", "-cf"])
        .arg(&conf)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "dhcpd -t: {}\n{}",
        String::from_utf8_lossy(&check.stderr),
        file(&a, "/etc/dhcpd.conf").unwrap_or_default()
    );

    // (b) served for real, from the host VNIC's address.
    let host_ip = a.get("/provisioning/network/status").body["components"]["host_vnic"]["ip"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(host_ip, "10.190.190.1/24");
    let mut lab = Lab::new(&a.dir.0);
    lab.serve(&host_ip, &conf);
    assert_eq!(
        lab.lease_for("02:08:20:aa:bb:01", 1),
        "10.190.190.77".parse::<Ipv4Addr>().unwrap()
    );
    let pool = lab.lease_for("02:08:20:aa:bb:99", 2);
    let o = pool.octets();
    assert!(
        o[..3] == [10, 190, 190] && (10..=254).contains(&o[3]) && o[3] != 77,
        "{pool}"
    );
}
