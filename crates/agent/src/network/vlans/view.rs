//! What the VLAN routes answer: dladm's own columns (`link`, `vid`, `over`, `flags`), with
//! `state` and `mtu` from `show-link`, as the original's VLAN rows carried them.

use illumos::dladm::vlan::Vlan;
use illumos::dladm::{Link, LinkState};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct VlanInfo {
    /// The VLAN link's name.
    pub link: String,
    /// Always `vlan`.
    pub class: &'static str,
    pub vid: u16,
    /// The link it is over.
    pub over: String,
    /// dladm's FLAGS column as printed (`f----` when created with force).
    pub flags: String,
    /// `up`, `down` or `unknown`; null if show-link did not list it.
    pub state: Option<String>,
    pub mtu: Option<u32>,
    /// Always `live`: read from dladm for this request.
    pub source: &'static str,
    /// When this row was read from dladm (RFC 3339, UTC).
    pub scan_timestamp: String,
    /// The same as `scan_timestamp`: the original's rows were rewritten by every scan, so
    /// their `created_at` and `updated_at` were the scan's time; this agent keeps no row.
    pub created_at: String,
    /// The same as `scan_timestamp` (see `created_at`).
    pub updated_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VlanList {
    pub success: bool,
    pub vlans: Vec<VlanInfo>,
    pub total: usize,
    /// Always `live`.
    pub source: &'static str,
}

fn state(s: &LinkState) -> String {
    match s {
        LinkState::Up => "up".into(),
        LinkState::Down => "down".into(),
        LinkState::Unknown => "unknown".into(),
    }
}

/// One VLAN's row; `read_at`: when dladm was read.
pub fn info(v: &Vlan, links: &[Link], read_at: &str) -> VlanInfo {
    let link = links.iter().find(|l| l.link == v.link);
    VlanInfo {
        link: v.link.to_string(),
        class: "vlan",
        vid: v.vid.get(),
        over: v.over.to_string(),
        flags: v.flags.clone(),
        state: link.map(|l| state(&l.state)),
        mtu: link.and_then(|l| l.mtu),
        source: "live",
        scan_timestamp: read_at.to_owned(),
        created_at: read_at.to_owned(),
        updated_at: read_at.to_owned(),
    }
}
