//! Unit tests of `zone_start`/`zone_stop`/`zone_halt` and `zone_delete` on a scripted host: the
//! exact commands each case runs, in order, and what the user then reads (status, error
//! message, result). The emulator-backed integration tests cover the same operations end to
//! end; these pin the branches a real host rarely shows (a boot that took effect although
//! zoneadm failed, a delete finished after a crash, a zone that vanished).

use std::sync::Arc;

use illumos::fake::Reply;
use illumos::zfs;
use serde_json::json;

use super::delete::DeleteZone;
use super::lifecycle::{Action, Lifecycle};
use crate::tasks::testing::{Ended, Harness};
use crate::tasks::{NewTask, TaskStatus};
use crate::zones::{store, ZoneServices};

const ZONE: &str = "web01";
const ROOT: &str = "rpool/zones/web01";

fn services(h: &Harness) -> Arc<ZoneServices> {
    Arc::new(ZoneServices::new(
        h.config.clone(),
        h.runner.clone(),
        h.db.clone(),
    ))
}

/// `zoneadm -z web01 ARGS...`
fn zoneadm(args: &[&str]) -> Vec<String> {
    ["zoneadm", "-z", ZONE]
        .iter()
        .chain(args)
        .map(|s| s.to_string())
        .collect()
}

/// `zoneadm -z web01 list -p` answering with the zone in `state` (reference §1.3's format).
fn listed(h: &Harness, state: &str) {
    let id = if state == "running" { "12" } else { "-" };
    h.host.expect(
        zoneadm(&["list", "-p"]),
        Reply::stdout(format!(
            "{id}:{ZONE}:{state}:/zones/{ZONE}:52c9e1a4-6b4e-4f1b-a3d2-2a7a0b54c1de:bhyve:excl\n"
        )),
    );
}

async fn lifecycle(h: &Harness, action: Action) -> Ended {
    let op = Lifecycle {
        svc: services(h),
        action,
    };
    let ended = h
        .run(
            vec![crate::tasks::op(op)],
            NewTask::for_zone(action.operation(), ZONE),
        )
        .await;
    h.host.verify();
    ended
}

#[tokio::test]
async fn start_boots_an_installed_zone() {
    let h = Harness::new("start");
    listed(&h, "installed");
    h.host.expect(zoneadm(&["boot"]), Reply::ok());
    let t = lifecycle(&h, Action::Start).await;
    assert_eq!(t.status(), TaskStatus::Completed, "{}", t.error());
    assert_eq!(t.result(), json!({"zone_name": ZONE, "outcome": "booted"}));
}

#[tokio::test]
async fn start_of_a_running_zone_changes_nothing() {
    let h = Harness::new("start-running");
    listed(&h, "running");
    let t = lifecycle(&h, Action::Start).await;
    assert_eq!(t.status(), TaskStatus::Completed, "{}", t.error());
    assert_eq!(t.result()["outcome"], "already running");
}

/// The user reads zoneadm's own words, nothing else; the zone did not boot, so nothing rolls
/// forward (one more listing says so).
#[tokio::test]
async fn a_failed_boot_fails_the_task_with_zoneadms_words() {
    let h = Harness::new("boot-fails");
    listed(&h, "installed");
    h.host.expect(
        zoneadm(&["boot"]),
        Reply::fails(
            1,
            "zoneadm: zone 'web01': could not boot: not enough memory\n",
        ),
    );
    listed(&h, "installed");
    let t = lifecycle(&h, Action::Start).await;
    assert_eq!(t.status(), TaskStatus::Failed);
    // What failed, then the tool's own words.
    assert!(
        t.error().starts_with("zoneadm boot of zone web01: "),
        "{}",
        t.error()
    );
    assert!(
        t.error()
            .ends_with("zoneadm: zone 'web01': could not boot: not enough memory"),
        "{}",
        t.error()
    );
}

/// zoneadm failed (or the agent died) after the zone booted: the journal says a boot was asked
/// for and the zone runs, so the task completes instead of reporting a failure.
#[tokio::test]
async fn a_boot_that_took_effect_despite_an_error_completes_the_task() {
    let h = Harness::new("boot-rolls-forward");
    listed(&h, "installed");
    h.host.expect(
        zoneadm(&["boot"]),
        Reply::fails(1, "zoneadm: zone 'web01': lost contact with zoneadmd\n"),
    );
    listed(&h, "running");
    let t = lifecycle(&h, Action::Start).await;
    assert_eq!(t.status(), TaskStatus::Completed, "{}", t.error());
    assert_eq!(t.result()["outcome"], "booted");
    assert!(
        t.logged("finished it instead of undoing it"),
        "{:?}",
        t.output
    );
}

