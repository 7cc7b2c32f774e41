//! What the bridge routes answer: show-bridge's fields under the original's keys (`bridge`,
//! `address`, `priority`, `max_age`, `hello_time`, `forward_delay`, `force_protocol`,
//! `tc_time`, `tc_count`, `topology_change`, `designated_root`, `root_cost`, `root_port`),
//! with its observability link and attached links from show-link.

use illumos::dladm::bridge::{Bridge, BridgeLink, ForwardingEntry};
use illumos::dladm::{Link, LinkClass};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct BridgeLinkInfo {
    pub link: String,
    pub index: Option<u32>,
    /// `disabled`, `discarding`, `learning`, `forwarding`, `non-stp` or `bad-mtu`.
    pub state: String,
    /// Seconds since the last reset.
    pub uptime: Option<u64>,
    pub operational_cost: Option<u32>,
    pub point_to_point: bool,
    pub edge_port: bool,
    pub designated_root: String,
    pub designated_cost: Option<u64>,
    pub designated_bridge: String,
    pub designated_port: String,
    pub topology_change_ack: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ForwardingInfo {
    /// The destination MAC address.
    pub destination: String,
    /// Seconds (and milliseconds) since learned; null for local entries.
    pub age: Option<String>,
    /// `L` for a local entry.
    pub flags: String,
    /// The attached link (or TRILL nickname) it leaves by.
    pub output: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BridgeInfo {
    /// The bridge's name.
    pub bridge: String,
    /// Its observability link (`<bridge>0`, class `bridge` in show-link).
    pub link: String,
    /// Always `bridge`.
    pub class: &'static str,
    /// The Bridge Unique Identifier (a MAC address).
    pub address: String,
    pub priority: Option<u32>,
    /// Configured max age, hello time and forward delay, in seconds.
    pub max_age: Option<u32>,
    pub hello_time: Option<u32>,
    pub forward_delay: Option<u32>,
    pub force_protocol: Option<u32>,
    /// Seconds since the last topology change, and how many there were.
    pub tc_time: Option<u64>,
    pub tc_count: Option<u64>,
    pub topology_change: bool,
    /// The root bridge's identifier (`priority/address`).
    pub designated_root: String,
    pub root_cost: Option<u64>,
    pub root_port: Option<u64>,
    /// The attached links, comma-separated, as show-link's OVER.
    pub over: String,
    /// The attached links as a list.
    pub attached_links: Vec<String>,
    /// Each attached link's STP state: in the detail with `show_links=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<BridgeLinkInfo>>,
    /// The forwarding table: in the detail with `show_forwarding=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forwarding_table: Option<Vec<ForwardingInfo>>,
    /// Always `live`: read from dladm for this request.
    pub source: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BridgeList {
    pub success: bool,
    pub bridges: Vec<BridgeInfo>,
    pub total: usize,
    /// Always `live`.
    pub source: &'static str,
}

/// The links show-link lists as attached to `bridge` (its BRIDGE column).
pub fn attached(bridge: &str, links: &[Link]) -> Vec<String> {
    links
        .iter()
        .filter(|l| l.class != LinkClass::Bridge && l.bridge.as_deref() == Some(bridge))
        .map(|l| l.link.to_string())
        .collect()
}

pub fn info(b: &Bridge, links: &[Link]) -> BridgeInfo {
    let attached = attached(b.bridge.as_str(), links);
    BridgeInfo {
        bridge: b.bridge.to_string(),
        link: format!("{}0", b.bridge),
        class: "bridge",
        address: b.address.clone(),
        priority: b.priority,
        max_age: b.max_age,
        hello_time: b.hello_time,
        forward_delay: b.forward_delay,
        force_protocol: b.force_protocol,
        tc_time: b.tc_time,
        tc_count: b.tc_count,
        topology_change: b.topology_change,
        designated_root: b.designated_root.clone(),
        root_cost: b.root_cost,
        root_port: b.root_port,
        over: attached.join(","),
        attached_links: attached,
        links: None,
        forwarding_table: None,
        source: "live",
    }
}

pub fn link_info(l: &BridgeLink) -> BridgeLinkInfo {
    BridgeLinkInfo {
        link: l.link.to_string(),
        index: l.index,
        state: l.state.clone(),
        uptime: l.uptime,
        operational_cost: l.oper_cost,
        point_to_point: l.point_to_point,
        edge_port: l.edge_port,
        designated_root: l.designated_root.clone(),
        designated_cost: l.designated_cost,
        designated_bridge: l.designated_bridge.clone(),
        designated_port: l.designated_port.clone(),
        topology_change_ack: l.topology_change_ack,
    }
}

pub fn forwarding_info(f: &ForwardingEntry) -> ForwardingInfo {
    ForwardingInfo {
        destination: f.dest.clone(),
        age: f.age.clone(),
        flags: f.flags.clone(),
        output: f.output.clone(),
    }
}
