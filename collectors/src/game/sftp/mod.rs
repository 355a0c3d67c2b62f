//! Pulls game-server log files over SFTP (password login, pinned host key).
//!
//! [`SftpFolder::connect`] opens one SSH connection with one SFTP channel onto one remote
//! folder; [`SftpFolder::list`] lists its `*.log` files and [`SftpFolder::open`] reads one
//! from an offset. The reader keeps its SFTP handle open, so a log that the game server
//! rotates away (renames) after the open is still read to its end, like `tail -F` would.
//!
//! The server's host key must be pinned: without a pin, or with a different one, the
//! connection is refused and the error names the fingerprint the server presented, in the
//! `SHA256:…` form that `ssh-keygen -lf` prints, so an admin can check it and paste it in.
//!
//! [`SftpTarget`] and the host-key check are in `target.rs`, [`SftpError`] in `error.rs`,
//! the connected [`SftpFolder`] and its reader in `folder.rs`, and [`SftpSource`], the
//! [`LogFolder`](crate::game::tail::LogFolder) the folder tailer reads, in `source.rs`.

mod error;
mod folder;
mod source;
mod target;

pub use error::SftpError;
pub use folder::{RemoteFile, SftpFolder};
pub use source::SftpSource;
pub use target::{
    KeyProblem, SftpAuth, SftpTarget, fingerprint, open_private_key, private_key_text,
};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