#[tokio::test]
async fn start_refuses_a_zone_that_is_not_installed() {
    let h = Harness::new("start-configured");
    listed(&h, "configured");
    let t = lifecycle(&h, Action::Start).await;
    assert_eq!(t.status(), TaskStatus::Failed);
    assert_eq!(
        t.error(),
        "zone web01 is configured: it must be installed before boot"
    );
}

#[tokio::test]
async fn a_zone_the_host_does_not_know_is_named() {
    let h = Harness::new("start-missing");
    h.host.expect(
        zoneadm(&["list", "-p"]),
        Reply::fails(1, "zoneadm: web01: No such zone configured\n"),
    );
    let t = lifecycle(&h, Action::Halt).await;
    assert_eq!(t.status(), TaskStatus::Failed);
    assert_eq!(t.error(), "zone web01 does not exist");
}

#[tokio::test]
async fn halt_halts_a_running_zone_and_leaves_a_stopped_one_alone() {
    let h = Harness::new("halt");
    listed(&h, "running");
    h.host.expect(zoneadm(&["halt"]), Reply::ok());
    let t = lifecycle(&h, Action::Halt).await;
    assert_eq!(t.status(), TaskStatus::Completed, "{}", t.error());
    assert_eq!(t.result()["outcome"], "halted");

    let h = Harness::new("halt-stopped");
    listed(&h, "installed");
    let t = lifecycle(&h, Action::Halt).await;
    assert_eq!(t.result()["outcome"], "already stopped");
}

#[tokio::test]
async fn stop_halts_when_the_graceful_shutdown_fails() {
    let h = Harness::new("stop");
    listed(&h, "running");
    h.host.expect(
        zoneadm(&["shutdown"]),
        Reply::fails(1, "zoneadm: zone 'web01': shutdown failed\n"),
    );
    h.host.expect(zoneadm(&["halt"]), Reply::ok());
    let t = lifecycle(&h, Action::Stop).await;
    assert_eq!(t.status(), TaskStatus::Completed, "{}", t.error());
    assert_eq!(
        t.result()["outcome"],
        "halted after the shutdown timed out or failed"
    );
    assert!(
        t.logged("zoneadm: zone 'web01': shutdown failed); halting"),
        "{:?}",
        t.output
    );
}

// ---------------------------------------------------------------------------------------------
// zone_delete

/// The zone's row as a create leaves it, then marked `deleting` as the delete handler does.
async fn recorded(h: &Harness) {
    h.db.write(|c| {
        store::insert_creating(c, ZONE, "bhyve", ROOT, Some("admin"))?;
        store::set_status(c, ZONE, "deleting")
    })
    .await
    .unwrap();
}

async fn record(h: &Harness) -> Option<store::ZoneRecord> {
    h.db.read(|c| store::get(c, ZONE)).await.unwrap()
}

async fn delete(h: &Harness, cleanup_datasets: bool) -> Ended {
    let ended = h
        .run(
            vec![crate::tasks::op(DeleteZone(services(h)))],
            NewTask::for_zone("zone_delete", ZONE)
                .metadata(json!({ "cleanup_datasets": cleanup_datasets })),
        )
        .await;
    h.host.verify();
    ended
}

fn uninstall_and_unconfigure(h: &Harness) {
    h.host.expect(zoneadm(&["uninstall", "-F"]), Reply::ok());
    h.host
        .expect(["zonecfg", "-z", ZONE, "delete", "-F"], Reply::ok());
}

#[tokio::test]
async fn delete_without_datasets_uninstalls_unconfigures_and_forgets_the_zone() {
    let h = Harness::new("delete");
    recorded(&h).await;
    listed(&h, "installed");
    uninstall_and_unconfigure(&h);
    let t = delete(&h, false).await;
    assert_eq!(t.status(), TaskStatus::Completed, "{}", t.error());
    assert_eq!(
        t.result(),
        json!({"zone_name": ZONE, "datasets_destroyed": [], "datasets_kept": []})
    );
    assert!(record(&h).await.is_none());
}

