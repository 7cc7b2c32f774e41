//! The multi-step operations the crash and fault sweeps run, each with the host it starts from.

use std::path::Path;

use serde_json::json;

use super::guest::{create_zone, targz, upload, Sshd};
use super::sweep::{completed, setup, Op, Pipeline};
use super::{host, TestAgent};

/// A bhyve zone with a boot volume, a NIC, a cdrom and cloud-init.
pub fn zone_create() -> Op {
    Op {
        name: "zone create",
        setup: setup(|a| {
            std::fs::create_dir_all(a.host.join("root/iso")).unwrap();
            std::fs::write(a.host.join("root/iso/install.iso"), b"iso").unwrap();
        }),
        method: "POST",
        path: "/zones",
        body: Some(json!({
            "name": "crash1", "brand": "bhyve", "ram": "2G",
            "boot_volume": {"size": "10G", "sparse": true},
            "nics": [{"physical": "crash1net0", "global_nic": "igb0"}],
            "cdroms": [{"path": "/iso/install.iso"}],
            "cloud_init": {"enabled": "on", "password": "s3cret", "sshkey": "ssh-ed25519 AAAAC3Nz u@h"}
        })),
    }
}

fn template(a: &TestAgent) {
    host(a, "zfs", &["create", "-p", "rpool/templates"]);
    host(a, "zfs", &["create", "-V", "1G", "rpool/templates/base"]);
    host(a, "zfs", &["snapshot", "rpool/templates/base@v1"]);
}

/// A zone from a template dataset, by `clone` or `copy`.
pub fn zone_from_template(strategy: &'static str) -> Op {
    Op {
        name: if strategy == "clone" {
            "zone create (template clone)"
        } else {
            "zone create (template copy)"
        },
        setup: setup(template),
        method: "POST",
        path: "/zones",
        body: Some(json!({"name": "tpl", "brand": "bhyve",
            "source": {"type": "template", "template_dataset": "rpool/templates/base", "clone_strategy": strategy}})),
    }
}

/// New RAM and two new disks for an installed zone.
pub fn zone_modify() -> Op {
    Op {
        name: "zone modify",
        setup: setup(|a| {
            completed(
                a,
                "POST",
                "/zones",
                Some(json!({"name": "mod1", "brand": "bhyve"})),
            )
        }),
        method: "PUT",
        path: "/zones/mod1",
        body: Some(json!({"ram": "4G", "add_disks": [
            {"create_new": true, "volume_name": "data", "size": "1G"},
            {"create_new": true, "volume_name": "logs", "size": "1G"}]})),
    }
}

/// Booting an installed zone with a NIC.
pub fn zone_start() -> Op {
    Op {
        name: "zone start",
        setup: setup(|a| {
            completed(
                a,
                "POST",
                "/zones",
                Some(
                    json!({"name": "boot1", "brand": "bhyve", "boot_volume": {"size": "1G"},
                            "nics": [{"physical": "boot1net0", "global_nic": "igb0"}]}),
                ),
            )
        }),
        method: "POST",
        path: "/zones/boot1/start",
        body: Some(json!({})),
    }
}

/// Deleting a running zone with its datasets.
pub fn zone_delete() -> Op {
    Op {
        name: "zone delete",
        setup: setup(|a| {
            let r = a.post(
                "/zones",
                json!({"name": "del1", "brand": "bhyve", "boot_volume": {"size": "1G"},
                       "nics": [{"physical": "del1net0", "global_nic": "igb0"}], "start_after_create": true}),
            );
            assert_eq!(
                a.wait(r.body["start_task_id"].as_str().unwrap())["status"],
                "completed"
            );
        }),
        method: "DELETE",
        path: "/zones/del1?cleanup_datasets=true",
        body: None,
    }
}

const IPNAT: &str = "root/etc/ipf/ipnat.conf";
const DHCPD: &str = "root/etc/dhcpd.conf";

fn site_nat_rules(a: &TestAgent) {
    std::fs::write(
        a.host.join(IPNAT),
        "# site rules, kept\nmap-block igb0 10.9.0.0/24 -> 0/32\n",
    )
    .unwrap();
}

fn nat_add(name: &'static str, prepare: fn(&TestAgent)) -> Op {
    Op {
        name,
        setup: setup(prepare),
        method: "POST",
        path: "/network/nat/rules",
        body: Some(json!({"bridge": "igb0", "subnet": "10.190.190.0/24"})),
    }
}

/// A portmap rule (and its companion map) while ipfilter is off: the agent enables it.
pub fn nat_add_ipfilter_off() -> Op {
    nat_add("NAT rule add (ipfilter off)", site_nat_rules)
}

/// The same while ipfilter runs: the agent reloads the rules.
pub fn nat_add_ipfilter_on() -> Op {
    nat_add("NAT rule add (ipfilter on)", |a| {
        site_nat_rules(a);
        host(
            a,
            "svcadm",
            &["enable", "-s", "svc:/network/ipfilter:default"],
        );
    })
}

/// dhcpd.conf with a subnet on igb0 and the server running, as a site has it.
fn dhcp_running(a: &TestAgent) {
    std::fs::write(
        a.host.join(DHCPD),
        "# global options, kept\noption domain-name \"example.org\";\nsubnet 192.168.1.0 netmask 255.255.255.0 {\n  range 192.168.1.100 192.168.1.200;\n}\n",
    )
    .unwrap();
    completed(
        a,
        "PUT",
        "/network/dhcp/status",
        Some(json!({"action": "start"})),
    );
}

