//! What the link routes answer, read live from `dladm`.

use illumos::dladm;
use illumos::link::LinkName;
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::error::ApiError;
use crate::http::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct VnicInfo {
    pub name: String,
    /// The link it is over: a physical NIC or an etherstub.
    pub link: String,
    pub mac_address: String,
    /// `fixed`, `random`, `factory, slot N`, ...
    pub mac_type: String,
    pub vlan_id: Option<u16>,
    /// The zone it is assigned to; absent for the global zone.
    pub zone: Option<String>,
    pub speed_mbps: Option<u64>,
    // The Zoneweaver UI's keys, dladm's own column names (the original's rows). `link` above
    // keeps this agent's meaning (the link it is over); the VNIC's name is `name`.
    /// The link it is over (dladm's OVER), the same as `link`.
    pub over: String,
    /// dladm's MACADDRESS, the same as `mac_address`.
    pub macaddress: String,
    /// dladm's MACADDRTYPE, the same as `mac_type`.
    pub macaddrtype: String,
    /// dladm's VID: 0 without a VLAN.
    pub vid: u16,
    /// dladm's SPEED in Mb/s, the same as `speed_mbps`.
    pub speed: Option<u64>,
    /// `up`, `down` or `unknown` (show-link's STATE); null when not read.
    pub state: Option<String>,
    /// show-link's MTU; null when not read.
    pub mtu: Option<u32>,
    /// The row's key in the UI's tables: the VNIC's name (the original numbered the rows of
    /// its scan table; a name is the same from one read to the next).
    pub id: String,
    /// When this row was read from dladm (RFC 3339, UTC): every GET reads the host live.
    pub scan_timestamp: String,
}

impl From<&dladm::Vnic> for VnicInfo {
    fn from(v: &dladm::Vnic) -> Self {
        VnicInfo {
            name: v.link.to_string(),
            link: v.over.to_string(),
            mac_address: v.mac.to_string(),
            mac_type: match &v.mac_type {
                dladm::MacAddrType::Fixed => "fixed".into(),
                dladm::MacAddrType::Random => "random".into(),
                dladm::MacAddrType::Factory { slot } => format!("factory, slot {slot}"),
                dladm::MacAddrType::Other(s) => s.clone(),
            },
            vlan_id: v.vlan.map(|v| v.get()),
            zone: v.zone.as_ref().map(|z| z.to_string()),
            speed_mbps: v.speed_mbps,
            over: v.over.to_string(),
            macaddress: v.mac.to_string(),
            macaddrtype: String::new(),
            vid: v.vlan.map_or(0, |v| v.get()),
            speed: v.speed_mbps,
            state: None,
            mtu: None,
            id: v.link.to_string(),
            scan_timestamp: crate::time::now_rfc3339(),
        }
        .with_type()
    }
}

impl VnicInfo {
    fn with_type(mut self) -> Self {
        self.macaddrtype = self.mac_type.clone();
        self
    }

    /// Adds show-link's state and MTU of this VNIC.
    pub fn with_link(mut self, links: &[dladm::Link]) -> Self {
        if let Some(l) = links.iter().find(|l| l.link.as_str() == self.name) {
            self.state = Some(link_state(&l.state).to_owned());
            self.mtu = l.mtu;
        }
        self
    }
}

