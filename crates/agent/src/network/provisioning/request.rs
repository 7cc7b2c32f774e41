//! The provisioning network's requests.

use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TeardownQuery {
    /// Tear down even while zones have NICs on the provisioning etherstub (their VNICs are
    /// deleted when no running zone holds them).
    pub force: Option<bool>,
    /// The requester's label, kept as the task's `requester_note`.
    #[param(value_type = Option<String>)]
    pub created_by: Option<crate::tasks::RequesterNote>,
}
