//! Where and how to log in to an SFTP server ([`SftpTarget`]), and the check of the
//! server's host key against the pinned fingerprint.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use russh::client;
use russh::keys::{HashAlg, PrivateKey, PublicKey, PublicKeyOrCertificate};

use super::SftpError;

/// How to log in: a password, or a private key. `Debug` never shows either.
#[derive(Clone)]
pub enum SftpAuth {
    Password(String),
    Key(Arc<PrivateKey>),
}

/// Why a private key cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyProblem {
    /// Not an OpenSSH (or PEM) private key.
    #[error("this is not a private key in OpenSSH format (-----BEGIN OPENSSH PRIVATE KEY-----)")]
    NotAKey,
    /// Encrypted, and no passphrase was given.
    #[error("this private key is protected by a passphrase: give the passphrase too")]
    NeedsPassphrase,
    /// Encrypted, and the passphrase does not open it.
    #[error("the passphrase does not open this private key")]
    WrongPassphrase,
    /// An RSA key: refused, so that Guildhall never signs with an RSA private key (the
    /// `rsa` crate's private-key operations are not constant-time, RUSTSEC-2023-0071).
    #[error(
        "RSA keys are not accepted: make an Ed25519 key (ssh-keygen -t ed25519) and add its public key to the server"
    )]
    Rsa,
}

impl SftpAuth {
    /// A private key in OpenSSH format (PEM/PKCS#8 too), opened with `passphrase` when it
    /// is protected by one.
    pub fn key(text: &str, passphrase: Option<&str>) -> Result<SftpAuth, KeyProblem> {
        open_private_key(text, passphrase).map(|key| SftpAuth::Key(Arc::new(key)))
    }
}

/// Reads a private key, opened with `passphrase` when it is protected by one. RSA keys are
/// refused ([`KeyProblem::Rsa`]).
pub fn open_private_key(text: &str, passphrase: Option<&str>) -> Result<PrivateKey, KeyProblem> {
    let key = open_any_private_key(text, passphrase)?;
    if key.algorithm().is_rsa() {
        return Err(KeyProblem::Rsa);
    }
    Ok(key)
}

fn open_any_private_key(text: &str, passphrase: Option<&str>) -> Result<PrivateKey, KeyProblem> {
    let passphrase = passphrase.filter(|p| !p.is_empty());
    if let Ok(key) = PrivateKey::from_openssh(text.trim()) {
        if !key.is_encrypted() {
            return Ok(key);
        }
        let Some(passphrase) = passphrase else {
            return Err(KeyProblem::NeedsPassphrase);
        };
        return key
            .decrypt(passphrase)
            .map_err(|_| KeyProblem::WrongPassphrase);
    }
    russh::keys::decode_secret_key(text, passphrase).map_err(|_| match passphrase {
        Some(_) => KeyProblem::WrongPassphrase,
        None => KeyProblem::NotAKey,
    })
}

/// The key unprotected, in OpenSSH format: how a key is kept sealed (the passphrase is
/// needed once, to open it, and not stored).
pub fn private_key_text(key: &PrivateKey) -> Option<String> {
    key.to_openssh(russh::keys::ssh_key::LineEnding::LF)
        .ok()
        .map(|text| text.to_string())
}

impl fmt::Debug for SftpAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SftpAuth::Password(_) => f.write_str("Password(<redacted>)"),
            SftpAuth::Key(key) => write!(f, "Key({})", fingerprint(key.public_key())),
        }
    }
}

/// Where and how to log in. `Debug` never shows the password or the key.
#[derive(Clone)]
pub struct SftpTarget {
    /// Host name or IP address of the SFTP server.
    pub host: String,
    /// TCP port, usually 22.
    pub port: u16,
    /// Login user.
    pub user: String,
    /// Login password or key (never logged nor put in errors).
    pub auth: SftpAuth,
    /// The pinned host key fingerprint, `SHA256:<base64 without padding>` exactly like
    /// `ssh-keygen -lf` prints. `None` refuses to connect; the error then tells the
    /// fingerprint the server presented.
    pub host_key: Option<String>,
    /// Limit for the TCP connect, for each step of the login, and for each SFTP request
    /// (SFTP requests are timed in whole seconds, rounded up).
    pub timeout: Duration,
}

impl fmt::Debug for SftpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SftpTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("auth", &self.auth)
            .field("host_key", &self.host_key)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl SftpTarget {
    /// `host:port` for messages (`[v6]:port` for IPv6 addresses).
    pub(super) fn server(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The host key fingerprint as `ssh-keygen -lf` prints it: `SHA256:<base64, no padding>`.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Normalises a configured pin: trims blanks, accepts a missing or lower-case `SHA256:`
/// prefix and trailing `=` padding.
fn normalize_pin(pin: &str) -> String {
    let pin = pin.trim();
    let body = match pin.split_once(':') {
        Some((alg, body)) if alg.eq_ignore_ascii_case("sha256") => body,
        _ => pin,
    };
    format!("SHA256:{}", body.trim().trim_end_matches('='))
}

/// What the russh handler can fail with: a host-key verdict of ours, or russh's own error.
#[derive(Debug)]
pub(super) enum HandlerError {
    HostKey(SftpError),
    Ssh(russh::Error),
}

impl From<russh::Error> for HandlerError {
    fn from(e: russh::Error) -> Self {
        Self::Ssh(e)
    }
}

/// Checks the server's host key against the pin.
pub(super) struct Verifier {
    pub(super) server: String,
    pub(super) pin: Option<String>,
}

impl client::Handler for Verifier {
    type Error = HandlerError;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let presented = fingerprint(&server_public_key.public_key());
        match &self.pin {
            None => Err(HandlerError::HostKey(SftpError::HostKeyNotPinned {
                server: self.server.clone(),
                presented,
            })),
            Some(pin) if normalize_pin(pin) == presented => Ok(true),
            Some(pin) => Err(HandlerError::HostKey(SftpError::HostKeyMismatch {
                server: self.server.clone(),
                presented,
                pinned: pin.trim().to_string(),
            })),
        }
    }
}