pub fn link_state(s: &dladm::LinkState) -> &'static str {
    match s {
        dladm::LinkState::Up => "up",
        dladm::LinkState::Down => "down",
        dladm::LinkState::Unknown => "unknown",
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VnicList {
    pub success: bool,
    pub vnics: Vec<VnicInfo>,
    pub total: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VnicDetail {
    pub success: bool,
    pub vnic: VnicInfo,
    // The original answered a VNIC's keys at the top level, which the Zoneweaver UI reads:
    /// The VNIC's own name (dladm's LINK).
    pub link: String,
    pub over: String,
    pub zone: Option<String>,
    pub state: Option<String>,
    pub speed: Option<u64>,
    pub macaddress: String,
    pub macaddrtype: String,
    pub vid: u16,
    pub mtu: Option<u32>,
    /// show-phys's MEDIA (`Ethernet`) of the physical link under the VNIC; null over an
    /// etherstub or an aggregation (a VNIC has no medium of its own: show-phys lists physical
    /// links only).
    pub media: Option<String>,
    /// show-phys's DUPLEX (`full`, `half`, `unknown`) of the physical link under the VNIC;
    /// null as `media`.
    pub duplex: Option<String>,
    /// show-phys's DEVICE (driver and instance, `igb0`) of the physical link under the VNIC;
    /// null as `media`.
    pub device: Option<String>,
    /// show-link's BRIDGE: the bridge the VNIC is in; null when none.
    pub bridge: Option<String>,
    /// show-ether's PAUSE: always null, as in the original's VNIC rows (show-ether lists
    /// physical Ethernet links only).
    pub pause: Option<String>,
    /// show-ether's AUTO: always null, as `pause`.
    pub auto: Option<String>,
    /// When this answer was read from dladm (RFC 3339, UTC).
    pub scan_timestamp: String,
    /// The same as `scan_timestamp`: the original's rows were rewritten by every scan, so
    /// their `created_at` and `updated_at` were the scan's time; this agent keeps no row.
    pub created_at: String,
    /// The same as `scan_timestamp` (see `created_at`).
    pub updated_at: String,
}

/// What show-phys says of the physical link under a VNIC.
#[derive(Debug, Default)]
pub struct UnderPhys {
    pub media: Option<String>,
    pub duplex: Option<String>,
    pub device: Option<String>,
}

impl UnderPhys {
    /// The show-phys row of `over`, when `over` is a physical link.
    pub fn of(over: &str, phys: &[dladm::Phys]) -> Self {
        match phys.iter().find(|p| p.link.as_str() == over) {
            Some(p) => UnderPhys {
                media: Some(p.media.clone()),
                duplex: Some(
                    match p.duplex {
                        dladm::Duplex::Full => "full",
                        dladm::Duplex::Half => "half",
                        dladm::Duplex::Unknown => "unknown",
                    }
                    .to_owned(),
                ),
                device: Some(p.device.clone()),
            },
            None => UnderPhys::default(),
        }
    }
}

impl VnicDetail {
    /// `links`: show-link's row of the VNIC (its state, MTU and bridge).
    pub fn new(vnic: VnicInfo, links: &[dladm::Link], under: UnderPhys) -> Self {
        let vnic = vnic.with_link(links);
        let bridge = links
            .iter()
            .find(|l| l.link.as_str() == vnic.name)
            .and_then(|l| l.bridge.clone());
        VnicDetail {
            success: true,
            link: vnic.name.clone(),
            over: vnic.over.clone(),
            zone: vnic.zone.clone(),
            state: vnic.state.clone(),
            speed: vnic.speed,
            macaddress: vnic.macaddress.clone(),
            macaddrtype: vnic.macaddrtype.clone(),
            vid: vnic.vid,
            mtu: vnic.mtu,
            media: under.media,
            duplex: under.duplex,
            device: under.device,
            bridge,
            pause: None,
            auto: None,
            created_at: vnic.scan_timestamp.clone(),
            updated_at: vnic.scan_timestamp.clone(),
            scan_timestamp: vnic.scan_timestamp.clone(),
            vnic,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EtherstubInfo {
    pub name: String,
    /// The etherstub's link name, the same as `name` (dladm's LINK, the UI's key).
    pub link: String,
    /// Always `etherstub` (dladm's CLASS).
    pub class: &'static str,
    /// show-link's STATE: `unknown` for an etherstub (it has no carrier); null when
    /// show-link did not list it.
    pub state: Option<String>,
    /// show-link's OVER: always null (an etherstub is over no link).
    pub over: Option<String>,
    /// The names of the VNICs over it. (The UI's details view reads objects here,
    /// `{link, name, over, zone, state}`; this answer keeps names: `GET /network/vnics?over=`
    /// has the rows.)
    pub vnics: Vec<String>,
    /// When this row was read from dladm (RFC 3339, UTC): every GET reads the host live.
    pub scan_timestamp: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EtherstubList {
    pub success: bool,
    pub etherstubs: Vec<EtherstubInfo>,
    pub total: usize,
}

/// One etherstub: under `etherstub`, and its keys again at the top level, where the
/// original answered them and the Zoneweaver UI reads them.
#[derive(Debug, Serialize, ToSchema)]
pub struct EtherstubDetail {
    pub success: bool,
    pub etherstub: EtherstubInfo,
    pub name: String,
    pub link: String,
    pub class: &'static str,
    pub state: Option<String>,
    pub over: Option<String>,
    pub vnics: Vec<String>,
    pub scan_timestamp: String,
}

impl EtherstubDetail {
    pub fn new(etherstub: EtherstubInfo) -> Self {
        EtherstubDetail {
            success: true,
            name: etherstub.name.clone(),
            link: etherstub.link.clone(),
            class: etherstub.class,
            state: etherstub.state.clone(),
            over: etherstub.over.clone(),
            vnics: etherstub.vnics.clone(),
            scan_timestamp: etherstub.scan_timestamp.clone(),
            etherstub,
        }
    }
}

/// Every etherstub, with the VNICs over it and show-link's state.
pub async fn etherstubs(app: &AppState) -> Result<Vec<EtherstubInfo>, ApiError> {
    let run = &app.network.runner;
    let stubs = dladm::show_etherstubs(run).await.map_err(ApiError::host)?;
    let vnics = app.network.vnics().await?;
    let links = if stubs.is_empty() {
        Vec::new()
    } else {
        dladm::show_links(run).await.map_err(ApiError::host)?
    };
    let read_at = crate::time::now_rfc3339();
    Ok(stubs
        .into_iter()
        .map(|s| EtherstubInfo {
            vnics: vnics
                .iter()
                .filter(|v| v.over == s)
                .map(|v| v.link.to_string())
                .collect(),
            state: links
                .iter()
                .find(|l| l.link == s)
                .map(|l| link_state(&l.state).to_owned()),
            over: None,
            name: s.to_string(),
            link: s.to_string(),
            class: "etherstub",
            scan_timestamp: read_at.clone(),
        })
        .collect())
}

/// Whether any link (of any class) has this name.
pub async fn link_exists(app: &AppState, name: &LinkName) -> Result<bool, ApiError> {
    Ok(dladm::get_link(&app.network.runner, name)
        .await
        .map_err(ApiError::host)?
        .is_some())
}

/// One etherstub, or a 404.
pub async fn etherstub(app: &AppState, name: &LinkName) -> Result<EtherstubInfo, ApiError> {
    etherstubs(app)
        .await?
        .into_iter()
        .find(|s| s.name == name.as_str())
        .ok_or_else(|| ApiError::not_found(format!("no etherstub {name}")))
}
