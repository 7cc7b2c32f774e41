//! `/host/devices*` and `/host/ppt-status`: the emulated host's PCI devices (`prtconf -dD`),
//! their passthrough state (`pptadm list -a`) and the zones given a ppt device (`device
//! match=/dev/pptN`). Read-only: nothing on the host changes.

use serde_json::Value;

use crate::support::{dump, host, TestAgent};

fn find(devices: &Value, pred: impl Fn(&Value) -> bool) -> &Value {
    devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| pred(d))
        .unwrap_or_else(|| panic!("no such device in {devices}"))
}

#[test]
fn every_pci_device_of_the_tree_is_listed_with_its_category_driver_and_passthrough_state() {
    let agent = TestAgent::start();
    let before = dump(&agent);
    let r = agent.get("/host/devices");
    assert_eq!(r.status, 200, "{:?}", r.body);
    let tree = host(&agent, "prtconf", &["-dD"]);
    let pci_lines = tree.lines().filter(|l| l.contains(" (pci")).count();
    assert_eq!(r.body["summary"]["total_devices"], pci_lines, "{}", r.body);
    let devices = &r.body["devices"];
    // Of the two I350 ports (one pair of IDs), the one bound to ppt is /dev/ppt0.
    let ppt = find(devices, |d| d["ppt_enabled"] == true);
    assert_eq!(ppt["ppt_device_path"], "/dev/ppt0");
    assert_eq!(ppt["pci_address"], "pciex8086,1521");
    assert_eq!(ppt["device_category"], "network");
    assert_eq!(ppt["pci_path"], "/pci@0,0/pci8086,2030@0/pci15d9,1521@0,1");
    let igb = find(devices, |d| d["driver_name"] == "igb");
    assert_eq!(
        (&igb["ppt_enabled"], &igb["driver_instance"]),
        (&Value::Bool(false), &Value::from(0))
    );
    let nvme = find(devices, |d| d["driver_name"] == "nvme");
    assert_eq!(nvme["device_category"], "storage");
    assert_eq!(nvme["vendor_name"], "Samsung Electronics Co Ltd");
    // The GPU is a ppt candidate (pptadm -a names it) without a driver.
    let gpu = find(devices, |d| d["vendor_id"] == "10de");
    assert_eq!(
        (
            &gpu["device_category"],
            &gpu["driver_attached"],
            &gpu["ppt_enabled"]
        ),
        (
            &Value::from("display"),
            &Value::Bool(false),
            &Value::Bool(false)
        )
    );
    assert!(gpu["pci_path"].is_string(), "{gpu}");

    // Filters, the available list (under the UI's key too), categories, one device.
    let net = agent.get("/host/devices?category=network");
    assert!(net.body["devices"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["device_category"] == "network"));
    let only_ppt = agent.get("/host/devices?ppt_enabled=true&limit=10");
    assert_eq!(only_ppt.body["devices"].as_array().unwrap().len(), 1);
    let a = agent.get("/host/devices/available?ppt_only=true");
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["devices"], a.body["available_devices"]);
    assert_eq!(a.body["total"], 1);
    let c = agent.get("/host/devices/categories");
    assert_eq!(c.body["categories"]["network"]["total"], 2, "{}", c.body);
    assert_eq!(c.body["total_devices"], pci_lines);
    let one = agent.get("/host/devices/igb0");
    assert_eq!(
        (one.status, &one.body["driver_name"]),
        (200, &Value::from("igb"))
    );
    let by_id = agent.get(&format!("/host/devices/{}", one.body["id"]));
    assert_eq!(by_id.body["pci_address"], one.body["pci_address"]);
    assert_eq!(agent.get("/host/devices/nosuch0").status, 404);

    // Bad filters are refused naming the key; nothing ran to change the host.
    let bad = agent.get("/host/devices?category=gpu");
    assert_eq!(
        (bad.status, &bad.body["field"]),
        (400, &Value::from("category"))
    );
    let unknown = agent.get("/host/devices?vendor=8086");
    assert_eq!(
        (unknown.status, &unknown.body["field"]),
        (400, &Value::from("vendor"))
    );
    let refreshed = agent.post("/host/devices/refresh", serde_json::json!({}));
    assert_eq!(refreshed.status, 200, "{:?}", refreshed.body);
    assert_eq!(refreshed.body["devices_found"], pci_lines);
    assert_eq!(dump(&agent), before, "a read changed the host");
}

#[test]
fn a_zone_given_dev_ppt0_shows_as_its_user_at_the_next_read() {
    let agent = TestAgent::start();
    let s = agent.get("/host/ppt-status");
    assert_eq!(s.status, 200, "{:?}", s.body);
    assert_eq!(s.body["summary"]["total_ppt_devices"], 1);
    assert_eq!(s.body["summary"]["available"], 1);
    let cfg =
        "create -b; set brand=bhyve; set ip-type=exclusive; set zonepath=/rpool/zones/gpuvm; \
               add device; set match=/dev/ppt0; end; \
               add attr; set name=ppt0; set type=string; set value=on; end";
    host(&agent, "zonecfg", &["-z", "gpuvm", cfg]);
    let s = agent.eventually(
        "the zone's device shows",
        || agent.get("/host/ppt-status").body,
        |b| b["summary"]["assigned_to_zones"] == 1,
    );
    let given = &s["summary"]["zone_assignments"]["gpuvm"][0];
    assert_eq!(given["ppt_device_path"], "/dev/ppt0", "{s}");
    assert_eq!(given["assignment_type"], "device");
    assert_eq!(
        s["ppt_devices"][0]["assigned_to_zones"][0]["zone_name"],
        "gpuvm"
    );
    let l = agent.get("/host/devices");
    assert_eq!(l.body["summary"]["zones_using_passthrough"][0], "gpuvm");
    assert_eq!(l.body["summary"]["ppt_assigned"], 1);
    // Given to a zone, the device is no longer available.
    let a = agent.get("/host/devices/available?ppt_only=true");
    assert_eq!(a.body["total"], 0, "{}", a.body);
}
