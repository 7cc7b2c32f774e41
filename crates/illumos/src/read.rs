//! The one failure of the read-only tools that describe the machine (uname, kstat, psrinfo,
//! pagesize): the command failed, or it printed something its parser does not know.

use crate::cmd::Tool;
use crate::runner::CommandError;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error("unexpected {tool} output: {why}")]
    Parse { tool: Tool, why: String },
}

impl ReadError {
    pub fn parse(tool: Tool, why: impl Into<String>) -> Self {
        ReadError::Parse {
            tool,
            why: why.into(),
        }
    }
}
