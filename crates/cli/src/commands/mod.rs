//! One module per area of the API; each command is one request (or a few) and a printer.

pub mod artifacts;
pub mod login;
pub mod meta;
pub mod net;
pub mod tasks;
pub mod zones;

use anyhow::Result;
use serde_json::Value;

use crate::cli::{BodyArgs, Command, KeysCmd, ProvisionCmd, RecipesCmd};
use crate::client::{enc, Body};
use crate::output::render_value;
use crate::{body, Ctx};

pub fn dispatch(ctx: &Ctx, command: Command) -> Result<()> {
    match command {
        Command::Health => get(ctx, "/health"),
        Command::Zones(cmd) => zones::run(ctx, cmd),
        Command::Tasks(cmd) => tasks::run(ctx, cmd),
        Command::Net(cmd) => net::run(ctx, cmd),
        Command::Provision(args) => match (args.action, args.zone) {
            (Some(ProvisionCmd::Status { zone }), _) => {
                get(ctx, &format!("/zones/{}/provision/status", enc(&zone)))
            }
            (Some(ProvisionCmd::Cancel { zone }), _) => send(
                ctx,
                "POST",
                &format!("/zones/{}/provision/cancel", enc(&zone)),
                Body::None,
            ),
            (Some(ProvisionCmd::Rollback { zone }), _) => send(
                ctx,
                "POST",
                &format!("/zones/{}/provision/rollback", enc(&zone)),
                Body::None,
            ),
            (None, Some(zone)) => {
                let follow = Ctx {
                    client: ctx.client.clone(),
                    ui: ctx.ui,
                    json: ctx.json,
                    wait: ctx.wait || args.follow,
                };
                send(
                    &follow,
                    "POST",
                    &format!("/zones/{}/provision", enc(&zone)),
                    Body::None,
                )
            }
            (None, None) => unreachable!("clap requires a zone or an action"),
        },
        Command::Recipes(cmd) => match cmd {
            RecipesCmd::List => get(ctx, "/provisioning/recipes"),
            RecipesCmd::Show { id } => get(ctx, &format!("/provisioning/recipes/{}", enc(&id))),
            RecipesCmd::Create(b) => send_body(ctx, "POST", "/provisioning/recipes", &b),
            RecipesCmd::Update { id, body } => send_body(
                ctx,
                "PUT",
                &format!("/provisioning/recipes/{}", enc(&id)),
                &body,
            ),
            RecipesCmd::Delete { id } => send(
                ctx,
                "DELETE",
                &format!("/provisioning/recipes/{}", enc(&id)),
                Body::None,
            ),
            RecipesCmd::Test { id, body } => send_body(
                ctx,
                "POST",
                &format!("/provisioning/recipes/{}/test", enc(&id)),
                &body,
            ),
        },
        Command::Artifacts(cmd) => artifacts::run(ctx, cmd),
        Command::Keys(cmd) => match cmd {
            KeysCmd::List => get(ctx, "/api-keys"),
            KeysCmd::Create(b) => send_body(ctx, "POST", "/api-keys", &b),
            KeysCmd::Revoke { id } => send(
                ctx,
                "DELETE",
                &format!("/api-keys/{}", enc(&id)),
                Body::None,
            ),
        },
        Command::Login(_)
        | Command::Hosts(_)
        | Command::Completions { .. }
        | Command::Man { .. } => {
            unreachable!("handled before a host is chosen")
        }
    }
}

/// GET and print (a table for lists, a listing otherwise).
pub fn get(ctx: &Ctx, path: &str) -> Result<()> {
    let reply = ctx.client.get(path)?;
    ctx.finish(&reply, render_value)
}

/// Send and print; a queued task is reported (and followed with `--wait`).
pub fn send(ctx: &Ctx, method: &str, path: &str, body: Body) -> Result<()> {
    let reply = ctx.client.call(method, path, body)?;
    ctx.finish(&reply, generic_done)
}

/// Send a body made of `-f FILE` and FIELD=VALUE arguments.
pub fn send_body(ctx: &Ctx, method: &str, path: &str, args: &BodyArgs) -> Result<()> {
    let b = body::build(args.file.as_deref(), &args.fields)?;
    send(ctx, method, path, Body::Json(b))
}

/// After a change: the answer's message, then whatever else it holds.
fn generic_done(ui: &crate::output::Ui, v: &Value) -> String {
    let mut rest = v.clone();
    let mut out = String::new();
    if let Some(o) = rest.as_object_mut() {
        if let Some(Value::String(m)) = o.remove("message") {
            out.push_str(&m);
            out.push('\n');
        }
        o.remove("success");
        if o.is_empty() {
            return out;
        }
    }
    out.push_str(&render_value(ui, &rest));
    out
}
