use std::process::{Command, Stdio};

use crate::util::{Host, SIM};

#[test]
fn volumes_report_exact_sizes_and_reservation() {
    let h = Host::new();
    h.run("zfs", &["create", "-p", "rpool/vm/vm1"]).ok();
    h.run("zfs", &["create", "-V", "20G", "rpool/vm/vm1/disk0"])
        .ok();
    let out = h
        .run(
            "zfs",
            &[
                "get",
                "-H",
                "-p",
                "-o",
                "name,property,value,source",
                "volsize,refreservation",
                "rpool/vm/vm1/disk0",
            ],
        )
        .ok();
    assert_eq!(out, "rpool/vm/vm1/disk0\tvolsize\t21474836480\tlocal\nrpool/vm/vm1/disk0\trefreservation\t21474836480\tlocal\n");
    assert_eq!(
        h.run(
            "zfs",
            &[
                "get",
                "-H",
                "-p",
                "-o",
                "value",
                "volsize",
                "rpool/vm/vm1/disk0"
            ]
        )
        .ok(),
        "21474836480\n"
    );
    let list = h
        .run(
            "zfs",
            &[
                "list",
                "-H",
                "-p",
                "-o",
                "name,volsize,type",
                "-r",
                "rpool/vm",
            ],
        )
        .ok();
    assert_eq!(list, "rpool/vm\t-\tfilesystem\nrpool/vm/vm1\t-\tfilesystem\nrpool/vm/vm1/disk0\t21474836480\tvolume\n");
    // The alias asks for avail, the property column says available.
    let avail = h
        .run("zfs", &["get", "-H", "-o", "property", "avail", "rpool/vm"])
        .ok();
    assert_eq!(avail, "available\n");
    h.run("zfs", &["create", "-s", "-V", "1G", "rpool/vm/sparse"])
        .ok();
    assert_eq!(
        h.run(
            "zfs",
            &[
                "get",
                "-Hp",
                "-o",
                "value",
                "refreservation",
                "rpool/vm/sparse"
            ]
        )
        .ok(),
        "0\n"
    );
    assert!(h.root("/dev/zvol/rdsk/rpool/vm/vm1/disk0").exists());
    assert!(h.root("/rpool/vm/vm1").is_dir());
}

