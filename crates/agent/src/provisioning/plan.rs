//! The pipeline's tasks for one provisioning run, planned without touching the host or the
//! database: what each stage runs, after what, with which metadata, secrets and locks. The
//! handler gathers the facts (settings, secrets, whether the network must be set up first,
//! whether the zone runs) and enqueues what this returns.

use std::collections::BTreeMap;

use illumos::names::ZoneName;
use serde_json::{json, Map, Value};

use super::stages::{self, StageParams};
use crate::tasks::NewTask;
use crate::zones::ops::lifecycle::Action;

/// The stages in pipeline order: (stage, operation). The boot stage restarts a running zone
/// that gets its provisioning NIC only now.
pub const STAGES: [(&str, &str); 7] = [
    ("network", super::nic::NIC),
    ("extract", stages::EXTRACT),
    ("boot", "zone_start"),
    ("setup", stages::SETUP),
    ("wait_ssh", stages::WAIT_SSH),
    ("sync", stages::SYNC),
    ("provision", stages::PROVISION),
];

/// What the handler found out before planning.
pub struct Facts<'a> {
    pub zone: &'a ZoneName,
    pub caller: &'a str,
    pub params: &'a StageParams,
    /// The zone's stored password and private key, as the settings ask for them.
    pub secrets: Map<String, Value>,
    /// The provisioning network's setup task the pipeline must wait for, if one was queued.
    pub after: Option<String>,
    /// The zone runs and gets its provisioning NIC only now: the boot stage reboots it.
    pub restart: bool,
    pub network_enabled: bool,
}

/// The group task first, then one task per stage, each depending on the one before.
pub struct Plan {
    pub group: String,
    pub tasks: Vec<NewTask>,
    /// Stage → task id, in pipeline order.
    pub stages: Vec<(String, String)>,
}

pub fn plan(f: Facts<'_>) -> Result<Plan, serde_json::Error> {
    let metadata = f.params.metadata()?;
    let group = uuid::Uuid::new_v4().to_string();
    let mut tasks = vec![NewTask::new(stages::PIPELINE, f.zone.as_str())
        .group()
        .with_id(group.clone())
        .metadata(json!({
            "zone_name": f.zone.as_str(),
            "stages": STAGES.iter().map(|s| s.0).collect::<Vec<_>>(),
        }))
        .created_by(Some(f.caller.to_owned()))];
    let mut ids = Vec::new();
    let mut prev = f.after.clone();
    for (stage, op) in STAGES {
        let id = uuid::Uuid::new_v4().to_string();
        let boot = op == Action::Start.operation();
        let op = if boot && f.restart {
            Action::Restart.operation()
        } else {
            op
        };
        let mut t = NewTask::for_zone(op, f.zone.as_str())
            .with_id(id.clone())
            .parent(Some(group.clone()))
            .depends_on(prev.clone())
            .created_by(Some(f.caller.to_owned()));
        let edits_dhcpd = op == super::nic::NIC
            || (op == stages::PROVISION && f.params.settings.remove_provisioning_nic);
        if edits_dhcpd && f.network_enabled {
            t = t.lock(crate::network::LOCK_DHCPD);
        }
        if !boot {
            t = t.metadata(metadata.clone());
            let mut secrets = f.secrets.clone();
            if op == stages::PROVISION && !f.params.settings.provisioners.is_empty() {
                secrets.insert(
                    stages::PROVISIONERS_SECRET.into(),
                    serde_json::to_value(&f.params.settings.provisioners)?,
                );
            }
            // The extract and network stages never need the guest's credentials.
            if !secrets.is_empty() && op != stages::EXTRACT && op != super::nic::NIC {
                t = t.secrets(Value::Object(secrets));
            }
        }
        tasks.push(t);
        ids.push((stage.to_owned(), id.clone()));
        prev = Some(id);
    }
    Ok(Plan {
        group,
        tasks,
        stages: ids,
    })
}

