//! Waiting for svc.startd to act on an `svcadm` request. `svcadm restart` (and `clear`)
//! return as soon as the restarter has the request: the instance stops and starts afterwards,
//! and a start that fails puts it in maintenance a moment later. A task that asked for the
//! restart waits to see which, so it neither ends while the instance is still restarting nor
//! passes a failed start as done.

use std::time::{Duration, Instant};

use illumos::smf::{self, ContractStatus, Fmri, ServiceState};

use crate::tasks::{OpCx, OpError};

/// How long a restarted instance may take to settle. Each manifest sets its own method
/// timeouts (a restart runs the stop method, then the start method); 60 s is a common start
/// timeout, and that of OmniOS's DHCP server.
pub const RESTART_WAIT: Duration = Duration::from_secs(60);

/// How long an instance that shows no contract must stay settled online after `svcadm
/// restart`, unless it was seen in another state meanwhile, to be taken as restarted.
const NO_CONTRACT_GRACE: Duration = Duration::from_secs(2);

/// How a restart ended, as far as [`await_restart`] could see.
#[derive(Debug)]
pub enum Restart {
    /// Running again on a new contract (or, without contracts, seen settled).
    Done,
    /// [`RESTART_WAIT`] passed first; the last state seen.
    StillGoing(Option<ContractStatus>),
}

impl Restart {
    /// [`Restart::StillGoing`] as a task's failure.
    pub fn required(self, fmri: &Fmri) -> Result<(), OpError> {
        match self {
            Restart::Done => Ok(()),
            Restart::StillGoing(last) => Err(OpError::failed(format!(
                "{fmri} was not online again {} s after its restart (it is {})",
                RESTART_WAIT.as_secs(),
                shown(last.as_ref())
            ))),
        }
    }
}

/// The state as `svcs` shows it, `*` while in transition.
pub fn shown(s: Option<&ContractStatus>) -> String {
    s.map_or_else(
        || "absent".to_owned(),
        |s| {
            format!(
                "{}{}",
                s.status.state.as_str(),
                if s.status.transitioning { "*" } else { "" }
            )
        },
    )
}

/// Waits until the instance restarted by `svcadm restart` has settled on a new contract,
/// online or degraded. Maintenance (its start failed), disabled or gone fail the task. (An
/// instance that shows no contract is taken as restarted once it has been seen moving and is
/// settled online again, or has stayed settled [`NO_CONTRACT_GRACE`].) `before` is its
/// contract when the restart was asked for.
pub async fn await_restart(
    cx: &OpCx,
    fmri: &Fmri,
    before: Option<u64>,
) -> Result<Restart, OpError> {
    let started = Instant::now();
    // Without a contract to tell the restart by: seen moving, or settled this long.
    let mut moved = false;
    let polled = poll_state(cx, fmri, RESTART_WAIT, |now| {
        let Some(now) = now else {
            return Err(format!("{fmri} vanished while it restarted"));
        };
        match now.status.state {
            ServiceState::Maintenance => Err(format!(
                "{fmri} went to maintenance when it restarted (see its SMF log: svcs -xv {fmri})"
            )),
            ServiceState::Disabled => Err(format!("{fmri} was disabled while it restarted")),
            s if s.is_running() && !now.status.transitioning => {
                let restarted = now.ctid != before
                    || before.is_none() && (moved || started.elapsed() >= NO_CONTRACT_GRACE);
                Ok(restarted.then_some(()))
            }
            _ => {
                moved = true;
                Ok(None)
            }
        }
    })
    .await?;
    match polled {
        Polled::Decided(done) => done.map(|()| Restart::Done).map_err(OpError::failed),
        Polled::TimedOut(last) => Ok(Restart::StillGoing(last)),
    }
}

/// How a [`poll_state`] ended.
pub enum Polled<T, E> {
    /// The judge's answer.
    Decided(Result<T, E>),
    /// Its limit passed first; the last state seen.
    TimedOut(Option<ContractStatus>),
}

/// Reads the instance's state (`svcs -o state,ctid,fmri`) until `judge` decides (`Ok(Some)` or
/// `Err`) or `limit` passes, backing off from 10 ms to 500 ms between reads and stopping with
/// the task.
pub async fn poll_state<T, E>(
    cx: &OpCx,
    fmri: &Fmri,
    limit: Duration,
    mut judge: impl FnMut(Option<&ContractStatus>) -> Result<Option<T>, E>,
) -> Result<Polled<T, E>, OpError> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(10);
    loop {
        cx.check_cancelled()?;
        let now = smf::contract_status(&cx.runner, fmri).await?;
        match judge(now.as_ref()) {
            Ok(Some(v)) => return Ok(Polled::Decided(Ok(v))),
            Err(e) => return Ok(Polled::Decided(Err(e))),
            Ok(None) => {}
        }
        if started.elapsed() >= limit {
            return Ok(Polled::TimedOut(now));
        }
        cx.sleep(pause).await?;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}