#[test]
fn missing_datasets_give_the_dataset_does_not_exist_family() {
    let h = Host::new();
    for args in [
        vec!["list", "rpool/nope"],
        vec!["get", "all", "rpool/nope"],
        vec!["set", "compression=lz4", "rpool/nope"],
        vec!["destroy", "rpool/nope"],
        vec!["snapshot", "rpool/nope@s"],
        vec!["rollback", "rpool/nope@s"],
    ] {
        let err = h.run("zfs", &args).fails(1);
        assert!(
            err.starts_with("cannot open 'rpool/nope"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains(": dataset does not exist\n"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn create_rules_parents_names_and_pools() {
    let h = Host::new();
    assert_eq!(
        h.run("zfs", &["create", "rpool/a/b"]).fails(1),
        "cannot create 'rpool/a/b': parent does not exist\n"
    );
    h.run("zfs", &["create", "-p", "rpool/a/b"]).ok();
    h.run("zfs", &["create", "-p", "rpool/a/b"]).ok(); // -p: silent when it exists
    assert_eq!(
        h.run("zfs", &["create", "rpool/a/b"]).fails(1),
        "cannot create 'rpool/a/b': dataset already exists\n"
    );
    assert_eq!(
        h.run("zfs", &["create", "rpool/a$b"]).fails(1),
        "cannot create 'rpool/a$b': invalid character '$' in name\n"
    );
    assert_eq!(
        h.run("zfs", &["create", "tank/x"]).fails(1),
        "cannot create 'tank/x': no such pool 'tank'\n"
    );
    assert_eq!(
        h.run("zfs", &["create", "-V", "abc", "rpool/v"]).fails(1),
        "bad volume size 'abc': bad numeric value 'abc'\n"
    );
    h.run("zfs", &["bogus"]).fails(2);
    assert_eq!(
        h.run("zfs", &["create", "-V", "10T", "rpool/huge"])
            .fails(1),
        "cannot create 'rpool/huge': out of space\n"
    );
}

#[test]
fn destroy_refuses_children_and_dependent_clones() {
    let h = Host::new();
    h.run("zfs", &["create", "-p", "rpool/t/child"]).ok();
    h.run("zfs", &["snapshot", "rpool/t@s1"]).ok();
    let err = h.run("zfs", &["destroy", "rpool/t"]).fails(1);
    assert_eq!(err, "cannot destroy 'rpool/t': filesystem has children\nuse '-r' to destroy the following datasets:\nrpool/t@s1\nrpool/t/child\n");
    h.run("zfs", &["clone", "rpool/t@s1", "rpool/c1"]).ok();
    assert_eq!(
        h.run("zfs", &["get", "-H", "-o", "value", "origin", "rpool/c1"])
            .ok(),
        "rpool/t@s1\n"
    );
    let err = h.run("zfs", &["destroy", "-r", "rpool/t"]).fails(1);
    assert_eq!(err, "cannot destroy 'rpool/t': filesystem has dependent clones\nuse '-R' to destroy the following datasets:\nrpool/c1\n");
    let err = h.run("zfs", &["destroy", "rpool/t@s1"]).fails(1);
    assert!(
        err.starts_with("cannot destroy 'rpool/t@s1': snapshot has dependent clones\n"),
        "{err}"
    );
    h.run("zfs", &["destroy", "-R", "rpool/t"]).ok();
    assert_eq!(
        h.run("zfs", &["list", "-H", "-o", "name"]).ok(),
        "rpool\nrpool/zones\n"
    );
    assert_eq!(
        h.run("zfs", &["destroy", "rpool/zones@nope"]).fails(1),
        "could not find any snapshots to destroy; check snapshot names.\n"
    );
    assert!(h
        .run("zfs", &["destroy", "rpool"])
        .fails(1)
        .starts_with("cannot destroy 'rpool': operation does not apply to pools\n"));
    assert!(!h.root("/rpool/t").exists());
}

#[test]
fn snapshots_list_in_order_and_rollback_needs_r_for_older_ones() {
    let h = Host::new();
    h.run("zfs", &["create", "rpool/d"]).ok();
    h.run("zfs", &["snapshot", "rpool/d@a"]).ok();
    h.run("zfs", &["snapshot", "rpool/d@b"]).ok();
    assert_eq!(
        h.run("zfs", &["snapshot", "rpool/d@a"]).fails(1),
        "cannot create snapshot 'rpool/d@a': dataset already exists\n"
    );
    assert_eq!(
        h.run(
            "zfs",
            &["list", "-H", "-o", "name", "-t", "snapshot", "-r", "rpool"]
        )
        .ok(),
        "rpool/d@a\nrpool/d@b\n"
    );
    assert_eq!(
        h.run(
            "zfs",
            &["list", "-H", "-o", "name", "-t", "snapshot", "rpool/d"]
        )
        .ok(),
        "rpool/d@a\nrpool/d@b\n"
    );
    let err = h.run("zfs", &["rollback", "rpool/d@a"]).fails(1);
    assert_eq!(err, "cannot rollback to 'rpool/d@a': more recent snapshots or bookmarks exist\nuse '-r' to force deletion of the following snapshots and bookmarks:\nrpool/d@b\n");
    h.run("zfs", &["rollback", "rpool/d@b"]).ok();
    h.run("zfs", &["rollback", "-r", "rpool/d@a"]).ok();
    assert_eq!(
        h.run(
            "zfs",
            &["list", "-H", "-o", "name", "-t", "all", "-r", "rpool/d"]
        )
        .ok(),
        "rpool/d\nrpool/d@a\n"
    );
}

#[test]
fn send_and_recv_through_a_real_pipe() {
    let h = Host::new();
    h.run("zfs", &["create", "-V", "2G", "rpool/img"]).ok();
    h.run("zfs", &["set", "zoneweaver:owner=agent", "rpool/img"])
        .ok();
    h.run("zfs", &["snapshot", "rpool/img@gold"]).ok();
    let mut send = h
        .cmd("zfs", &["send", "-p", "rpool/img@gold"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let recv = Command::new(h.bin("zfs"))
        .args(["recv", "rpool/zones/vm1disk"])
        .stdin(send.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(send.wait().unwrap().success());
    assert!(recv.status.success(), "{recv:?}");
    let out = h
        .run(
            "zfs",
            &[
                "list",
                "-H",
                "-p",
                "-o",
                "name,volsize",
                "-t",
                "all",
                "-r",
                "rpool/zones/vm1disk",
            ],
        )
        .ok();
    assert_eq!(
        out,
        "rpool/zones/vm1disk\t2147483648\nrpool/zones/vm1disk@gold\t2147483648\n"
    );
    assert_eq!(
        h.run(
            "zfs",
            &[
                "get",
                "-H",
                "-o",
                "value,source",
                "zoneweaver:owner",
                "rpool/zones/vm1disk"
            ]
        )
        .ok(),
        "agent\treceived\n"
    );
    // Receiving again needs -F; garbage and empty streams are refused.
    let stream = h.run("zfs", &["send", "rpool/img@gold"]).stdout;
    let err = h
        .run_in("zfs", &["recv", "rpool/zones/vm1disk"], stream.as_bytes())
        .fails(1);
    assert_eq!(err, "cannot receive new filesystem stream: destination 'rpool/zones/vm1disk' exists\nmust specify -F to overwrite it\n");
    h.run_in(
        "zfs",
        &["recv", "-F", "rpool/zones/vm1disk"],
        stream.as_bytes(),
    )
    .ok();
    assert_eq!(
        h.run_in("zfs", &["recv", "rpool/x"], b"garbage").fails(1),
        "cannot receive: invalid stream (bad magic number)\n"
    );
    assert_eq!(
        h.run_in("zfs", &["recv", "rpool/x"], b"").fails(1),
        "cannot receive: failed to read from stream\n"
    );
}

#[test]
fn user_properties_inherit_with_their_source() {
    let h = Host::new();
    h.run(
        "zfs",
        &["create", "-o", "zoneweaver:owner=agent", "rpool/zones/z1"],
    )
    .ok();
    h.run("zfs", &["create", "rpool/zones/z1/disk"]).ok();
    let out = h
        .run(
            "zfs",
            &[
                "get",
                "-H",
                "-r",
                "-o",
                "name,value,source",
                "zoneweaver:owner",
                "rpool/zones",
            ],
        )
        .ok();
    assert_eq!(out, "rpool/zones\t-\t-\nrpool/zones/z1\tagent\tlocal\nrpool/zones/z1/disk\tagent\tinherited from rpool/zones/z1\n");
    assert!(h
        .run("zfs", &["set", "Bad:Prop=x", "rpool/zones"])
        .fails(1)
        .contains("invalid property 'Bad:Prop'"));
    h.run("zfs", &["inherit", "zoneweaver:owner", "rpool/zones/z1"])
        .ok();
    assert_eq!(
        h.run(
            "zfs",
            &[
                "get",
                "-H",
                "-o",
                "value",
                "zoneweaver:owner",
                "rpool/zones/z1/disk"
            ]
        )
        .ok(),
        "-\n"
    );
    h.run("zfs", &["set", "mountpoint=/data", "rpool/zones/z1"])
        .ok();
    assert_eq!(
        h.run(
            "zfs",
            &[
                "get",
                "-H",
                "-o",
                "value,source",
                "mountpoint",
                "rpool/zones/z1/disk"
            ]
        )
        .ok(),
        "/data/disk\tinherited from rpool/zones/z1\n"
    );
    assert!(h.root("/data/disk").is_dir());
}

#[test]
fn human_list_aligns_and_zpool_lists_exact_numbers() {
    let h = Host::new();
    let out = h.run("zfs", &["list"]).ok();
    assert!(
        out.starts_with("NAME         USED  AVAIL  REFER  MOUNTPOINT\nrpool        192K"),
        "{out}"
    );
    let z = h
        .run("zpool", &["list", "-H", "-p", "-o", "name,size,health"])
        .ok();
    assert_eq!(z, "rpool\t2199023255552\tONLINE\n");
    assert_eq!(
        h.run("zpool", &["list", "tank"]).fails(1),
        "cannot open 'tank': no such pool\n"
    );
}

#[test]
fn init_sizes_the_pool_on_request_and_keeps_the_host() {
    let h = Host::new();
    h.run("zfs", &["create", "rpool/kept"]).ok();
    let init = |size: &str| {
        Command::new(SIM)
            .args(["init", h.path().to_str().unwrap(), "--pool-size", size])
            .output()
            .unwrap()
    };
    assert!(init("500G").status.success());
    let z = h
        .run("zpool", &["list", "-H", "-p", "-o", "name,size"])
        .ok();
    assert_eq!(z, format!("rpool\t{}\n", 500u64 << 30));
    assert!(h
        .run("zfs", &["list", "rpool/kept"])
        .ok()
        .contains("rpool/kept"));
    let bad = init("12");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--pool-size"));
}
