//! `zw net ...` against the agent's `/network` endpoints (generic FIELD=VALUE bodies).

use crate::support::{TestAgent, Zw};

#[test]
fn etherstubs_and_vnics_round_trip() {
    let agent = TestAgent::start();
    let zw = Zw::new();
    zw.login(&agent);
    let r = zw
        .run(&["net", "etherstubs", "create", "name=estub0", "--wait"])
        .ok();
    assert!(r.stdout.contains("completed"), "{r:#?}");
    zw.run(&[
        "net",
        "vnics",
        "create",
        "name=vnic0",
        "link=estub0",
        "--wait",
    ])
    .ok();

    let list = zw.run(&["net", "etherstubs", "list"]).ok();
    assert_eq!(
        list.stdout,
        "NAME    LINK    STATE    CLASS      VNICS\nestub0  estub0  unknown  etherstub  vnic0\n"
    );
    let show = zw.run(&["net", "vnics", "show", "vnic0"]).ok();
    assert!(
        show.stdout.contains("link:") && show.stdout.contains("estub0"),
        "{show:#?}"
    );
    for (args, path) in [
        (vec!["--json", "net", "vnics", "list"], "/network/vnics"),
        (
            vec!["--json", "net", "forwarding", "show"],
            "/network/forwarding",
        ),
    ] {
        let r = zw.run(&args).ok();
        // Each row's scan_timestamp is the time of the read it came from.
        let without_read_times = |t: &str| {
            let mut v: serde_json::Value = serde_json::from_str(t).unwrap();
            for row in v["vnics"].as_array_mut().into_iter().flatten() {
                row.as_object_mut().unwrap().remove("scan_timestamp");
            }
            v
        };
        assert_eq!(
            without_read_times(r.stdout.trim_end()),
            without_read_times(agent.get_text(path).1.trim_end()),
            "{args:?}"
        );
    }

    // The API's refusals name the field (or say why, for a conflict).
    let r = zw.run(&["net", "vnics", "create", "name=bad", "link=estub0"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("(field: name)"), "{r:#?}");
    let r = zw.run(&["net", "etherstubs", "delete", "estub0"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("HTTP 409"), "{r:#?}");
    let r = zw.run(&[
        "net",
        "vnics",
        "create",
        "name=vnic1",
        "link=estub0",
        "vlan_id:=nope",
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("must be JSON"), "{r:#?}");

    zw.run(&["net", "vnics", "delete", "vnic0", "--wait"]).ok();
    zw.run(&["net", "etherstubs", "delete", "estub0", "--wait"])
        .ok();
    assert_eq!(
        zw.run(&["net", "etherstubs", "list"]).ok().stdout,
        "(none)\n"
    );
}
