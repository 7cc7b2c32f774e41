//! pagesize: the base page size in bytes (illumos-gate `man1/pagesize.1`; not in the
//! reference). kstat counts memory in pages of this size.

use crate::cmd::{Cmd, Tool};
use crate::read::ReadError;
use crate::runner::Runner;

pub fn pagesize_cmd() -> Cmd {
    Cmd::new(Tool::Pagesize).quiet()
}

pub fn parse(text: &str) -> Result<u64, ReadError> {
    text.trim()
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ReadError::parse(Tool::Pagesize, format!("not a page size: {text:?}")))
}

pub async fn read(run: &Runner) -> Result<u64, ReadError> {
    parse(&run.output(&pagesize_cmd()).await?.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_on_one_line() {
        assert_eq!(parse("4096\n").unwrap(), 4096);
        assert!(parse("").is_err());
        assert!(parse("0\n").is_err());
    }
}
