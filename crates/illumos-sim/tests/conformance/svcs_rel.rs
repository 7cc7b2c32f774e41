//! svcs -p, -d, -D and the relations svcs -l shows (reference §1.8's synopses).

use crate::util::Host;

#[test]
fn processes_follow_their_instance_line_while_it_is_online() {
    let h = Host::new();
    let out = h
        .run(
            "svcs",
            &["-H", "-p", "-o", "state,fmri", "svc:/network/ssh:default"],
        )
        .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("online         svc:/network/ssh:default"));
    // Indented past the STATE column: STIME, PID right-justified to 6, the command.
    let cols: Vec<&str> = lines[1].split_whitespace().collect();
    assert!(lines[1].starts_with("               "), "{out}");
    assert_eq!(cols.len(), 3);
    assert!(cols[1].parse::<u32>().is_ok());
    assert_eq!(cols[2], "sshd");
    // A disabled instance has no processes.
    let ntp = h
        .run(
            "svcs",
            &["-H", "-p", "-o", "fmri", "svc:/network/ntp:default"],
        )
        .ok();
    assert_eq!(ntp, "svc:/network/ntp:default\n");
}

#[test]
fn dependencies_and_dependents_are_the_two_directions_of_one_relation() {
    let h = Host::new();
    let deps = h
        .run(
            "svcs",
            &["-H", "-o", "fmri", "-d", "svc:/network/ssh:default"],
        )
        .ok();
    for d in [
        "svc:/network/loopback:default",
        "svc:/system/filesystem/local:default",
        "svc:/milestone/network:default",
    ] {
        assert!(deps.contains(d), "{deps}");
    }
    let dependents = h
        .run(
            "svcs",
            &["-H", "-o", "fmri", "-D", "svc:/network/loopback:default"],
        )
        .ok();
    assert!(
        dependents.contains("svc:/network/ssh:default"),
        "{dependents}"
    );
    let l = h.run("svcs", &["-l", "svc:/network/ssh:default"]).ok();
    assert!(
        l.contains("\ndependency   require_all/none svc:/network/loopback (online)\n"),
        "{l}"
    );
    assert!(l.contains("\ncontract_id  "), "{l}");
}

#[test]
fn svcprop_without_p_prints_every_property_with_its_type() {
    let h = Host::new();
    let out = h.run("svcprop", &["svc:/network/ssh:default"]).ok();
    assert!(out.lines().any(|l| l == "config/port count 22"), "{out}");
    assert!(
        out.lines().any(|l| l == "restarter/state astring online"),
        "{out}"
    );
}
