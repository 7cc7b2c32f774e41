use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use crate::util::Host;

fn running_zone(h: &Host) {
    h.bhyve_zone("vm1", "");
    h.run("zoneadm", &["-z", "vm1", "install"]).ok();
    h.run("zoneadm", &["-z", "vm1", "boot"]).ok();
}

#[test]
fn commands_run_in_the_guest_and_return_their_status() {
    let h = Host::new();
    assert_eq!(
        h.run("zlogin", &["nope", "true"]).fails(1),
        "zlogin: zone 'nope' unknown\n"
    );
    h.bhyve_zone("vm1", "");
    assert_eq!(
        h.run("zlogin", &["vm1", "true"]).fails(1),
        "zlogin: cannot login to a zone which is 'configured'\n"
    );
    h.run("zoneadm", &["-z", "vm1", "install"]).ok();
    assert_eq!(
        h.run("zlogin", &["vm1", "true"]).fails(1),
        "zlogin: login allowed only to running zones (vm1 is 'installed').\n"
    );
    h.run("zoneadm", &["-z", "vm1", "boot"]).ok();
    assert_eq!(h.run("zlogin", &["vm1", "hostname"]).ok(), "vm1\n");
    assert_eq!(h.run("zlogin", &["vm1", "false"]).code, 1);
    h.run("zlogin", &["vm1", "echo", "hello", ">", "/etc/motd"])
        .ok();
    assert_eq!(
        h.run("zlogin", &["vm1", "cat", "/etc/motd"]).ok(),
        "hello\n"
    );
    assert_eq!(h.run("zlogin", &["vm1", "test", "-f", "/etc/nope"]).code, 1);
    assert_eq!(h.run("zlogin", &["vm1", "exit 7"]).code, 7);
    assert_eq!(
        h.run("zlogin", &["-C", "vm1", "ls"]).fails(1),
        "zlogin: Commands may not be specified for console login.\n"
    );
}

#[test]
fn console_logs_in_runs_commands_and_records_a_transcript() {
    let h = Host::new();
    running_zone(&h);
    let out = h.run_in(
        "zlogin",
        &["-C", "vm1"],
        b"\rroot\rsecret\recho hi\rprintf 'x=%s\\n' 1 > /root/f\rcat /root/f\rfalse\recho $?\r~.",
    );
    let text = out.ok();
    assert!(
        text.starts_with("[Connected to zone 'vm1' console]\r\n"),
        "{text}"
    );
    assert!(text.contains("vm1 login: "));
    assert!(text.contains("Password: "));
    assert!(!text.contains("secret"), "password must not echo");
    assert!(text.contains("root@vm1:~# echo hi\r\nhi\r\n"), "{text}");
    assert!(text.contains("cat /root/f\r\nx=1\r\n"));
    assert!(text.contains("echo $?\r\n1\r\n"));
    assert!(
        text.ends_with("[Connection to zone 'vm1' console closed]\r\n"),
        "{text}"
    );
    let st = h.state_json();
    let transcript = st["zones"]["vm1"]["guest"]["transcript"].as_str().unwrap();
    assert!(
        transcript.contains("root@vm1:~# echo hi\nhi\n"),
        "{transcript}"
    );
    assert_eq!(h.run("zlogin", &["vm1", "cat", "/root/f"]).ok(), "x=1\n");
}

#[test]
fn console_attached_before_boot_sees_the_banner() {
    let h = Host::new();
    h.bhyve_zone("vm1", "");
    h.run("zoneadm", &["-z", "vm1", "install"]).ok();
    let mut child = h
        .cmd("zlogin", &["-C", "vm1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    h.run("zoneadm", &["-z", "vm1", "boot"]).ok();
    std::thread::sleep(Duration::from_millis(500));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"~.").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Linux version"), "{text}");
    assert!(text.contains("vm1 login: "), "{text}");
}
