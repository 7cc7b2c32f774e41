//! `zone_setup` (and the live recipe test): the recipe typed on the zone's console.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::{ran, secrets, Entry, Ran, StageParams};
use crate::provisioning::console::{run_recipe, Console, Login};
use crate::provisioning::recipes::resolve_steps;
use crate::provisioning::ProvisioningServices;
use crate::tasks::{Cx, OpError, RollForward, TaskOp};

/// The console stage (and the live recipe test): `zlogin -C` on a pty, driven by the recipe.
pub struct Setup {
    pub svc: Arc<ProvisioningServices>,
    pub name: &'static str,
}

impl TaskOp for Setup {
    type Params = StageParams;
    type Entry = Entry;

    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(&self, cx: &Cx<'_, Entry>, p: StageParams) -> Result<Option<Value>, OpError> {
        let Some(recipe) = p.recipe.clone().filter(|r| !r.skips_console()) else {
            cx.note("the recipe has no console work; setup skipped");
            return Ok(Some(json!({ "skipped": true })));
        };
        let zone = &p.zone;
        let secrets = secrets(cx).await?;
        let mut vars = p.variables.clone();
        // The NIC made by the network stage, unless the zone's or the agent's variables
        // say otherwise.
        let fixed = p.settings.variables_text();
        for (k, v) in crate::provisioning::nic::zone_variables(&self.svc, &p.zone).await? {
            if !fixed.contains_key(&k) && !self.svc.config.provisioning.variables.contains_key(&k) {
                vars.insert(k, v);
            }
        }
        if let Some(pw) = &secrets.password {
            vars.insert("password".into(), pw.clone());
        }
        let (steps, missing) =
            resolve_steps(&recipe.steps, &vars).map_err(|e| OpError::failed(e.message))?;
        if !missing.is_empty() {
            return Err(OpError::failed(format!(
                "the recipe uses variables with no value: {}",
                missing.join(", ")
            )));
        }
        cx.progress(10, "Attaching to the zone console").await?;
        let session = cx.runner.spawn_pty(&illumos::zlogin::console_cmd(zone))?;
        let note = |l: &str| cx.note(l);
        let mut con = Console::new(
            session,
            cx.cancel.clone(),
            secrets.password.iter().cloned().collect(),
            &note,
        );
        cx.progress(30, &format!("Running recipe {}", recipe.name))
            .await?;
        let login = Login {
            username: p.settings.username().to_owned(),
            password: secrets.password.clone(),
        };
        let result = run_recipe(&mut con, &recipe, &steps, &login).await;
        if result.is_ok() {
            // Recorded before detaching: the console session ends with zlogin's exit,
            // and a crash there must not fail a stage whose work is done.
            cx.will_make(
                &Ran::Recipe {
                    recipe: recipe.name.clone(),
                    steps: steps.len(),
                }
                .into(),
            )
            .await?;
        }
        // Detach politely (`~.` at the start of a line), then make sure zlogin is gone.
        let _ = con
            .send_raw(&format!("\r{}", illumos::zlogin::DISCONNECT))
            .await;
        con.flush_transcript();
        let session = con.into_inner();
        session.close(Duration::from_secs(2)).await;
        match result {
            Ok(()) => Ok(Some(json!({ "recipe": recipe.name, "steps": steps.len() }))),
            Err(crate::provisioning::console::ConsoleError::Cancelled) => Err(OpError::Cancelled),
            Err(e) => Err(OpError::failed(e.to_string())),
        }
    }

    /// What a recipe did in the guest cannot be taken back; once it ran to its end the stage's
    /// work is done, and only detaching from the console remained: the stage completes.
    async fn roll_forward(
        &self,
        _cx: &Cx<'_, Entry>,
        _p: StageParams,
        journal: &[Entry],
    ) -> Result<RollForward, OpError> {
        Ok(ran(journal)
            .find_map(|r| match r {
                Ran::Recipe { recipe, steps } => Some(RollForward::Completed(Some(
                    json!({ "recipe": recipe, "steps": steps }),
                ))),
                _ => None,
            })
            .unwrap_or(RollForward::Undo))
    }
}
