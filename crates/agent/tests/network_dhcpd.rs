//! End to end with real ISC dhcpd: the agent's generated dhcpd.conf passes `dhcpd -t`, and in
//! network namespaces this test creates (a server side holding the host VNIC's address, a
//! client side, joined by a veth pair) the real dhcpd serving the agent's file gives a real
//! DHCP client the reserved address for its MAC and a pool address for an unknown MAC.
//!
//! dhcpd is started the way OmniOS's method does (reference §1.11): its configuration file,
//! leases file and interfaces are the emulated service's `config/config_file`,
//! `config/lease_file` and `config/listen_ifnames`, read with the emulated `svcprop`. So the
//! host VNIC gets a name short enough for a Linux interface, and the server side of the veth
//! pair carries it.
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
use crate::support::{dump, host, TestAgent};

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

/// A per-test number for names that must be unique on the machine.
fn unique_id() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}{}",
        std::process::id() % 100_000,
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// What the service's start method reads, as the emulated `svcprop` prints it.
struct Method {
    config_file: String,
    lease_file: String,
    listen_ifnames: Vec<String>,
}

fn method(a: &TestAgent) -> Method {
    let prop = |name: &str| {
        host(
            a,
            "svcprop",
            &["-p", name, "svc:/network/service/dhcp:ipv4"],
        )
        .trim_end()
        .to_owned()
    };
    Method {
        config_file: prop("config/config_file"),
        lease_file: prop("config/lease_file"),
        listen_ifnames: prop("config/listen_ifnames")
            .split(' ')
            .filter(|v| !v.is_empty() && *v != "\"\"")
            .map(str::to_owned)
            .collect(),
    }
}

impl Lab {
    /// `server_if`: the interface dhcpd listens on (the emulated host VNIC's name).
    fn new(dir: &Path, id: &str, server_if: &str) -> Lab {
        let lab = Lab {
            server: format!("zwsrv{id}"),
            client: format!("zwcli{id}"),
            server_if: server_if.to_owned(),
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

    /// Starts dhcpd as the method does: `-cf CONFIG -lf LEASES IFNAMES...`.
    fn serve(&mut self, addr: &str, conf: &Path, leases: &Path, ifnames: &[String]) {
        ip(&[
            "-n",
            &self.server,
            "addr",
            "add",
            addr,
            "dev",
            &self.server_if,
        ]);
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
            .arg(leases)
            .arg("-pf")
            .arg(self.dir.join("dhcpd.pid"))
            .args(ifnames)
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
    // dhcpd_path is the default, OmniOS's /usr/sbin/dhcpd.
    let id = unique_id();
    let vnic = format!("zws{id}");
    let a = TestAgent::start_with(&format!(
        "provisioning:\n  network:\n    host_vnic_name: {vnic}\n"
    ));
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
    // The service's method would start dhcpd with these; the emulated daemon, restarted by
    // the agent after the reservation, loaded exactly the file there is now.
    let m = method(&a);
    assert_eq!(m.config_file, "/etc/dhcpd.conf");
    assert_eq!(m.lease_file, "/var/db/dhcpd.leases");
    assert_eq!(m.listen_ifnames, std::slice::from_ref(&vnic));
    let conf = a.host_path(&format!("root{}", m.config_file));
    let leases = a.host_path(&format!("root{}", m.lease_file));
    assert_eq!(
        dump(&a)["dhcpd"]["svc:/network/service/dhcp:ipv4"]["config"],
        std::fs::read_to_string(&conf).unwrap()
    );
    // (a) dhcpd -t on the generated file, directly.
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
    let mut lab = Lab::new(&a.dir.0, &id, &vnic);
    lab.serve(&host_ip, &conf, &leases, &m.listen_ifnames);
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
    // The lease the real dhcpd wrote to the service's lease file (a pool lease: dhcpd keeps
    // no lease record for a fixed address) is what the agent shows.
    let leases = a.eventually(
        "the pool lease in GET /network/dhcp/leases",
        || a.get("/network/dhcp/leases").body,
        |b| {
            b["leases"].as_array().is_some_and(|l| {
                l.iter()
                    .any(|x| x["ip"] == pool.to_string() && x["mac"] == "02:08:20:aa:bb:99")
            })
        },
    );
    assert_eq!(leases["leases_path"], "/var/db/dhcpd.leases");
}
