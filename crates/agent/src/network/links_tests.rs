//! Unit tests of the etherstub and VNIC operations on a scripted host: the exact `dladm`
//! commands, what a failure reads like, and the undo that removes what a failed task made.

use std::sync::Arc;

use illumos::fake::Reply;
use serde_json::{json, Value};

use super::{links, NetworkServices, SCOPE};
use crate::tasks::testing::{Ended, Harness};
use crate::tasks::{NewTask, TaskStatus};

/// `dladm show-vnic -p -o LINK,OVER,SPEED,MACADDRESS,MACADDRTYPE,VID,ZONE [NAME]`
fn show_vnic(name: Option<&str>) -> Vec<String> {
    let mut argv: Vec<String> = [
        "dladm",
        "show-vnic",
        "-p",
        "-o",
        "LINK,OVER,SPEED,MACADDRESS,MACADDRTYPE,VID,ZONE",
    ]
    .map(str::to_owned)
    .to_vec();
    argv.extend(name.map(str::to_owned));
    argv
}

async fn run(h: &Harness, operation: &str, metadata: Value) -> Ended {
    let svc = Arc::new(NetworkServices::new(h.config.clone(), h.runner.clone()));
    let ended = h
        .run(
            links::operations(&svc),
            NewTask::new(operation, SCOPE).metadata(metadata),
        )
        .await;
    h.host.verify();
    ended
}

#[tokio::test]
async fn an_etherstub_is_created_persistent_or_temporary() {
    let h = Harness::new("stub");
    h.host
        .expect(["dladm", "create-etherstub", "stub0"], Reply::ok());
    let t = run(&h, "network_create_etherstub", json!({"name": "stub0"})).await;
    assert_eq!(t.status(), TaskStatus::Completed, "{}", t.error());
    assert_eq!(t.result(), json!({"etherstub": "stub0"}));

    let h = Harness::new("stub-t");
    h.host
        .expect(["dladm", "create-etherstub", "-t", "stub0"], Reply::ok());
    let t = run(
        &h,
        "network_create_etherstub",
        json!({"name": "stub0", "temporary": true}),
    )
    .await;
    assert_eq!(t.status(), TaskStatus::Completed, "{}", t.error());
}

/// The create is journalled before it runs, so a failure is followed by a delete of what it may
/// have made; a delete that finds nothing is done.
#[tokio::test]
async fn a_failed_etherstub_create_says_why_and_is_undone() {
    let h = Harness::new("stub-fails");
    h.host
        .expect(
            ["dladm", "create-etherstub", "stub0"],
            Reply::fails(1, "dladm: permission denied\n"),
        )
        .expect(
            ["dladm", "delete-etherstub", "stub0"],
            Reply::fails(1, "dladm: invalid link name 'stub0'\n"),
        );
    let t = run(&h, "network_create_etherstub", json!({"name": "stub0"})).await;
    assert_eq!(t.status(), TaskStatus::Failed);
    // As root (the tests), a permission error carries no hint about the agent's profile.
    assert_eq!(
        t.error(),
        "cannot create etherstub stub0: dladm create-etherstub stub0 exited with 1: \
         dladm: permission denied"
    );
}

/// Two creates of one name queued together both pass the handler's check; the second finds
/// the first one's etherstub. Its undo must not delete what it did not make.
#[tokio::test]
async fn a_create_that_finds_the_name_taken_deletes_nothing() {
    let h = Harness::new("stub-exists");
    h.host.expect(
        ["dladm", "create-etherstub", "stub0"],
        Reply::fails(
            1,
            "dladm: etherstub creation failed: object already exists\n",
        ),
    );
    let t = run(&h, "network_create_etherstub", json!({"name": "stub0"})).await;
    assert_eq!(t.status(), TaskStatus::Failed);
    assert!(t.error().contains("already exists"), "{}", t.error());
    assert!(t.logged("leaving stub0: it was there before this task"));
}

#[tokio::test]
async fn a_vnic_create_that_finds_the_name_taken_deletes_nothing() {
    let h = Harness::new("vnic-exists");
    h.host.expect(
        ["dladm", "create-vnic", "-l", "stub0", "vnic0"],
        Reply::fails(1, "dladm: vnic creation failed: object already exists\n"),
    );
    let t = run(
        &h,
        "network_create_vnic",
        json!({"name": "vnic0", "link": "stub0"}),
    )
    .await;
    assert_eq!(t.status(), TaskStatus::Failed);
    assert!(t.logged("leaving vnic0: it was there before this task"));
}

#[tokio::test]
async fn a_vnic_is_created_and_its_mac_reported() {
    let h = Harness::new("vnic");
    h.host
        .expect(
            ["dladm", "create-vnic", "-l", "stub0", "vnic0"],
            Reply::ok(),
        )
        .expect(
            show_vnic(Some("vnic0")),
            Reply::stdout("vnic0:stub0:0:2\\:8\\:20\\:a\\:b\\:c:random:0:--\n"),
        );
    let t = run(
        &h,
        "network_create_vnic",
        json!({"name": "vnic0", "link": "stub0", "mac_address": "auto"}),
    )
    .await;
    assert_eq!(t.status(), TaskStatus::Completed, "{}", t.error());
    assert_eq!(
        t.result(),
        json!({"vnic": "vnic0", "link": "stub0", "mac_address": "02:08:20:0a:0b:0c"})
    );
}