impl Plan {
    pub fn stage_ids(&self) -> BTreeMap<String, String> {
        self.stages.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provisioning::settings::{Provisioner, Settings};

    fn params(settings: Settings) -> StageParams {
        StageParams {
            zone: "web".parse().unwrap(),
            settings,
            dataset: Some("rpool/zones/web/provisioning".parse().unwrap()),
            boot_volume: None,
            recipe: None,
            variables: BTreeMap::new(),
            provisioners_in_secrets: false,
        }
    }

    fn facts<'a>(zone: &'a ZoneName, p: &'a StageParams) -> Facts<'a> {
        Facts {
            zone,
            caller: "ops",
            params: p,
            secrets: Map::new(),
            after: None,
            restart: false,
            network_enabled: true,
        }
    }

    fn op<'a>(plan: &'a Plan, stage: &str) -> &'a NewTask {
        let id = &plan.stage_ids()[stage];
        plan.tasks
            .iter()
            .find(|t| t.id.as_ref() == Some(id))
            .unwrap()
    }

    #[test]
    fn the_stages_run_in_order_each_after_the_one_before_under_one_group() {
        let zone: ZoneName = "web".parse().unwrap();
        let p = params(Settings::default());
        let mut f = facts(&zone, &p);
        f.after = Some("net-setup".into());
        let plan = plan(f).unwrap();
        assert_eq!(plan.tasks.len(), 1 + STAGES.len());
        assert!(plan.tasks[0].is_group);
        assert_eq!(plan.tasks[0].operation, stages::PIPELINE);
        let mut prev = Some("net-setup".to_owned());
        for ((stage, op), t) in STAGES.iter().zip(&plan.tasks[1..]) {
            assert_eq!(t.operation, *op, "{stage}");
            assert_eq!(t.depends_on, prev, "{stage}");
            assert_eq!(t.parent_task_id.as_ref(), Some(&plan.group));
            assert_eq!(t.created_by.as_deref(), Some("ops"));
            prev = t.id.clone();
        }
    }

    #[test]
    fn a_running_zone_that_gets_its_nic_now_is_rebooted_not_booted() {
        let zone: ZoneName = "web".parse().unwrap();
        let p = params(Settings::default());
        let mut f = facts(&zone, &p);
        f.restart = true;
        let plan = plan(f).unwrap();
        let boot = op(&plan, "boot");
        assert_eq!(boot.operation, "zone_restart");
        // The lifecycle task reads no stage parameters and carries no secrets.
        assert_eq!(boot.metadata, json!({}));
        assert!(boot.secrets.is_none());
    }

    #[test]
    fn credentials_reach_only_the_stages_that_talk_to_the_guest() {
        let zone: ZoneName = "web".parse().unwrap();
        let p = params(Settings {
            provisioners: vec![Provisioner::Shell {
                script: None,
                inline: Some("echo hi".into()),
                args: Vec::new(),
                env: BTreeMap::new(),
            }],
            ..Settings::default()
        });
        let mut f = facts(&zone, &p);
        f.secrets.insert("password".into(), "hunter2".into());
        let plan = plan(f).unwrap();
        for stage in ["network", "extract", "boot"] {
            assert!(op(&plan, stage).secrets.is_none(), "{stage}");
        }
        for stage in ["setup", "wait_ssh", "sync", "provision"] {
            let s = op(&plan, stage).secrets.as_ref().unwrap();
            assert_eq!(s["password"], "hunter2", "{stage}");
        }
        let provision = op(&plan, "provision").secrets.as_ref().unwrap();
        assert_eq!(
            provision[stages::PROVISIONERS_SECRET][0]["inline"],
            "echo hi"
        );
        assert!(op(&plan, "sync").secrets.as_ref().unwrap()[stages::PROVISIONERS_SECRET].is_null());
        // The stored metadata holds the provisioners redacted.
        let meta = &op(&plan, "provision").metadata;
        assert_eq!(meta["provisioners_in_secrets"], true);
        assert!(!meta.to_string().contains("echo hi"));
    }

    #[test]
    fn the_stages_that_edit_dhcpd_conf_take_its_lock() {
        let zone: ZoneName = "web".parse().unwrap();
        let p = params(Settings {
            remove_provisioning_nic: true,
            ..Settings::default()
        });
        let both = plan(facts(&zone, &p)).unwrap();
        let locked: Vec<&str> = STAGES
            .iter()
            .filter(|(s, _)| {
                op(&both, s)
                    .locks
                    .contains(&crate::network::LOCK_DHCPD.to_owned())
            })
            .map(|(s, _)| *s)
            .collect();
        assert_eq!(locked, ["network", "provision"]);

        let mut f = facts(&zone, &p);
        f.network_enabled = false;
        let none = plan(f).unwrap();
        assert!(none
            .tasks
            .iter()
            .all(|t| !t.locks.contains(&crate::network::LOCK_DHCPD.to_owned())));
    }
}
