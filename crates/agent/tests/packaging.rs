//! The OmniOS package: the RBAC profile grants exactly the tools the agent runs, and the SMF
//! manifest, man page and IPS manifest agree with each other.

use std::path::PathBuf;
use std::process::Command;

fn packaging() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../packaging/omnios")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(packaging().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn the_exec_profile_grants_exactly_the_tools_the_agent_runs() {
    let text = read("exec_attr.d/zoneweaver-agent");
    let mut granted: Vec<String> = Vec::new();
    let mut confined: Vec<String> = Vec::new();
    // The Ansible controller's programs run as its own account, never with euid 0.
    let run_as = zoneweaver_agent::config::Config::default()
        .provisioning
        .ansible
        .run_as;
    let as_account = format!("uid={run_as};gid={run_as}");
    for line in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let f: Vec<&str> = line.split(':').collect();
        assert_eq!(f.len(), 7, "exec_attr has 7 fields: {line}");
        assert_eq!(f[0], "Zoneweaver Agent", "{line}");
        assert_eq!((f[1], f[2]), ("solaris", "cmd"), "{line}");
        if f[6] == as_account {
            confined.push(f[5].rsplit('/').next().unwrap().to_owned());
            continue;
        }
        assert_eq!(f[6], "euid=0", "only euid=0 is granted: {line}");
        granted.push(f[5].to_owned());
    }
    confined.sort();
    // kill as the account: an unprivileged agent's cancel reaches the confined group; rm as
    // the account clears its files from a run directory.
    assert_eq!(
        confined,
        ["ansible-galaxy", "ansible-playbook", "kill", "rm"]
    );
    granted.sort();
    // pfexec matches the program's resolved path: the entries must name the files the
    // agent's paths lead to, not the links (/usr/sbin/zfs -> ../../sbin/zfs).
    // The readers that need no privilege (uname, kstat, ...) run with the agent's own ids:
    // the profile does not name them.
    let mut invoked: Vec<String> = illumos::Tool::ALL
        .iter()
        .filter(|t| t.privileged())
        .map(|t| t.resolved_path().to_owned())
        .collect();
    invoked.sort();
    assert_eq!(granted, invoked, "exec_attr.d and crates/illumos disagree");
    for link in ["dladm", "ipadm", "route", "routeadm", "zfs", "zpool"] {
        assert!(
            !granted.contains(&format!("/usr/sbin/{link}")),
            "/usr/sbin/{link} is a link: pfexec never matches it"
        );
    }
}

/// The helper's allow-list names exactly the files the agent replaces through it (their
/// default paths) and the parent of the provisioning datasets' mountpoints.
#[test]
fn the_privileged_paths_name_the_files_the_agent_replaces() {
    let text = read("privileged-paths");
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .collect();
    // By default the agent replaces the files the services name (ipfilter's
    // config/ipnat_config_file, the DHCP server's config/config_file); their defaults on
    // OmniOS are these (reference §1.11, §1.13); /etc/nodename is the persistent node name
    // (nodename(5)), written by PUT /network/hostname; a bhyve zone's several SSH keys are in
    // its zonepath (zones::sshkeys), the brand reading the file its sshkey attribute names.
    assert_eq!(
        zoneweaver_agent::zones::sshkeys::FILE_NAME,
        "cloud-init-sshkeys"
    );
    let network = zoneweaver_agent::config::Config::default().network;
    assert_eq!(network.ipnat_config_path, None);
    assert_eq!(network.dhcp_config_path, None);
    assert_eq!(
        lines,
        [
            "file /etc/ipf/ipnat.conf",
            "file /etc/dhcpd.conf",
            "file /etc/system.d/zfs-arc.conf",
            "file /etc/nodename",
            "zonepath-file /rpool/zones cloud-init-sshkeys",
            "mountpoints-under /rpool/zones",
        ]
    );
    let exec = read("exec_attr.d/zoneweaver-agent");
    assert!(exec.contains(&format!(
        "Zoneweaver Agent:solaris:cmd:RO::{}:euid=0\n",
        illumos::Tool::Install.resolved_path()
    )));
}

