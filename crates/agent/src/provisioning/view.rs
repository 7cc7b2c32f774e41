//! The provisioning area's answers.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::recipes::{Recipe, Step};
use crate::tasks::TaskStatus;

#[derive(Debug, Serialize, ToSchema)]
pub struct SshKey {
    pub success: bool,
    /// The agent's provisioning public key (OpenSSH format): what a guest's
    /// `authorized_keys` (or cloud-init `sshkey`) needs so the pipeline can log in.
    pub public_key: String,
    /// Where the key pair is kept on the host (`provisioning.ssh.key_path`).
    pub key_path: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecipeList {
    pub recipes: Vec<Recipe>,
    pub total: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DryRun {
    pub recipe_id: String,
    pub dry_run: bool,
    /// The steps with variables substituted (secrets masked).
    pub steps: Vec<Step>,
    /// Variables the steps use that have no value.
    pub unresolved: Vec<String>,
    /// Every variable and its value (secrets masked).
    pub variables: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PipelineAccepted {
    pub success: bool,
    /// The pipeline's group task: its status and progress roll up from the stages;
    /// `DELETE /tasks/{id}` or `POST /zones/{name}/provision/cancel` cancels it.
    pub task_id: String,
    pub zone_name: String,
    pub operation: String,
    pub status: TaskStatus,
    pub message: String,
    /// Stage → task id (`network`, `extract`, `boot`, `setup`, `wait_ssh`, `sync`, `provision`).
    #[schema(value_type = Object)]
    pub pipeline_tasks: BTreeMap<String, String>,
    /// The provisioning network setup the pipeline waits for, when the network was not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_setup_task_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProvisionStatus {
    pub success: bool,
    pub zone_name: String,
    /// `not_provisioned`, `provisioning`, `provisioned`, `failed` or `cancelled`.
    pub status: String,
    /// The operation of the stage running (or next to run) while provisioning.
    pub current_stage: Option<String>,
    /// Stage → `pending`, `in_progress`, `completed`, `failed` or `cancelled`.
    #[schema(value_type = Object)]
    pub progress: BTreeMap<String, String>,
    pub task_id: Option<String>,
    pub last_provisioned_at: Option<String>,
}
