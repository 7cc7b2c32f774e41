use crate::util::Host;

#[test]
fn routeadm_parsable_output_and_updates() {
    let h = Host::new();
    let p = h.run("routeadm", &["-p"]).ok();
    assert!(
        p.starts_with("ipv4-routing persistent=disabled default=disabled current=disabled\n"),
        "{p}"
    );
    assert!(p.contains("\nipv4-forwarding persistent=disabled default=disabled current=disabled\n"));
    assert!(p.ends_with("routing-svcs persistent=\"route:default ripng:default\" default=\"route:default ripng:default\" \n"));
    h.run("routeadm", &["-e", "ipv4-forwarding"]).ok();
    assert_eq!(
        h.run("routeadm", &["-p", "ipv4-forwarding"]).ok(),
        "persistent=enabled default=disabled current=disabled\n"
    );
    h.run("routeadm", &["-u"]).ok();
    assert_eq!(
        h.run("routeadm", &["-p", "ipv4-forwarding"]).ok(),
        "persistent=enabled default=disabled current=enabled\n"
    );
    assert_eq!(
        h.run("svcs", &["-H", "-o", "state", "ipv4-forwarding"])
            .ok(),
        "online\n"
    );
    h.run("routeadm", &["-u", "-d", "ipv4-forwarding"]).ok();
    assert_eq!(
        h.run("routeadm", &["-p", "ipv4-forwarding"]).ok(),
        "persistent=disabled default=disabled current=disabled\n"
    );
    let bin = h.bin("routeadm");
    let err = h.run("routeadm", &["-p", "-e", "ipv4-forwarding"]).fails(1);
    assert!(
        err.starts_with(&format!(
            "{}: the -p option cannot be used with any of -demrsu\n",
            bin.display()
        )),
        "{err}"
    );
    assert!(h
        .run("routeadm", &["-e", "nope"])
        .fails(1)
        .contains("no such option/variable nope"));
}

#[test]
fn route_get_default_and_esrch_when_absent() {
    let h = Host::new();
    let out = h.run("route", &["-n", "get", "default"]).ok();
    assert!(
        out.contains("    gateway: 192.168.1.1\n  interface: igb0\n"),
        "{out}"
    );
    assert!(out.contains("destination: default\n"));
    h.run("route", &["delete", "default", "192.168.1.1"]).ok();
    assert_eq!(h.run("route", &["-n", "get", "default"]).code, 3);
    h.run("route", &["-p", "add", "default", "192.168.1.254"])
        .ok();
    assert!(h
        .run("route", &["-n", "get", "default"])
        .ok()
        .contains("gateway: 192.168.1.254"));
}
