//! `zw artifacts`, `zw recipes`, `zw provision` against the provisioning endpoints.

use sha2::{Digest, Sha256};

use crate::support::{TestAgent, Zw};

/// A one-file ustar archive, made here so the test needs no `tar`.
fn tiny_tar(name: &str, content: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{:011o}\0", content.len()).as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| *b as u32).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(content);
    out.resize(512 + content.len().div_ceil(512) * 512 + 1024, 0);
    out
}

#[test]
fn artifacts_upload_with_checksum_and_refusal() {
    let agent = TestAgent::start();
    let zw = Zw::new();
    zw.login(&agent);
    let tar = tiny_tar("scripts/setup.sh", b"echo hello\n");
    let file = zw.home.0.join("prov.tar");
    std::fs::write(&file, &tar).unwrap();
    let sha: String = Sha256::digest(&tar)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();

    let r = zw
        .run(&["--json", "artifacts", "upload", file.to_str().unwrap()])
        .ok();
    let art = r.json();
    assert_eq!(art["sha256"], sha.as_str());
    assert_eq!(art["size"], tar.len());
    assert_eq!(art["filename"], "prov.tar");
    let id = art["id"].as_str().unwrap();
    let list = zw.run(&["artifacts", "list"]).ok();
    assert!(
        list.stdout.contains(id) && list.stdout.contains("prov.tar"),
        "{list:#?}"
    );
    let r = zw.run(&["--json", "artifacts", "show", id]).ok();
    assert_eq!(
        r.stdout.trim_end(),
        agent.get_text(&format!("/artifacts/{id}")).1
    );

    let bad = zw.home.0.join("notes.txt");
    std::fs::write(&bad, "not an archive").unwrap();
    let r = zw.run(&["artifacts", "upload", bad.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("(field: file)"), "{r:#?}");
    zw.run(&["artifacts", "delete", id]).ok();
}

#[test]
fn recipes_and_provision_status() {
    let agent = TestAgent::start();
    let zw = Zw::new();
    zw.login(&agent);
    let recipes = zw.run(&["recipes", "list"]).ok();
    assert!(recipes.stdout.contains("debian-netplan"), "{recipes:#?}");
    let r = zw.run(&["recipes", "show", "omnios-dladm"]).ok();
    assert!(r.stdout.contains("illumos"), "{r:#?}");

    zw.run(&[
        "zones", "create", "--name", "p1", "--brand", "bhyve", "--wait",
    ])
    .ok();
    let r = zw.run(&["provision", "status", "p1"]).ok();
    assert!(r.stdout.contains("not_provisioned"), "{r:#?}");
    let r = zw.run(&["provision", "nosuch"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("HTTP 404"), "{r:#?}");
}
