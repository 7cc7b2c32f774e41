//! `zw artifacts ...`: `/artifacts`; an upload is a streamed multipart form with a progress
//! bar, and carries the file's SHA-256 for the agent to check.

use std::io::{Cursor, IsTerminal, Read};
use std::path::Path;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sha2::{Digest, Sha256};

use crate::cli::ArtifactsCmd;
use crate::client::{enc, Body};
use crate::commands::{get, send};
use crate::Ctx;

pub fn run(ctx: &Ctx, cmd: ArtifactsCmd) -> Result<()> {
    match cmd {
        ArtifactsCmd::List => get(ctx, "/artifacts"),
        ArtifactsCmd::Show { id } => get(ctx, &format!("/artifacts/{}", enc(&id))),
        ArtifactsCmd::Delete { id } => send(
            ctx,
            "DELETE",
            &format!("/artifacts/{}", enc(&id)),
            Body::None,
        ),
        ArtifactsCmd::Upload { file } => upload(ctx, &file),
    }
}

/// Counts bytes read into a progress bar.
struct Counted<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

fn sha256_of(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// A file name as a quoted form-data parameter.
fn quoted(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_control())
        .map(|c| match c {
            '"' | '\\' => '_',
            c => c,
        })
        .collect()
}

/// The parts around the file's bytes: `sha256` first, then `file`.
pub fn form_parts(boundary: &str, filename: &str, sha256: &str) -> (String, String) {
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"sha256\"\r\n\r\n{sha256}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n",
        quoted(filename)
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    (head, tail)
}

fn upload(ctx: &Ctx, path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if !meta.is_file() {
        bail!("{} is not a file", path.display());
    }
    let size = meta.len();
    let sha256 = sha256_of(path)?;
    let filename = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "artifact".into());
    // The boundary must not occur in the content: one made of the file's own digest cannot
    // be there short of a SHA-256 preimage.
    let boundary = format!("zw-{}", &sha256[..32]);
    let (head, tail) = form_parts(&boundary, &filename, &sha256);
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(size), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30.cyan/blue}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_message(filename.clone());
    let file = std::fs::File::open(path)?;
    let len = head.len() as u64 + size + tail.len() as u64;
    let reader = Cursor::new(head.into_bytes())
        .chain(Counted {
            inner: file,
            bar: bar.clone(),
        })
        .chain(Cursor::new(tail.into_bytes()));
    let result = ctx.client.call(
        "POST",
        "/artifacts",
        Body::Stream {
            reader: Box::new(reader),
            len,
            content_type: format!("multipart/form-data; boundary={boundary}"),
        },
    );
    match &result {
        Ok(_) => bar.finish_and_clear(),
        Err(_) => bar.abandon(),
    }
    let reply = result?;
    ctx.finish(&reply, |ui, v| {
        let mut out = String::from("Uploaded\n");
        out.push_str(&crate::output::render_value(ui, v));
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_names_both_fields_and_closes() {
        let (head, tail) = form_parts("B", "a\"b.tar.gz", "00ff");
        assert_eq!(
            head,
            "--B\r\nContent-Disposition: form-data; name=\"sha256\"\r\n\r\n00ff\r\n--B\r\n\
             Content-Disposition: form-data; name=\"file\"; filename=\"a_b.tar.gz\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        );
        assert_eq!(tail, "\r\n--B--\r\n");
    }
}
