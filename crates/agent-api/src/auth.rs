//! Where the workspace's agent keeps its bearer token, and reading it.
//!
//! The agent writes a new random token at start to `.terrane/agent/token` with mode
//! 0600, so only the user who owns the workspace can read it; clients send it as
//! `Authorization: Bearer`. Creating the token and checking requests against it is the
//! runtime's (`terrane_agent::auth`).

use std::path::{Path, PathBuf};

/// Where the workspace's agent keeps its token.
pub fn token_path(agent_dir: &Path) -> PathBuf {
    agent_dir.join("token")
}

/// The token of the workspace's agent, if one was written.
pub fn read_token(agent_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(token_path(agent_dir)).ok()?;
    let token = text.trim();
    (!token.is_empty()).then(|| token.to_string())
}
