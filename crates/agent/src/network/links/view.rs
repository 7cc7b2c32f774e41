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
}

impl VnicDetail {
    pub fn new(vnic: VnicInfo) -> Self {
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
            vnic,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EtherstubInfo {
    pub name: String,
    /// The etherstub's link name, the same as `name` (dladm's LINK, the UI's key).
    pub link: String,
    /// Always `etherstub` (dladm's CLASS).
    pub class: &'static str,
    /// The VNICs over it.
    pub vnics: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EtherstubList {
    pub success: bool,
    pub etherstubs: Vec<EtherstubInfo>,
    pub total: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EtherstubDetail {
    pub success: bool,
    pub etherstub: EtherstubInfo,
}

/// Every etherstub, with the VNICs over it.
pub async fn etherstubs(app: &AppState) -> Result<Vec<EtherstubInfo>, ApiError> {
    let run = &app.network.runner;
    let stubs = dladm::show_etherstubs(run).await.map_err(ApiError::host)?;
    let vnics = app.network.vnics().await?;
    Ok(stubs
        .into_iter()
        .map(|s| EtherstubInfo {
            vnics: vnics
                .iter()
                .filter(|v| v.over == s)
                .map(|v| v.link.to_string())
                .collect(),
            name: s.to_string(),
            link: s.to_string(),
            class: "etherstub",
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
