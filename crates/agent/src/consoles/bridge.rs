//! A WebSocket on a [`Hub`]: output as binary frames, input from binary or text frames, a
//! JSON resize message, and a close frame with the session's end reason.
//!
//! Roles: anyone who may open the socket (viewer) watches; an operator or admin takes the
//! console's keyboard if nobody holds it. Input from a socket without the keyboard is not
//! typed: it gets one text frame `{"type":"error","message":...}` saying why, each time.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::hub::{Hub, Input};
use crate::http::ws::close_reason;
use crate::keys::store::Caller;
use crate::keys::Role;

/// `{"type":"resize","cols":80,"rows":24}`, as xterm.js front ends send it.
#[derive(Deserialize)]
struct Resize {
    #[serde(rename = "type")]
    kind: String,
    cols: u16,
    rows: u16,
}

fn resize_of(text: &str) -> Option<(u16, u16)> {
    let r: Resize = serde_json::from_str(text).ok()?;
    (r.kind == "resize" && r.cols > 0 && r.rows > 0).then_some((r.cols, r.rows))
}

fn notice(message: &str) -> Message {
    Message::Text(
        serde_json::json!({"type": "error", "message": message})
            .to_string()
            .into(),
    )
}

/// Close codes (RFC 6455 §7.4.1): a normal end, and a policy refusal (revoked key).
const NORMAL: u16 = 1000;
const POLICY: u16 = 1008;

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: close_reason(reason).into(),
    }))
}

/// Whether a connection got the keyboard (for the audit record).
pub fn may_type(caller: &Caller) -> bool {
    caller.role >= Role::Operator
}

/// Runs the socket until it closes, the session ends or the caller's key is revoked.
pub async fn run(
    mut socket: WebSocket,
    hub: Arc<Hub>,
    caller: Caller,
    revoked: impl std::future::Future<Output = ()> + Send,
) {
    let conn = hub.connection();
    let can_type = may_type(&caller);
    let mut writer = can_type && hub.take_keyboard(conn);
    let (scrollback, mut output) = hub.join();
    if !scrollback.is_empty()
        && socket
            .send(Message::Binary(scrollback.into()))
            .await
            .is_err()
    {
        hub.release_keyboard(conn);
        return;
    }
    tokio::pin!(revoked);
    loop {
        tokio::select! {
            // Output first: what the program printed before it ended reaches every watcher
            // before the close frame.
            biased;
            out = output.recv() => match out {
                Ok(data) => {
                    if socket.send(Message::Binary(data)).await.is_err() {
                        break;
                    }
                }
                // A watcher too slow for the console skips ahead rather than slow it down.
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            },
            reason = hub.until_ended() => {
                while let Ok(data) = output.try_recv() {
                    let _ = socket.send(Message::Binary(data)).await;
                }
                let _ = socket.send(close(NORMAL, &reason)).await;
                break;
            }
            () = &mut revoked => {
                let _ = socket.send(close(POLICY, "the API key was revoked")).await;
                break;
            }
            msg = socket.recv() => {
                let keys = match msg {
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Text(t))) => {
                        if let Some((cols, rows)) = resize_of(t.as_str()) {
                            if writer {
                                hub.send(Input::Resize { cols, rows }).await;
                            }
                            continue;
                        }
                        axum::body::Bytes::copy_from_slice(t.as_str().as_bytes())
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                };
                // The holder may have left since this socket joined.
                writer = writer || (can_type && hub.take_keyboard(conn));
                if writer {
                    hub.send(Input::Keys(keys)).await;
                } else {
                    let why = if can_type {
                        "another session holds this console's keyboard; this one only watches"
                    } else {
                        "read-only: typing into a console needs the operator role"
                    };
                    if socket.send(notice(why)).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
    hub.release_keyboard(conn);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_resize_message_is_a_resize() {
        assert_eq!(
            resize_of(r#"{"type":"resize","cols":120,"rows":40}"#),
            Some((120, 40))
        );
        assert_eq!(resize_of(r#"{"type":"input","cols":1,"rows":1}"#), None);
        assert_eq!(resize_of("ls\r"), None);
        assert_eq!(resize_of(r#"{"type":"resize","cols":0,"rows":40}"#), None);
    }
}
