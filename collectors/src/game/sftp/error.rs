//! [`SftpError`]: everything that can go wrong on the way to a remote log file.

use std::time::Duration;

/// Everything that can go wrong, each as a sentence an admin can act on. No variant holds
/// the password.
#[derive(Debug, thiserror::Error)]
pub enum SftpError {
    /// The TCP connection failed (refused, no route, DNS…).
    #[error("could not connect to the SFTP server {server}: {cause}")]
    Unreachable {
        /// `host:port`.
        server: String,
        /// The operating system's reason.
        cause: String,
    },
    /// A step did not finish within [`SftpTarget::timeout`](super::SftpTarget::timeout).
    #[error("the SFTP server {server} did not answer within {timeout:?} while {stage}")]
    Timeout {
        /// `host:port`.
        server: String,
        /// What was being done, e.g. "logging in".
        stage: &'static str,
        /// The configured limit.
        timeout: Duration,
    },
    /// No host key is pinned; the connection was refused before logging in.
    #[error(
        "the SFTP server {server} presented host key {presented}; \
         set it as the server's SFTP host key to trust it"
    )]
    HostKeyNotPinned {
        /// `host:port`.
        server: String,
        /// The fingerprint the server presented (`SHA256:…`).
        presented: String,
    },
    /// The server's host key is not the pinned one (possible man-in-the-middle, or the
    /// server was reinstalled).
    #[error(
        "the SFTP server {server} presented host key {presented}, not the pinned {pinned}: \
         refusing to connect"
    )]
    HostKeyMismatch {
        /// `host:port`.
        server: String,
        /// The fingerprint the server presented (`SHA256:…`).
        presented: String,
        /// The configured pin.
        pinned: String,
    },
    /// The server rejected the user/password pair.
    #[error("the SFTP server {server} refused user '{user}' with this password")]
    AuthRejected {
        /// `host:port`.
        server: String,
        /// The login user.
        user: String,
    },
    /// The server rejected the user/key pair (the key is not authorised for the user).
    #[error("the SFTP server {server} refused user '{user}' with the key {key}")]
    KeyRejected {
        /// `host:port`.
        server: String,
        /// The login user.
        user: String,
        /// The key's public fingerprint (`SHA256:…`).
        key: String,
    },
    /// The server does not take keys (e.g. passwords only).
    #[error("the SFTP server {server} does not accept key logins (it offers: {offered})")]
    NoKeyLogin {
        /// `host:port`.
        server: String,
        /// The methods the server offers, comma-separated.
        offered: String,
    },
    /// The server does not take passwords (e.g. keys only).
    #[error("the SFTP server {server} does not accept password logins (it offers: {offered})")]
    NoPasswordLogin {
        /// `host:port`.
        server: String,
        /// The methods the server offers, comma-separated.
        offered: String,
    },
    /// The SSH layer failed (protocol error, disconnect during the handshake…).
    #[error("the SSH connection to {server} failed while {stage}: {cause}")]
    Ssh {
        /// `host:port`.
        server: String,
        /// What was being done.
        stage: &'static str,
        /// The SSH library's reason.
        cause: String,
    },
    /// The SSH server has no SFTP subsystem for this user.
    #[error("the SSH server {server} does not offer SFTP to user '{user}'")]
    NoSftp {
        /// `host:port`.
        server: String,
        /// The login user.
        user: String,
    },
    /// The configured folder is missing.
    #[error("the folder '{folder}' does not exist on the SFTP server {server}")]
    NoSuchFolder {
        /// `host:port`.
        server: String,
        /// The folder as configured.
        folder: String,
    },
    /// The configured folder is a file (or something else).
    #[error("'{folder}' on the SFTP server {server} is not a folder")]
    NotAFolder {
        /// `host:port`.
        server: String,
        /// The folder as configured.
        folder: String,
    },
    /// A file is missing (e.g. rotated away between `list` and `open`).
    #[error("the file '{path}' does not exist on the SFTP server {server}")]
    NoSuchFile {
        /// `host:port`.
        server: String,
        /// Remote path.
        path: String,
    },
    /// The server denied access to a path.
    #[error("the SFTP server {server} denied user '{user}' access to '{path}'")]
    PermissionDenied {
        /// `host:port`.
        server: String,
        /// The login user.
        user: String,
        /// Remote path.
        path: String,
    },
    /// A file name that is not a plain name inside the folder.
    #[error("'{name}' is not a plain file name (no '/', not '.' or '..')")]
    InvalidName {
        /// The rejected name.
        name: String,
    },
    /// Any other failure of an SFTP request.
    #[error("{action} '{path}' on the SFTP server {server} failed: {cause}")]
    Request {
        /// `host:port`.
        server: String,
        /// E.g. "listing", "reading".
        action: &'static str,
        /// Remote path.
        path: String,
        /// The server's or library's reason.
        cause: String,
    },
}
