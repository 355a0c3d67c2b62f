//! Secrets at rest: game server passwords and SFTP keys are stored sealed with
//! XChaCha20-Poly1305 under a 32-byte key that lives outside the database
//! (`GUILDHALL_SECRET_KEY`), never in clear.
//!
//! A sealed value is one `bytea`:
//!
//! | bytes | what |
//! |---|---|
//! | 1 | format version (1) |
//! | 4 | key id: the first 4 bytes of SHA-256("guildhall secret key id" ‖ key) |
//! | 24 | random nonce |
//! | rest | ciphertext and the 16-byte tag |
//!
//! The associated data names where the value lives (`table/column/row id`), so a sealed
//! value copied to another row or column does not open. The key id tells a wrong key from
//! a damaged value, and names the key the secrets need in error messages.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use std::fmt;

/// The format version written by [`SecretKey::seal`].
const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 4;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;
const TAG_LEN: usize = 16;

/// The key secrets are sealed with. `Debug` shows only its id.
#[derive(Clone)]
pub struct SecretKey {
    key: [u8; 32],
    id: [u8; KEY_ID_LEN],
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.key.ct_eq(&other.key).into()
    }
}

impl Eq for SecretKey {}

/// Why a key setting is not a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("it is empty")]
    Empty,
    #[error(
        "it is not 32 bytes in base64 (44 characters) or hex (64 characters); \
         create one with `guildhall secrets new-key`"
    )]
    NotAKey,
}

/// Why a sealed value does not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// It was sealed with another key.
    #[error("it was sealed with key id {sealed_with}, not with the key set (id {key})")]
    WrongKey { sealed_with: String, key: String },
    /// The key id matches but the value does not open: it was changed or moved.
    #[error(
        "it does not open with the key it was sealed with: the stored value was changed or copied from elsewhere"
    )]
    Damaged,
    /// Written by a newer Guildhall.
    #[error("it is in format version {0}, which this Guildhall does not know (newer?)")]
    UnknownVersion(u8),
    /// Too short to be a sealed value.
    #[error("it is not a sealed value")]
    Malformed,
}

/// Where a sealed value lives: part of what it is sealed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub row: i64,
}

impl Place<'_> {
    fn associated_data(&self) -> Vec<u8> {
        format!("guildhall/{}/{}/{}", self.table, self.column, self.row).into_bytes()
    }
}

impl SecretKey {
    /// A new random key.
    pub fn generate() -> SecretKey {
        SecretKey::from_bytes(Key::generate().into())
    }

    /// A key from its 32 bytes.
    pub fn from_bytes(key: [u8; 32]) -> SecretKey {
        let mut hash = Sha256::new();
        hash.update(b"guildhall secret key id");
        hash.update(key);
        let digest = hash.finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        SecretKey { key, id }
    }

    /// Reads a key written as base64 (standard or URL-safe alphabet, padding optional) or as
    /// 64 hex digits; blanks around it are ignored.
    pub fn parse(text: &str) -> Result<SecretKey, KeyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(KeyError::Empty);
        }
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| KeyError::NotAKey)?
        } else {
            let unpadded = text.trim_end_matches('=');
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(unpadded)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(unpadded))
                .map_err(|_| KeyError::NotAKey)?
        };
        let key: [u8; 32] = bytes.try_into().map_err(|_| KeyError::NotAKey)?;
        Ok(SecretKey::from_bytes(key))
    }

    /// The key in standard base64, as `guildhall secrets new-key` prints it.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.key)
    }

    /// The key's id (8 hex digits): names the key without revealing it.
    pub fn id(&self) -> String {
        hex(&self.id)
    }

    /// Seals `plaintext` for `place` under a fresh random nonce.
    pub fn seal(&self, place: Place<'_>, plaintext: &[u8]) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new(&Key::from(self.key));
        let nonce = XNonce::generate();
        let aad = place.associated_data();
        // Encryption fails only for messages beyond ~256 GiB.
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .unwrap_or_default();
        let mut sealed = Vec::with_capacity(HEADER_LEN + ciphertext.len());
        sealed.push(VERSION);
        sealed.extend_from_slice(&self.id);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// Seals text (a password, a key file).
    pub fn seal_str(&self, place: Place<'_>, plaintext: &str) -> Vec<u8> {
        self.seal(place, plaintext.as_bytes())
    }

    /// Opens a value sealed for `place`.
    pub fn open(&self, place: Place<'_>, sealed: &[u8]) -> Result<Vec<u8>, SecretError> {
        let version = *sealed.first().ok_or(SecretError::Malformed)?;
        if version != VERSION {
            return Err(SecretError::UnknownVersion(version));
        }
        if sealed.len() < HEADER_LEN + TAG_LEN {
            return Err(SecretError::Malformed);
        }
        let sealed_with = &sealed[1..1 + KEY_ID_LEN];
        if sealed_with != self.id {
            return Err(SecretError::WrongKey {
                sealed_with: hex(sealed_with),
                key: self.id(),
            });
        }
        let nonce: [u8; NONCE_LEN] = sealed[1 + KEY_ID_LEN..HEADER_LEN]
            .try_into()
            .map_err(|_| SecretError::Malformed)?;
        let aad = place.associated_data();
        XChaCha20Poly1305::new(&Key::from(self.key))
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &sealed[HEADER_LEN..],
                    aad: &aad,
                },
            )
            .map_err(|_| SecretError::Damaged)
    }

    /// Opens sealed text.
    pub fn open_str(&self, place: Place<'_>, sealed: &[u8]) -> Result<String, SecretError> {
        String::from_utf8(self.open(place, sealed)?).map_err(|_| SecretError::Damaged)
    }
}

