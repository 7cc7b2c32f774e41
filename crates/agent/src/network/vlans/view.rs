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

pub fn info(v: &Vlan, links: &[Link]) -> VlanInfo {
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
    }
}