/// A running zone is halted first; of its datasets only those bearing this zone's ownership
/// mark are destroyed: a volume the user attached is kept, and so is the parent holding it.
#[tokio::test]
async fn delete_with_datasets_destroys_only_what_the_agent_made_for_the_zone() {
    let h = Harness::new("delete-datasets");
    recorded(&h).await;
    listed(&h, "running");
    h.host.expect(zoneadm(&["halt"]), Reply::ok());
    uninstall_and_unconfigure(&h);
    h.host.expect(
        zfs::list_cmd(ROOT, true, "filesystem,volume").argv(),
        Reply::stdout(format!(
            "{ROOT}\tfilesystem\t-\t-\tweb01\n\
             {ROOT}/root\tvolume\t21474836480\t-\tweb01\n\
             {ROOT}/data\tvolume\t1073741824\t-\t-\n"
        )),
    );
    h.host.expect(
        ["zfs", "destroy", "-r", "rpool/zones/web01/root"],
        Reply::ok(),
    );
    let t = delete(&h, true).await;
    assert_eq!(t.status(), TaskStatus::Completed, "{}", t.error());
    assert_eq!(
        t.result(),
        json!({
            "zone_name": ZONE,
            "datasets_destroyed": ["rpool/zones/web01/root"],
            "datasets_kept": ["rpool/zones/web01/data", ROOT],
        })
    );
    assert!(t.logged("kept rpool/zones/web01/data: not made by the agent for this zone"));
    assert!(record(&h).await.is_none());
}

/// Nothing was touched: the zone is usable again (a retry is possible) and the user reads why.
#[tokio::test]
async fn a_delete_that_fails_before_touching_the_zone_leaves_it_usable() {
    let h = Harness::new("delete-unread");
    recorded(&h).await;
    h.host.expect(
        zoneadm(&["list", "-p"]),
        Reply::fails(
            1,
            "zoneadm: failed to get zone data: Resource temporarily unavailable\n",
        ),
    );
    let t = delete(&h, true).await;
    assert_eq!(t.status(), TaskStatus::Failed);
    assert!(
        t.error()
            .ends_with("zoneadm: failed to get zone data: Resource temporarily unavailable"),
        "{}",
        t.error()
    );
    assert_eq!(record(&h).await.unwrap().status, "ready");
}

/// Once a delete began destroying the zone it is finished, not undone: the failed step runs
/// again and the task completes.
#[tokio::test]
async fn a_delete_that_failed_part_way_is_finished() {
    let h = Harness::new("delete-finished");
    recorded(&h).await;
    listed(&h, "installed");
    h.host.expect(
        zoneadm(&["uninstall", "-F"]),
        Reply::fails(
            1,
            "zoneadm: zone 'web01': uninstall failed: dataset is busy\n",
        ),
    );
    listed(&h, "installed");
    uninstall_and_unconfigure(&h);
    let t = delete(&h, false).await;
    assert_eq!(t.status(), TaskStatus::Completed, "{}", t.error());
    assert!(
        t.logged("finished it instead of undoing it"),
        "{:?}",
        t.output
    );
    assert!(record(&h).await.is_none());
}

/// When finishing fails too, the user reads both failures, each in zoneadm's words, and the
/// zone stays marked as being deleted.
#[tokio::test]
async fn a_delete_that_cannot_be_finished_says_why() {
    let h = Harness::new("delete-stuck");
    recorded(&h).await;
    let busy = "zoneadm: zone 'web01': uninstall failed: dataset is busy\n";
    listed(&h, "installed");
    h.host
        .expect(zoneadm(&["uninstall", "-F"]), Reply::fails(1, busy));
    listed(&h, "installed");
    h.host
        .expect(zoneadm(&["uninstall", "-F"]), Reply::fails(1, busy));
    let t = delete(&h, false).await;
    assert_eq!(t.status(), TaskStatus::Failed);
    let words = "zoneadm: zone 'web01': uninstall failed: dataset is busy";
    let (run, undo) = t.error().split_once("; undo failed: ").unwrap();
    assert!(run.ends_with(words), "{run}");
    assert_eq!(undo, run);
    assert_eq!(record(&h).await.unwrap().status, "deleting");
}