/// A host reservation while the server runs (it is restarted to read it).
pub fn dhcp_host_add() -> Op {
    Op {
        name: "DHCP host add",
        setup: setup(dhcp_running),
        method: "POST",
        path: "/network/dhcp/hosts",
        body: Some(json!({"hostname": "web-01", "mac": "02:08:20:ab:cd:01", "ip": "192.168.1.50"})),
    }
}

/// A subnet update that also pins the listen interface, while the server runs.
pub fn dhcp_config_update() -> Op {
    Op {
        name: "DHCP config update",
        setup: setup(dhcp_running),
        method: "PUT",
        path: "/network/dhcp/config",
        body: Some(json!({"subnet": "192.168.1.0", "netmask": "255.255.255.0",
            "router": "192.168.1.1", "range_start": "192.168.1.50", "range_end": "192.168.1.60",
            "dns": "8.8.8.8", "listen_interface": "igb0"})),
    }
}

/// The provisioning network from nothing, beside the site's own NAT rules.
pub fn provisioning_setup() -> Op {
    Op {
        name: "provisioning network setup",
        setup: setup(site_nat_rules),
        method: "POST",
        path: "/provisioning/network/setup",
        // No body: the handler reads none, and a body it leaves unread makes the server close
        // the connection after answering, which the next request on it may find dead.
        body: None,
    }
}

/// Removing a provisioning network that has a host reservation in it.
pub fn provisioning_teardown() -> Op {
    Op {
        name: "provisioning network teardown",
        setup: setup(|a| {
            site_nat_rules(a);
            completed(a, "POST", "/provisioning/network/setup", None);
            completed(
                a,
                "POST",
                "/network/dhcp/hosts",
                Some(
                    json!({"hostname": "vm-01", "mac": "02:08:20:ab:cd:02", "ip": "10.190.190.20"}),
                ),
            );
        }),
        method: "DELETE",
        path: "/provisioning/network/teardown",
        body: None,
    }
}

/// The provisioning pipeline, small but with every stage doing its work: a NIC and a DHCP
/// reservation, an artifact extracted into the provisioning dataset, a boot, a console recipe,
/// SSH to `sshd` (the stand-in guest, on 127.0.0.1), one folder synced and one shell
/// provisioner (into a directory of `guest` of each point's own: hang points run side by
/// side), snapshots, and the provisioning NIC removed at the end. The provisioning network is
/// set up beforehand (its own sweep covers it).
pub fn provisioning_pipeline(sshd: &Sshd, guest: &Path) -> Pipeline {
    let (port, key, guest) = (
        sshd.port,
        sshd.client_key.display().to_string(),
        guest.to_path_buf(),
    );
    Pipeline {
        op: Op {
            name: "provisioning pipeline",
            setup: setup(move |a| {
                completed(a, "POST", "/provisioning/network/setup", None);
                create_zone(a, "pz1", "pz-console-pw");
                let artifact = targz(&[
                    ("files/hello.txt", "hello from the artifact\n", 0o644),
                    ("files/etc/motd", "provisioned by zoneweaver\n", 0o644),
                ]);
                let r = upload(a, "site.tgz", &artifact, None);
                assert_eq!(r.status, 201, "{:?}", r.body);
                let artifact = r.body["id"].as_str().unwrap().to_owned();
                // A short session limit, as a hung zlogin costs the hang sweep this long; a
                // console run on a loaded machine still keeps well within it.
                let r = a.post(
                    "/provisioning/recipes",
                    json!({"name": "sweep", "os_family": "linux", "timeout_seconds": 20,
                           "steps": [{"type": "command", "command": "ifconfig eth0 {{ip}}/24 up"},
                                     {"type": "template", "path": "/etc/resolv.conf",
                                      "content": "nameserver {{dns}}\n"}]}),
                );
                assert_eq!(r.status, 201, "{:?}", r.body);
                let recipe = r.body["id"].as_str().unwrap().to_owned();
                let dest = guest.join(a.dir.0.file_name().unwrap());
                let d = dest.display();
                let r = a.request(
                    "PUT",
                    "/zones/pz1",
                    Some(&a.key),
                    Some(&json!({"provisioning": {
                        "recipe_id": recipe, "mode": "shell", "artifact_id": artifact,
                        "credentials": {"username": "root", "password": "pz-console-pw",
                                        "ssh_key_path": key},
                        "sync_folders": [{"source": "provisioning_dataset/files",
                                          "dest": format!("{d}/synced")}],
                        "provisioners": [{"type": "shell",
                            "inline": format!("cat {d}/synced/hello.txt > {d}/marker")}],
                        "variables": {"ip": "127.0.0.1", "dns": "192.0.2.53"},
                        "ssh_port": port,
                        "remove_provisioning_nic": true}})),
                );
                assert_eq!(r.status, 200, "{:?}", r.body);
            }),
            method: "POST",
            path: "/zones/pz1/provision",
            body: Some(json!({})),
        },
        config:
            "provisioning:\n  ssh:\n    wait_timeout_seconds: 20\n    wait_interval_seconds: 1\n",
        status: "/zones/pz1/provision/status",
        stages: &super::guest::STAGES,
        trees: &["rpool", "zones"],
    }
}
