//! The provisioning area's requests (recipes and their tests) and the validation of path
//! values.

use std::collections::BTreeMap;

use illumos::names::ZoneName;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::http::error::ApiError;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecipeQuery {
    /// Only recipes for this OS family.
    pub os_family: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRecipeRequest {
    /// The zone whose settings and console to use (required for a live test).
    #[serde(default)]
    pub zone_name: Option<String>,
    /// Only show the resolved steps and the variables with no value (default true).
    #[serde(default = "yes")]
    pub dry_run: bool,
    /// Extra variables (win over everything else).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub variables: BTreeMap<String, Value>,
}

fn yes() -> bool {
    true
}

pub fn zone_param(name: &str, field: &str) -> Result<ZoneName, ApiError> {
    name.parse()
        .map_err(|e: illumos::names::InvalidName| ApiError::invalid(field, e.0))
}
