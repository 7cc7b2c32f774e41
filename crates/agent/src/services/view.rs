//! Service answers, in the original's shapes: the listing rows are svcs' own columns, the
//! details are svcs -l's keys, the properties are grouped by property group.

use std::collections::BTreeMap;

use illumos::services::{Listed, Process, Property};
use serde::Serialize;
use utoipa::ToSchema;

/// One instance as `svcs` lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceRow {
    /// `online`, `offline`, `disabled`, `maintenance`, `degraded`, `uninitialized`,
    /// `legacy_run` or `?`.
    pub state: String,
    /// svcs' STIME: `13:26:14` today, `Dec_04` before.
    pub stime: String,
    /// The instance (`svc:/...`), or a legacy script (`lrc:/...`) with `all`.
    pub fmri: String,
    /// The instance is moving to another state (svcs prints `state*`).
    pub transitioning: bool,
}

impl From<Listed> for ServiceRow {
    fn from(l: Listed) -> Self {
        ServiceRow {
            state: l.state.as_str().to_owned(),
            stime: l.stime,
            fmri: l.fmri,
            transitioning: l.transitioning,
        }
    }
}

/// One process of the instance's contract (`svcs -p`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessRow {
    pub pid: u32,
    pub stime: String,
    /// The command name.
    pub command: String,
}

impl From<Process> for ProcessRow {
    fn from(p: Process) -> Self {
        ProcessRow {
            pid: p.pid,
            stime: p.stime,
            command: p.command,
        }
    }
}

/// `GET /services/{fmri}`: `svcs -l` (each line's key, as the original answered), plus the
/// instance's dependencies (`svcs -d`), dependents (`svcs -D`) and processes (`svcs -p`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceDetail {
    pub fmri: String,
    /// The description (svcs -l `name`).
    pub name: Option<String>,
    /// `true`, `false`, or `true (temporary)`.
    pub enabled: Option<String>,
    pub state: Option<String>,
    /// The state it is moving to, `none` if none.
    pub next_state: Option<String>,
    /// When the state last changed (`Thu Dec 05 11:00:00 2026`).
    pub state_time: Option<String>,
    pub logfile: Option<String>,
    pub restarter: Option<String>,
    /// The contract of a running instance.
    pub contract_id: Option<String>,
    /// svcs -l `dependency` lines: `GROUPING/RESTART_ON FMRI... (STATE)`.
    pub dependency: Vec<String>,
    /// Any other svcs -l line, by its key.
    #[serde(flatten)]
    pub other: BTreeMap<String, String>,
    /// The instances this one depends on.
    pub dependencies: Vec<ServiceRow>,
    /// The instances that depend on this one.
    pub dependents: Vec<ServiceRow>,
    pub processes: Vec<ProcessRow>,
}

impl ServiceDetail {
    pub fn new(
        fmri: String,
        lines: Vec<(String, String)>,
        dependencies: Vec<Listed>,
        dependents: Vec<Listed>,
        processes: Vec<Process>,
    ) -> Self {
        let mut d = ServiceDetail {
            fmri,
            name: None,
            enabled: None,
            state: None,
            next_state: None,
            state_time: None,
            logfile: None,
            restarter: None,
            contract_id: None,
            dependency: Vec::new(),
            other: BTreeMap::new(),
            dependencies: dependencies.into_iter().map(Into::into).collect(),
            dependents: dependents.into_iter().map(Into::into).collect(),
            processes: processes.into_iter().map(Into::into).collect(),
        };
        for (k, v) in lines {
            let slot = match k.as_str() {
                "fmri" => {
                    d.fmri = v;
                    continue;
                }
                "dependency" => {
                    d.dependency.push(v);
                    continue;
                }
                "name" => &mut d.name,
                "enabled" => &mut d.enabled,
                "state" => &mut d.state,
                "next_state" => &mut d.next_state,
                "state_time" => &mut d.state_time,
                "logfile" => &mut d.logfile,
                "restarter" => &mut d.restarter,
                "contract_id" => &mut d.contract_id,
                // Keys named like the answer's own lists stay out of the way of them.
                "dependencies" | "dependents" | "processes" | "other" => continue,
                _ => {
                    d.other.insert(k, v);
                    continue;
                }
            };
            *slot = Some(v);
        }
        d
    }
}

/// One property's type and values.
#[derive(Debug, Serialize, ToSchema)]
pub struct PropertyValue {
    /// The SMF type (`astring`, `count`, `boolean`, ...).
    #[serde(rename = "type")]
    pub prop_type: String,
    /// The values joined by spaces, as the original answered.
    pub value: String,
    /// The values one by one.
    pub values: Vec<String>,
}

/// `GET /services/{fmri}/properties`: property group → property → value.
pub type Properties = BTreeMap<String, BTreeMap<String, PropertyValue>>;

pub fn properties(list: Vec<Property>) -> Properties {
    let mut out = Properties::new();
    for p in list {
        out.entry(p.group).or_default().insert(
            p.name,
            PropertyValue {
                prop_type: p.prop_type,
                value: p.values.join(" "),
                values: p.values,
            },
        );
    }
    out
}