/// The id of the key a sealed value was sealed with, if it is a sealed value.
pub fn sealed_key_id(sealed: &[u8]) -> Option<String> {
    (sealed.len() >= HEADER_LEN && sealed[0] == VERSION).then(|| hex(&sealed[1..1 + KEY_ID_LEN]))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a log ingest token: what the database keeps instead of the token. A token is
/// 256 random bits, so a plain hash cannot be reversed by guessing.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Compares two token hashes in constant time.
pub fn same_hash(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// A new random log ingest token (256 bits, hex).
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex(&bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const HERE: Place<'static> = Place {
        table: "app.game_servers",
        column: "rcon_password_sealed",
        row: 7,
    };

    #[test]
    fn sealed_text_opens_with_the_same_key_and_place_only() {
        let key = SecretKey::generate();
        let sealed = key.seal_str(HERE, "hunter2");
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(sealed.len(), HEADER_LEN + 7 + TAG_LEN);
        assert_eq!(sealed[0], VERSION);
        assert_eq!(key.open_str(HERE, &sealed).unwrap(), "hunter2");
        let other_row = Place { row: 8, ..HERE };
        assert_eq!(key.open(other_row, &sealed), Err(SecretError::Damaged));
        let other_column = Place {
            column: "sftp_password_sealed",
            ..HERE
        };
        assert_eq!(key.open(other_column, &sealed), Err(SecretError::Damaged));
        let other = SecretKey::generate();
        assert_eq!(
            other.open(HERE, &sealed),
            Err(SecretError::WrongKey {
                sealed_with: key.id(),
                key: other.id()
            })
        );
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(key.open(HERE, &flipped), Err(SecretError::Damaged));
        assert_eq!(sealed_key_id(&sealed), Some(key.id()));
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let key = SecretKey::generate();
        assert_ne!(key.seal_str(HERE, "same"), key.seal_str(HERE, "same"));
    }

    #[test]
    fn keys_are_read_from_base64_and_hex() {
        let key = SecretKey::from_bytes([0xab; 32]);
        let b64 = key.to_base64();
        assert_eq!(b64.len(), 44);
        assert_eq!(SecretKey::parse(&b64).unwrap(), key);
        assert_eq!(SecretKey::parse(&format!(" {b64}\n")).unwrap(), key);
        assert_eq!(SecretKey::parse(b64.trim_end_matches('=')).unwrap(), key);
        assert_eq!(SecretKey::parse(&"ab".repeat(32)).unwrap(), key);
        assert_eq!(SecretKey::parse(&"AB".repeat(32)).unwrap(), key);
        assert_eq!(SecretKey::parse(""), Err(KeyError::Empty));
        assert_eq!(SecretKey::parse("short"), Err(KeyError::NotAKey));
        assert_eq!(SecretKey::parse(&"ab".repeat(31)), Err(KeyError::NotAKey));
        assert_eq!(
            SecretKey::parse(&base64::engine::general_purpose::STANDARD.encode([1u8; 31])),
            Err(KeyError::NotAKey)
        );
        assert_eq!(key.id().len(), 8);
        assert_ne!(key.id(), SecretKey::from_bytes([0xac; 32]).id());
        assert!(!format!("{key:?}").contains(&b64));
    }

    #[test]
    fn token_hashes_compare_equal_only_for_the_same_token() {
        let token = new_token();
        assert_eq!(token.len(), 64);
        assert!(same_hash(&token_hash(&token), &token_hash(&token)));
        assert!(!same_hash(&token_hash(&token), &token_hash(&new_token())));
        assert!(!same_hash(&token_hash(&token), &[]));
    }
}