#[tokio::test]
async fn a_vnic_with_a_fixed_mac_and_a_vlan_passes_both_to_dladm() {
    let h = Harness::new("vnic-fixed");
    h.host
        .expect(
            [
                "dladm",
                "create-vnic",
                "-t",
                "-l",
                "igb0",
                "-m",
                "02:08:20:0a:0b:0c",
                "-v",
                "100",
                "vnic0",
            ],
            Reply::ok(),
        )
        .expect(
            show_vnic(Some("vnic0")),
            Reply::stdout("vnic0:igb0:1000:2\\:8\\:20\\:a\\:b\\:c:fixed:100:--\n"),
        );
    let t = run(
        &h,
        "network_create_vnic",
        json!({"name": "vnic0", "link": "igb0", "mac_address": "02:08:20:0a:0b:0c",
               "vlan_id": 100, "temporary": true}),
    )
    .await;
    assert_eq!(t.status(), TaskStatus::Completed, "{}", t.error());
}

/// The VNIC was made but could not be read back: the task fails and its undo deletes the VNIC,
/// leaving the host as it was.
#[tokio::test]
async fn a_vnic_create_that_fails_after_making_it_deletes_it() {
    let h = Harness::new("vnic-undo");
    h.host
        .expect(
            ["dladm", "create-vnic", "-l", "stub0", "vnic0"],
            Reply::ok(),
        )
        .expect(
            show_vnic(Some("vnic0")),
            Reply::fails(1, "dladm: insufficient memory\n"),
        )
        .expect(["dladm", "delete-vnic", "vnic0"], Reply::ok());
    let t = run(
        &h,
        "network_create_vnic",
        json!({"name": "vnic0", "link": "stub0"}),
    )
    .await;
    assert_eq!(t.status(), TaskStatus::Failed);
    assert_eq!(
        t.error(),
        "dladm show-vnic failed: dladm show-vnic -p -o \
         LINK,OVER,SPEED,MACADDRESS,MACADDRTYPE,VID,ZONE vnic0 exited with 1: \
         dladm: insufficient memory"
    );
    assert!(t.logged("undoing 1 step(s)"), "{:?}", t.output);
}

#[tokio::test]
async fn a_vnic_over_a_missing_link_names_the_link() {
    let h = Harness::new("vnic-over");
    h.host
        .expect(
            ["dladm", "create-vnic", "-l", "stub9", "vnic0"],
            Reply::fails(1, "dladm: invalid link name 'stub9'\n"),
        )
        .expect(
            ["dladm", "delete-vnic", "vnic0"],
            Reply::fails(1, "dladm: invalid link name 'vnic0'\n"),
        );
    let t = run(
        &h,
        "network_create_vnic",
        json!({"name": "vnic0", "link": "stub9"}),
    )
    .await;
    assert_eq!(t.status(), TaskStatus::Failed);
    assert_eq!(
        t.error(),
        "cannot create VNIC vnic0 over stub9: the underlying link does not exist"
    );
}

#[tokio::test]
async fn deleting_a_vnic_that_is_gone_is_done_but_a_busy_one_fails() {
    let h = Harness::new("vnic-delete");
    h.host
        .expect(["dladm", "delete-vnic", "vnic0"], Reply::ok());
    let t = run(&h, "network_delete_vnic", json!({"name": "vnic0"})).await;
    assert_eq!(t.status(), TaskStatus::Completed, "{}", t.error());
    assert_eq!(t.result(), json!({"vnic": "vnic0"}));

    let h = Harness::new("vnic-gone");
    h.host.expect(
        ["dladm", "delete-vnic", "vnic0"],
        Reply::fails(1, "dladm: invalid link name 'vnic0'\n"),
    );
    let t = run(&h, "network_delete_vnic", json!({"name": "vnic0"})).await;
    assert_eq!(t.status(), TaskStatus::Completed, "{}", t.error());
    assert!(t.logged("VNIC vnic0 was already gone"), "{:?}", t.output);

    let h = Harness::new("vnic-busy");
    h.host.expect(
        ["dladm", "delete-vnic", "vnic0"],
        Reply::fails(1, "dladm: vnic deletion failed: link busy\n"),
    );
    let t = run(&h, "network_delete_vnic", json!({"name": "vnic0"})).await;
    assert_eq!(t.status(), TaskStatus::Failed);
    assert_eq!(
        t.error(),
        "cannot delete VNIC vnic0: link is busy (VNICs on it, or assigned to a running zone)"
    );
}

/// `force` deletes the VNICs over the etherstub (and only those) before the etherstub.
#[tokio::test]
async fn a_forced_etherstub_delete_removes_its_vnics_first() {
    let h = Harness::new("stub-force");
    h.host
        .expect(
            show_vnic(None),
            Reply::stdout(
                "vnic0:stub0:0:2\\:8\\:20\\:a\\:b\\:c:random:0:--\n\
                 web0:igb0:1000:2\\:8\\:20\\:a\\:b\\:d:random:0:--\n\
                 vnic1:stub0:0:2\\:8\\:20\\:a\\:b\\:e:random:0:--\n",
            ),
        )
        .expect(["dladm", "delete-vnic", "vnic0"], Reply::ok())
        .expect(["dladm", "delete-vnic", "vnic1"], Reply::ok())
        .expect(["dladm", "delete-etherstub", "stub0"], Reply::ok());
    let t = run(
        &h,
        "network_delete_etherstub",
        json!({"name": "stub0", "force": true}),
    )
    .await;
    assert_eq!(t.status(), TaskStatus::Completed, "{}", t.error());
    assert_eq!(
        t.result(),
        json!({"etherstub": "stub0", "deleted_vnics": ["vnic0", "vnic1"]})
    );
}
