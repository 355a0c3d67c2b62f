//! Tests of the SFTP client against the fake SFTP server: listing, reading, rotation,
//! host-key pinning and the sentence of each error.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{
    KeyProblem, SftpAuth, SftpError, SftpFolder, SftpTarget, fingerprint, open_private_key,
    private_key_text,
};
use crate::testing::fake_sftp::{FakeSftp, MAX_READ};

const USER: &str = "logs";
const PW: &str = "hunter2-very-secret";

/// A temporary folder, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("sftp-test-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        Self(dir)
    }
    fn logs(&self) -> PathBuf {
        self.0.join("logs")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn target(fake: &FakeSftp) -> SftpTarget {
    SftpTarget {
        host: fake.addr.ip().to_string(),
        port: fake.addr.port(),
        user: USER.to_string(),
        auth: SftpAuth::Password(PW.to_string()),
        host_key: Some(fake.fingerprint.clone()),
        timeout: Duration::from_secs(5),
    }
}

async fn setup() -> (TempDir, FakeSftp) {
    let dir = TempDir::new();
    let fake = FakeSftp::start(dir.0.clone(), USER, PW).await.unwrap();
    (dir, fake)
}

async fn folder(fake: &FakeSftp) -> SftpFolder {
    SftpFolder::connect(&target(fake), "/logs").await.unwrap()
}

fn write(path: &Path, data: &[u8]) {
    std::fs::write(path, data).unwrap();
}

fn append(path: &Path, data: &[u8]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(data).unwrap();
}

async fn read_rest(mut r: impl AsyncRead + Unpin) -> Vec<u8> {
    let mut out = Vec::new();
    r.read_to_end(&mut out).await.unwrap();
    out
}

fn connect_err(e: Result<SftpFolder, SftpError>) -> SftpError {
    match e {
        Ok(f) => panic!("connected: {f:?}"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn list_shows_only_regular_log_files_sorted_with_len() {
    let (dir, fake) = setup().await;
    let logs = dir.logs();
    write(&logs.join("b.log"), b"0123456789");
    write(&logs.join("a.log"), b"");
    write(&logs.join("old.log.gz"), b"gz");
    write(&logs.join("notes.txt"), b"txt");
    std::fs::create_dir(logs.join("dir.log")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(logs.join("b.log"), logs.join("link.log")).unwrap();

    let before = Utc::now() - chrono::Duration::seconds(5);
    let files = folder(&fake).await.list().await.unwrap();
    let names: Vec<_> = files.iter().map(|f| (f.name.as_str(), f.len)).collect();
    assert_eq!(names, [("a.log", 0), ("b.log", 10)]);
    assert!(files.iter().all(|f| f.modified >= before));
}

#[tokio::test]
async fn relative_and_absolute_folder_paths_work() {
    let (dir, fake) = setup().await;
    write(&dir.logs().join("x.log"), b"x");
    for path in ["logs", "/logs", "./logs/", "/logs/../logs"] {
        let f = SftpFolder::connect(&target(&fake), path).await.unwrap();
        assert_eq!(f.path(), "/logs");
        assert_eq!(f.list().await.unwrap().len(), 1, "{path}");
    }
}

#[tokio::test]
async fn open_at_offset_reads_exactly_the_rest() {
    let (dir, fake) = setup().await;
    write(&dir.logs().join("s.log"), b"hello world\nsecond line\n");
    let f = folder(&fake).await;
    assert_eq!(
        read_rest(f.open("s.log", 6).await.unwrap()).await,
        b"world\nsecond line\n"
    );
    assert_eq!(read_rest(f.open("s.log", 24).await.unwrap()).await, b"");
    assert_eq!(read_rest(f.open("s.log", 1000).await.unwrap()).await, b"");
}

#[tokio::test]
async fn head_and_read_all() {
    let (dir, fake) = setup().await;
    write(&dir.logs().join("s.log"), b"0123456789");
    let f = folder(&fake).await;
    assert_eq!(f.head("s.log", 4).await.unwrap(), b"0123");
    assert_eq!(f.head("s.log", 100).await.unwrap(), b"0123456789");
    assert_eq!(f.head("s.log", 0).await.unwrap(), b"");
    assert_eq!(f.read_all("s.log").await.unwrap(), b"0123456789");
}

#[tokio::test]
async fn growing_file_is_read_further_from_the_new_offset() {
    let (dir, fake) = setup().await;
    let path = dir.logs().join("g.log");
    write(&path, b"line 1\n");
    let f = folder(&fake).await;
    let first = read_rest(f.open("g.log", 0).await.unwrap()).await;
    assert_eq!(first, b"line 1\n");

    append(&path, b"line 2\nline 3\n");
    assert_eq!(f.list().await.unwrap()[0].len, 21);
    let more = read_rest(f.open("g.log", first.len() as u64).await.unwrap()).await;
    assert_eq!(more, b"line 2\nline 3\n");
}

#[tokio::test]
async fn open_handle_survives_rotation() {
    let (dir, fake) = setup().await;
    let logs = dir.logs();
    write(&logs.join("server.log"), b"old-0123456789");
    let f = folder(&fake).await;
    let old = f.open("server.log", 4).await.unwrap();

    std::fs::rename(logs.join("server.log"), logs.join("server-1.log.gz")).unwrap();
    write(&logs.join("server.log"), b"new!");

    assert_eq!(read_rest(old).await, b"0123456789");
    let files = f.list().await.unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!((files[0].name.as_str(), files[0].len), ("server.log", 4));
    assert_eq!(f.read_all("server.log").await.unwrap(), b"new!");
}

#[tokio::test]
async fn reader_outlives_the_folder() {
    let (dir, fake) = setup().await;
    write(&dir.logs().join("s.log"), b"still here");
    let f = folder(&fake).await;
    let r = f.open("s.log", 0).await.unwrap();
    drop(f);
    assert_eq!(read_rest(r).await, b"still here");
}

#[tokio::test]
async fn twenty_megabytes_read_byte_exact_through_capped_reads() {
    let (dir, fake) = setup().await;
    let len = 20 * 1024 * 1024 + 123; // not a multiple of the read size
    let data: Vec<u8> = (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    write(&dir.logs().join("big.log"), &data);
    let f = folder(&fake).await;
    assert_eq!(f.list().await.unwrap()[0].len, len as u64);

    let got = read_rest(f.open("big.log", 0).await.unwrap()).await;
    assert_eq!(got.len(), data.len());
    assert!(got == data, "content differs");

    // From an offset inside a read-sized block.
    let off = 3 * MAX_READ + 17;
    let got = read_rest(f.open("big.log", off as u64).await.unwrap()).await;
    assert!(got == data[off..], "content from {off} differs");
}

#[tokio::test]
async fn wrong_password_is_refused_without_showing_it() {
    let (_dir, fake) = setup().await;
    let mut t = target(&fake);
    t.auth = SftpAuth::Password("not-the-password".to_string());
    let e = connect_err(SftpFolder::connect(&t, "/logs").await);
    assert!(matches!(e, SftpError::AuthRejected { .. }), "{e:?}");
    let msg = e.to_string();
    assert_eq!(
        msg,
        format!(
            "the SFTP server {} refused user 'logs' with this password",
            fake.addr
        )
    );
    assert!(!format!("{e:?}").contains("not-the-password"));

    let mut t = target(&fake);
    t.user = "root".to_string();
    let e = connect_err(SftpFolder::connect(&t, "/logs").await);
    assert!(e.to_string().contains("refused user 'root'"), "{e}");
}

#[tokio::test]
async fn unpinned_host_key_is_refused_and_named() {
    let (_dir, fake) = setup().await;
    let mut t = target(&fake);
    t.host_key = None;
    let e = connect_err(SftpFolder::connect(&t, "/logs").await);
    assert_eq!(
        e.to_string(),
        format!(
            "the SFTP server {} presented host key {}; set it as the server's SFTP host key to trust it",
            fake.addr, fake.fingerprint
        )
    );
    assert!(fake.fingerprint.starts_with("SHA256:"));
    assert_eq!(fake.fingerprint.len(), "SHA256:".len() + 43);
}

#[tokio::test]
async fn wrong_pin_is_refused() {
    let (_dir, fake) = setup().await;
    let mut t = target(&fake);
    let wrong = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    t.host_key = Some(wrong.to_string());
    let e = connect_err(SftpFolder::connect(&t, "/logs").await);
    assert!(matches!(e, SftpError::HostKeyMismatch { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "the SFTP server {} presented host key {}, not the pinned {wrong}: refusing to connect",
            fake.addr, fake.fingerprint
        )
    );
}

#[tokio::test]
async fn pin_may_lack_prefix_or_carry_padding() {
    let (dir, fake) = setup().await;
    write(&dir.logs().join("x.log"), b"x");
    let bare = fake.fingerprint.trim_start_matches("SHA256:").to_string();
    for pin in [bare.clone(), format!(" sha256:{bare}= ")] {
        let mut t = target(&fake);
        t.host_key = Some(pin);
        SftpFolder::connect(&t, "logs").await.unwrap();
    }
}

#[tokio::test]
async fn missing_folder_and_file_are_named() {
    let (dir, fake) = setup().await;
    write(&dir.0.join("plain.txt"), b"x");
    let t = target(&fake);
    let e = connect_err(SftpFolder::connect(&t, "/nope").await);
    assert_eq!(
        e.to_string(),
        format!(
            "the folder '/nope' does not exist on the SFTP server {}",
            fake.addr
        )
    );
    let e = connect_err(SftpFolder::connect(&t, "/plain.txt").await);
    assert!(matches!(e, SftpError::NotAFolder { .. }), "{e:?}");

    let f = folder(&fake).await;
    let e = f.open("gone.log", 0).await.err().unwrap();
    assert_eq!(
        e.to_string(),
        format!(
            "the file '/logs/gone.log' does not exist on the SFTP server {}",
            fake.addr
        )
    );
    let e = f.head("../plain.txt", 1).await.err().unwrap();
    assert!(matches!(e, SftpError::InvalidName { .. }), "{e:?}");
}

#[tokio::test]
async fn paths_cannot_escape_the_served_root() {
    let (_dir, fake) = setup().await;
    let e = connect_err(SftpFolder::connect(&target(&fake), "/../..").await);
    assert!(matches!(e, SftpError::PermissionDenied { .. }), "{e:?}");
}

#[tokio::test]
async fn connection_refused_names_host_and_cause() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let t = SftpTarget {
        host: "127.0.0.1".to_string(),
        port,
        user: USER.to_string(),
        auth: SftpAuth::Password(PW.to_string()),
        host_key: None,
        timeout: Duration::from_secs(5),
    };
    let e = connect_err(SftpFolder::connect(&t, "/").await);
    assert!(matches!(e, SftpError::Unreachable { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "could not connect to the SFTP server 127.0.0.1:{port}: "
        )),
        "{msg}"
    );
    assert!(msg.to_lowercase().contains("refused"), "{msg}");
}

#[tokio::test]
async fn silent_server_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let _hold = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(s);
    });
    let t = SftpTarget {
        host: addr.ip().to_string(),
        port: addr.port(),
        user: USER.to_string(),
        auth: SftpAuth::Password(PW.to_string()),
        host_key: None,
        timeout: Duration::from_millis(300),
    };
    let e = connect_err(SftpFolder::connect(&t, "/").await);
    assert_eq!(
        e.to_string(),
        format!("the SFTP server {addr} did not answer within 300ms while exchanging keys")
    );
}

#[test]
fn debug_hides_the_password() {
    let t = SftpTarget {
        host: "h".to_string(),
        port: 22,
        user: "u".to_string(),
        auth: SftpAuth::Password(PW.to_string()),
        host_key: None,
        timeout: Duration::from_secs(1),
    };
    let s = format!("{t:?}");
    assert!(!s.contains(PW) && s.contains("<redacted>"), "{s}");
}

/// A fresh ed25519 key, in OpenSSH format without passphrase.
fn ed25519_key() -> russh::keys::PrivateKey {
    use russh::keys::ssh_key::private::{Ed25519Keypair, KeypairData};
    let seed: [u8; 32] = rand::random();
    russh::keys::PrivateKey::new(
        KeypairData::from(Ed25519Keypair::from_seed(&seed)),
        "guildhall-test",
    )
    .unwrap()
}

/// A key made by the real `ssh-keygen` (`-t rsa` or `ed25519`), protected by `passphrase`
/// (empty: none): its private key text and its public key.
fn ssh_keygen(dir: &TempDir, kind: &str, passphrase: &str) -> (String, russh::keys::PublicKey) {
    let path = dir.0.join(format!("id_{kind}_{}", rand::random::<u32>()));
    let status = std::process::Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            kind,
            "-N",
            passphrase,
            "-C",
            "guildhall-test",
            "-f",
        ])
        .arg(&path)
        .status()
        .expect("ssh-keygen (openssh-client) must be installed");
    assert!(status.success());
    let private = std::fs::read_to_string(&path).unwrap();
    let public = russh::keys::load_public_key(path.with_extension("pub")).unwrap();
    (private, public)
}

#[tokio::test]
async fn key_login_lists_the_folder() {
    let dir = TempDir::new();
    write(&dir.logs().join("a.log"), b"line\n");
    let key = ed25519_key();
    let fake = FakeSftp::start_with_key(dir.0.clone(), USER, None, key.public_key().clone())
        .await
        .unwrap();
    let text = private_key_text(&key).unwrap();
    assert!(text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
    let mut t = target(&fake);
    t.auth = SftpAuth::key(&text, None).unwrap();
    let folder = SftpFolder::connect(&t, "/logs").await.unwrap();
    let names: Vec<String> = folder
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, vec!["a.log".to_string()]);
    folder.close().await;
}

#[test]
fn an_rsa_key_is_refused_with_what_to_do_instead() {
    let dir = TempDir::new();
    let (private, _) = ssh_keygen(&dir, "rsa", "correct horse");
    // Opened with its passphrase, it is still refused: Guildhall never signs with RSA.
    assert_eq!(
        open_private_key(&private, Some("correct horse")).unwrap_err(),
        KeyProblem::Rsa
    );
    assert!(SftpAuth::key(&private, Some("correct horse")).is_err());
    let (ed25519, _) = ssh_keygen(&dir, "ed25519", "correct horse");
    assert!(open_private_key(&ed25519, Some("correct horse")).is_ok());
}

#[tokio::test]
async fn a_key_the_server_does_not_know_is_refused_by_its_fingerprint() {
    let dir = TempDir::new();
    let authorised = ed25519_key();
    let other = ed25519_key();
    let fake = FakeSftp::start_with_key(
        dir.0.clone(),
        USER,
        Some(PW),
        authorised.public_key().clone(),
    )
    .await
    .unwrap();
    let mut t = target(&fake);
    t.auth = SftpAuth::Key(std::sync::Arc::new(other.clone()));
    let e = connect_err(SftpFolder::connect(&t, "/logs").await);
    assert_eq!(
        e.to_string(),
        format!(
            "the SFTP server {} refused user 'logs' with the key {}",
            fake.addr,
            fingerprint(other.public_key())
        )
    );
    // The password still works on this server.
    t.auth = SftpAuth::Password(PW.to_string());
    SftpFolder::connect(&t, "/logs")
        .await
        .unwrap()
        .close()
        .await;
}

#[tokio::test]
async fn a_password_on_a_key_only_server_is_told_what_it_offers() {
    let dir = TempDir::new();
    let key = ed25519_key();
    let fake = FakeSftp::start_with_key(dir.0.clone(), USER, None, key.public_key().clone())
        .await
        .unwrap();
    let e = connect_err(SftpFolder::connect(&target(&fake), "/logs").await);
    assert_eq!(
        e.to_string(),
        format!(
            "the SFTP server {} does not accept password logins (it offers: publickey)",
            fake.addr
        )
    );
}

#[test]
fn text_that_is_no_key_is_named_so() {
    assert_eq!(
        open_private_key("ssh-ed25519 AAAA… a public key", None).unwrap_err(),
        KeyProblem::NotAKey
    );
}
