//! Power requests. Every one that stops or restarts the host must say `"confirm": true`, as
//! the original required; halt (no rc scripts, no warning) also `"emergency": true`.

use crate::tasks::RequesterNote;
use illumos::power::RunLevel;
use serde::Deserialize;
use utoipa::ToSchema;

use super::ops::Power;
use crate::error::FieldError;

/// The original's default grace period and its limit (two hours).
const DEFAULT_GRACE_SECS: u32 = 60;
const MAX_GRACE_SECS: u32 = 7200;

fn confirmed(confirm: Option<bool>, what: &str) -> Result<(), FieldError> {
    if confirm == Some(true) {
        Ok(())
    } else {
        Err(FieldError::new(
            "confirm",
            format!("set \"confirm\": true to {what}"),
        ))
    }
}

fn parsed<T: std::str::FromStr>(field: &str, v: &str) -> Result<T, FieldError>
where
    T::Err: std::fmt::Display,
{
    v.parse()
        .map_err(|e: T::Err| FieldError::new(field, e.to_string()))
}

/// `POST /system/host/restart`, `/shutdown`, `/poweroff`: a clean stop through `shutdown`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GracefulRequest {
    /// Must be true.
    pub confirm: Option<bool>,
    /// Seconds logged-in users are warned before the stop, 0 to 7200 (default 60).
    pub grace_period: Option<u32>,
    /// Broadcast to logged-in users: one line, at most 200 characters.
    pub message: Option<String>,
    /// The UI's note of who asked, kept as the task's `requester_note`.
    #[serde(default)]
    pub created_by: Option<RequesterNote>,
}

impl GracefulRequest {
    /// `shutdown -i STATE`; with `immediate` (poweroff without grace period or message) the
    /// direct tool instead.
    pub fn validate(&self, state: RunLevel, what: &str) -> Result<Power, FieldError> {
        confirmed(self.confirm, what)?;
        let grace_period = self.grace_period.unwrap_or(DEFAULT_GRACE_SECS);
        if grace_period > MAX_GRACE_SECS {
            return Err(FieldError::new(
                "grace_period",
                "may be at most 7200 seconds (two hours)",
            ));
        }
        let message = match self.message.as_deref() {
            None | Some("") => None,
            Some(m) => Some(parsed("message", m)?),
        };
        Ok(Power::Shutdown {
            grace_period,
            init_state: state,
            message,
        })
    }
}

/// `POST /system/host/reboot` and `/reboot/fast`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RebootRequest {
    /// Must be true.
    pub confirm: Option<bool>,
    /// `reboot -d`: write a crash dump first (plain reboot only).
    pub dump_core: Option<bool>,
    /// `reboot -f -e BE`: fast-reboot into this boot environment (fast reboot only).
    pub boot_environment: Option<String>,
    /// The UI's note of who asked, kept as the task's `requester_note`.
    #[serde(default)]
    pub created_by: Option<RequesterNote>,
}

impl RebootRequest {
    pub fn validate(&self, fast: bool) -> Result<Power, FieldError> {
        confirmed(
            self.confirm,
            if fast {
                "fast-reboot the host"
            } else {
                "reboot the host"
            },
        )?;
        let dump_core = self.dump_core.unwrap_or(false);
        if fast && dump_core {
            return Err(FieldError::new(
                "dump_core",
                "applies to a plain reboot only",
            ));
        }
        let boot_environment = match self.boot_environment.as_deref() {
            None | Some("") => None,
            Some(_) if !fast => {
                return Err(FieldError::new(
                    "boot_environment",
                    "needs a fast reboot (/system/host/reboot/fast)",
                ))
            }
            Some(b) => Some(parsed("boot_environment", b)?),
        };
        Ok(Power::Reboot {
            fast,
            dump_core,
            boot_environment,
        })
    }
}

/// `POST /system/host/halt`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HaltRequest {
    /// Must be true.
    pub confirm: Option<bool>,
    /// Must be true: halt runs no rc scripts and warns no one.
    pub emergency: Option<bool>,
    /// The UI's note of who asked, kept as the task's `requester_note`.
    #[serde(default)]
    pub created_by: Option<RequesterNote>,
}

impl HaltRequest {
    pub fn validate(&self) -> Result<Power, FieldError> {
        confirmed(self.confirm, "halt the host")?;
        if self.emergency != Some(true) {
            return Err(FieldError::new(
                "emergency",
                "set \"emergency\": true: halt is for emergencies (no rc scripts, no warning); use shutdown otherwise",
            ));
        }
        Ok(Power::Halt)
    }
}

/// `POST /system/host/runlevel`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunlevelRequest {
    /// Must be true.
    pub confirm: Option<bool>,
    /// 0-6, S or s (init.8).
    pub runlevel: String,
    /// The UI's note of who asked, kept as the task's `requester_note`.
    #[serde(default)]
    pub created_by: Option<RequesterNote>,
}

impl RunlevelRequest {
    pub fn validate(&self) -> Result<Power, FieldError> {
        confirmed(self.confirm, "change the run level")?;
        Ok(Power::Init {
            runlevel: parsed("runlevel", &self.runlevel)?,
        })
    }
}

/// `POST /system/host/single-user`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SingleUserRequest {
    /// Must be true.
    pub confirm: Option<bool>,
    /// The UI's note of who asked, kept as the task's `requester_note`.
    #[serde(default)]
    pub created_by: Option<RequesterNote>,
}

impl SingleUserRequest {
    pub fn validate(&self) -> Result<Power, FieldError> {
        confirmed(self.confirm, "go to single-user mode")?;
        Ok(Power::Init {
            runlevel: RunLevel::SINGLE_USER,
        })
    }
}

/// `POST /system/host/multi-user`: back to multi-user, run level 3 with network services
/// (OmniOS's default) or 2 without. Nothing stops, so no confirmation is needed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MultiUserRequest {
    /// Run level 3 (network services) instead of 2; default false, as the original.
    pub network_services: Option<bool>,
    pub confirm: Option<bool>,
    /// The UI's note of who asked, kept as the task's `requester_note`.
    #[serde(default)]
    pub created_by: Option<RequesterNote>,
}

impl MultiUserRequest {
    pub fn validate(&self) -> Power {
        Power::Init {
            runlevel: if self.network_services.unwrap_or(false) {
                RunLevel::MULTI_USER_SERVER
            } else {
                RunLevel::MULTI_USER
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_needs_confirm_and_halt_also_emergency() {
        let g = GracefulRequest {
            confirm: None,
            grace_period: None,
            message: None,
            created_by: None,
        };
        assert_eq!(
            g.validate(RunLevel::REBOOT, "restart").unwrap_err().field,
            "confirm"
        );
        let h = HaltRequest {
            confirm: Some(true),
            emergency: None,
            created_by: None,
        };
        assert_eq!(h.validate().unwrap_err().field, "emergency");
    }

    #[test]
    fn grace_period_defaults_to_a_minute_and_is_bounded() {
        let mut g = GracefulRequest {
            confirm: Some(true),
            grace_period: None,
            message: Some("bye".into()),
            created_by: None,
        };
        match g.validate(RunLevel::REBOOT, "restart").unwrap() {
            Power::Shutdown { grace_period, .. } => assert_eq!(grace_period, 60),
            other => panic!("{other:?}"),
        }
        g.grace_period = Some(7201);
        assert_eq!(
            g.validate(RunLevel::REBOOT, "restart").unwrap_err().field,
            "grace_period"
        );
    }
}
