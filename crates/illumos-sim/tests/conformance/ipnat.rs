use crate::util::Host;

const CONF: &str = "map igb0 10.10.0.0/24 -> 0/32 portmap tcp/udp auto
map igb0 10.10.0.0/24 -> 0/32
rdr igb0 192.168.1.10/32 port 8080 -> 10.10.0.5 port 80 tcp
";

#[test]
fn reload_idiom_and_listing_format() {
    let h = Host::new();
    assert_eq!(
        h.run("ipnat", &["-l"]).fails(1),
        "/dev/ipnat: open: No such device or address\n"
    );
    h.run("svcadm", &["enable", "ipfilter"]).ok();
    assert_eq!(
        h.run("ipnat", &["-l"]).ok(),
        "List of active MAP/Redirect filters:\n\nList of active sessions:\n"
    );
    h.write("/etc/ipf/ipnat.conf", CONF);
    assert_eq!(
        h.run("ipnat", &["-CF", "-f", "/etc/ipf/ipnat.conf"]).ok(),
        "0 entries flushed from NAT table\n0 entries flushed from NAT list\n"
    );
    assert_eq!(
        h.run("ipnat", &["-l"]).ok(),
        "List of active MAP/Redirect filters:\nmap igb0 10.10.0.0/24 -> 0.0.0.0/32 portmap tcp/udp auto\nmap igb0 10.10.0.0/24 -> 0.0.0.0/32\nrdr igb0 192.168.1.10/32 port 8080 -> 10.10.0.5 port 80 tcp\n\nList of active sessions:\n"
    );
    assert_eq!(
        h.run("ipnat", &["-CF", "-f", "/etc/ipf/ipnat.conf"]).ok(),
        "0 entries flushed from NAT table\n3 entries flushed from NAT list\n"
    );
}

#[test]
fn check_only_touches_nothing_and_errors_name_the_line() {
    let h = Host::new();
    h.write(
        "/etc/ipf/ipnat.conf.tmp",
        "map igb0 10.10.0.0/24 -> 0/32\nrdr igb0 1.2.3.4/32 port 80 -> 10.10.0.5 tcp\n",
    );
    let err = h
        .run("ipnat", &["-n", "-f", "/etc/ipf/ipnat.conf.tmp"])
        .fails(1);
    assert!(err.starts_with("ipnat: syntax error on line 2:"), "{err}");
    h.write("/etc/ipf/ipnat.conf.tmp", CONF);
    let before = h.dump();
    h.run("ipnat", &["-n", "-f", "/etc/ipf/ipnat.conf.tmp"])
        .ok();
    assert_eq!(before, h.dump());
}
