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
        }
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
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EtherstubInfo {
    pub name: String,
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