#[test]
fn the_profile_is_defined_and_given_to_the_service_user() {
    let prof = read("prof_attr.d/zoneweaver-agent");
    assert!(prof.starts_with("Zoneweaver Agent:"), "{prof}");
    assert_eq!(prof.trim().split(':').count(), 5, "prof_attr has 5 fields");
    let user = read("user_attr.d/zoneweaver-agent");
    assert_eq!(user.trim(), "zoneweaver::::profiles=Zoneweaver Agent");
    let smf = read("zoneweaver-agent.xml");
    assert!(smf.contains(r#"<method_credential user="zoneweaver" group="zoneweaver""#));
    assert!(!smf.contains("Primary Administrator"));
}

#[test]
fn the_smf_manifest_is_well_formed_and_starts_the_packaged_binary() {
    let path = packaging().join("zoneweaver-agent.xml");
    let smf = read("zoneweaver-agent.xml");
    for needle in [
        r#"<service name="system/zoneweaver-agent""#,
        r#"<create_default_instance enabled="false"/>"#,
        "svc:/milestone/network:default",
        "svc:/system/filesystem/local:default",
        r#"exec="/opt/zoneweaver/bin/zoneweaver-agent serve --config %{config/file}""#,
        r#"<propval name="duration" type="astring" value="child"/>"#,
    ] {
        assert!(smf.contains(needle), "manifest lacks {needle}");
    }
    let p5m = read("zoneweaver-agent.p5m");
    assert!(p5m.contains("file path=opt/zoneweaver/bin/zoneweaver-agent "));
    assert!(p5m.contains("file path=lib/svc/manifest/system/zoneweaver-agent.xml "));
    let ci = std::env::var_os("CI").is_some();
    match Command::new("xmllint").arg("--noout").arg(&path).output() {
        Ok(out) => assert!(
            out.status.success(),
            "xmllint: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) if !ci => eprintln!("note: xmllint is not installed; well-formedness not checked"),
        Err(e) => panic!("xmllint is required in CI (scripts/install-test-deps): {e}"),
    }
    if let Ok(out) = Command::new("xmllint")
        .args(["--xpath", "count(//exec_method)"])
        .arg(&path)
        .output()
    {
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2");
    }
}

#[test]
fn the_ips_manifest_delivers_what_build_proto_lays_out() {
    let p5m = read("zoneweaver-agent.p5m");
    let build = read("build-proto");
    for line in p5m.lines().filter(|l| l.starts_with("file path=")) {
        let path = line["file path=".len()..]
            .split_whitespace()
            .next()
            .unwrap();
        let base = path.rsplit('/').next().unwrap();
        assert!(build.contains(base), "build-proto does not install {path}");
    }
    assert!(p5m.contains("user username=zoneweaver"));
    // The Ansible controller's account, and the agent's membership in its group (the run
    // directory hand-over, see ARCHITECTURE.md).
    assert!(
        p5m.contains("user username=zoneweaver group=zoneweaver group-list=zoneweaver-ansible ")
    );
    assert!(p5m.contains("user username=zoneweaver-ansible group=zoneweaver-ansible home-dir=/var/lib/zoneweaver-ansible "));
    assert!(p5m.contains("dir path=var/lib/zoneweaver-ansible owner=zoneweaver-ansible group=zoneweaver-ansible mode=0700"));
    assert!(p5m.contains(
        "dir path=var/tmp/zoneweaver-ansible owner=zoneweaver group=zoneweaver-ansible mode=0710"
    ));
    assert!(p5m.contains("file path=opt/zoneweaver/share/man/man8/zoneweaver-agent.8 "));
    // The privileged helper and its allow-list, with the owners and modes the helper checks.
    assert!(p5m.contains("dir path=opt/zoneweaver/lib owner=root group=bin mode=0755"));
    assert!(p5m.contains(
        "file path=opt/zoneweaver/lib/zoneweaver-install owner=root group=bin mode=0555"
    ));
    assert!(p5m.contains(
        "file path=etc/zoneweaver-agent/privileged-paths owner=root group=sys mode=0444"
    ));
    let man = read("zoneweaver-agent.8");
    assert!(man.starts_with(".TH ZONEWEAVER-AGENT 8"));
    for sub in ["serve", "keys create", "config defaults", "openapi"] {
        assert!(man.contains(sub), "man page lacks {sub}");
    }
}
