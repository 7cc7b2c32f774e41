//! What the aggregation routes answer: dladm's own columns under the original's keys (`link`,
//! `class`, `policy`, `address_policy`, `lacp_activity`, `lacp_timer`, `flags`, `over`,
//! `state`, `speed`, `macaddress`, `mtu`, `ports_detail`, `lacp_detail`).

use illumos::dladm::aggr::{Aggr, AggrPort, LacpPort};
use illumos::dladm::{Link, LinkState};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct PortInfo {
    pub port: String,
    /// Megabits per second.
    pub speed: Option<u64>,
    pub duplex: String,
    pub state: String,
    pub address: Option<String>,
    /// `attached` or `standby`.
    pub port_state: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LacpInfo {
    pub port: String,
    pub aggregatable: bool,
    pub sync: bool,
    pub coll: bool,
    pub dist: bool,
    pub defaulted: bool,
    pub expired: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AggregateInfo {
    /// The aggregation's link name.
    pub link: String,
    /// Always `aggr`.
    pub class: &'static str,
    /// dladm's POLICY as printed: `L4`, `L2,L3`...
    pub policy: String,
    /// `auto` (address taken from a port) or `fixed` (`unicast_address` given).
    pub address_policy: String,
    /// The LACP mode: `off`, `active` or `passive`.
    pub lacp_activity: String,
    /// `short` or `long`.
    pub lacp_timer: String,
    /// dladm's FLAGS column as printed (`f----` when created with force).
    pub flags: String,
    /// Its ports, comma-separated, as the original stored them.
    pub over: String,
    /// Its ports as a list.
    pub ports: Vec<String>,
    /// `up`, `down` or `unknown`; null if show-link did not list it.
    pub state: Option<String>,
    /// Megabits per second, the ports' sum (show-aggr -x).
    pub speed: Option<u64>,
    /// The aggregation's MAC address.
    pub macaddress: Option<String>,
    pub mtu: Option<u32>,
    /// Each port (show-aggr -x): in the detail, and in the list with `extended=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports_detail: Option<Vec<PortInfo>>,
    /// LACP state per port (show-aggr -L): in the detail with `lacp=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lacp_detail: Option<Vec<LacpInfo>>,
    /// Always `live`: read from dladm for this request.
    pub source: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AggregateList {
    pub success: bool,
    pub aggregates: Vec<AggregateInfo>,
    pub total: usize,
    /// Always `live`.
    pub source: &'static str,
}

pub fn state_text(s: &LinkState) -> String {
    match s {
        LinkState::Up => "up".into(),
        LinkState::Down => "down".into(),
        LinkState::Unknown => "unknown".into(),
    }
}

/// One aggregation from its show-aggr line, its `-x` lines (`ports`: every aggregation's, the
/// ones of this one are picked) and show-link.
pub fn info(a: &Aggr, ports: &[AggrPort], links: &[Link], detail: bool) -> AggregateInfo {
    let mine: Vec<&AggrPort> = ports.iter().filter(|p| p.link == a.link).collect();
    let own = mine.iter().find(|p| p.port.is_none());
    let members: Vec<&AggrPort> = mine.iter().copied().filter(|p| p.port.is_some()).collect();
    let names: Vec<String> = members
        .iter()
        .filter_map(|p| p.port.as_ref().map(|n| n.to_string()))
        .collect();
    let link = links.iter().find(|l| l.link == a.link);
    AggregateInfo {
        link: a.link.to_string(),
        class: "aggr",
        policy: a.policy.clone(),
        address_policy: a.address_policy.clone(),
        lacp_activity: a.lacp_activity.clone(),
        lacp_timer: a.lacp_timer.clone(),
        flags: a.flags.clone(),
        over: names.join(","),
        ports: names.clone(),
        state: link.map(|l| state_text(&l.state)),
        speed: own.and_then(|o| o.speed),
        macaddress: own.and_then(|o| o.address.clone()),
        mtu: link.and_then(|l| l.mtu),
        ports_detail: detail.then(|| {
            members
                .iter()
                .map(|p| PortInfo {
                    port: p.port.as_ref().map(|n| n.to_string()).unwrap_or_default(),
                    speed: p.speed,
                    duplex: p.duplex.clone(),
                    state: p.state.clone(),
                    address: p.address.clone(),
                    port_state: p.port_state.clone(),
                })
                .collect()
        }),
        lacp_detail: None,
        source: "live",
    }
}

pub fn lacp(ports: &[LacpPort]) -> Vec<LacpInfo> {
    ports
        .iter()
        .map(|p| LacpInfo {
            port: p.port.to_string(),
            aggregatable: p.aggregatable,
            sync: p.sync,
            coll: p.coll,
            dist: p.dist,
            defaulted: p.defaulted,
            expired: p.expired,
        })
        .collect()
}
