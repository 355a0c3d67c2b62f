//! The connection test's look at a log folder: its newest `*.log` files, on this machine or
//! over SFTP, or exactly why they cannot be listed.

use app::model::{LogFileSeen, LogsCheck, LogsProblem};
use app::ssr::community::local;
use chrono::{DateTime, Utc};
use collectors::game::sftp::{SftpError, SftpFolder};
use std::path::Path;

/// How many of a log folder's newest files a connection test shows.
const NEWEST_FILES: usize = 5;

/// The newest `*.log` files of a folder on this machine.
pub(super) fn list_local_folder(folder: &str, tz: chrono_tz::Tz) -> LogsCheck {
    let path = Path::new(folder);
    if !path.exists() {
        return LogsCheck::Failed {
            problem: LogsProblem::NoSuchFolder,
        };
    }
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => {
            return LogsCheck::Failed {
                problem: LogsProblem::PermissionDenied,
            };
        }
        Err(_) => {
            return LogsCheck::Failed {
                problem: LogsProblem::NotAFolder,
            };
        }
    };
    let files = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".log"))
        .filter_map(|entry| {
            let meta = entry.metadata().ok()?;
            meta.is_file().then(|| LogFileSeen {
                name: entry.file_name().to_string_lossy().into_owned(),
                bytes: meta.len(),
                modified: meta
                    .modified()
                    .ok()
                    .map(|at| local(DateTime::<Utc>::from(at), tz)),
            })
        })
        .collect();
    newest(folder.to_owned(), files)
}

/// Logs in over SFTP and lists the folder's newest `*.log` files.
pub(super) async fn list_sftp_folder(
    target: &collectors::game::sftp::SftpTarget,
    folder: &str,
    tz: chrono_tz::Tz,
) -> LogsCheck {
    let listed = async {
        let remote = SftpFolder::connect(target, folder).await?;
        let files = remote.list().await;
        let path = remote.path().to_owned();
        remote.close().await;
        Ok::<_, SftpError>((path, files?))
    }
    .await;
    match listed {
        Ok((path, files)) => newest(
            path,
            files
                .into_iter()
                .map(|f| LogFileSeen {
                    name: f.name,
                    bytes: f.len,
                    modified: Some(local(f.modified, tz)),
                })
                .collect(),
        ),
        Err(error) => {
            tracing::info!(%error, "SFTP connection test failed");
            let problem = match error {
                SftpError::HostKeyNotPinned { presented, .. } => LogsProblem::UnknownHostKey {
                    fingerprint: presented,
                },
                SftpError::HostKeyMismatch {
                    presented, pinned, ..
                } => LogsProblem::HostKeyChanged { presented, pinned },
                SftpError::Unreachable { cause, .. } if cause.contains("refused") => {
                    LogsProblem::Refused
                }
                SftpError::Unreachable { .. } => LogsProblem::Unreachable,
                SftpError::Timeout { .. } => LogsProblem::Timeout,
                SftpError::AuthRejected { .. } => LogsProblem::LoginRefused,
                SftpError::NoPasswordLogin { .. } => LogsProblem::NoPasswordLogin,
                SftpError::KeyRejected { .. } => LogsProblem::KeyRefused,
                SftpError::NoKeyLogin { .. } => LogsProblem::NoKeyLogin,
                SftpError::NoSuchFolder { .. } => LogsProblem::NoSuchFolder,
                SftpError::NotAFolder { .. } => LogsProblem::NotAFolder,
                SftpError::PermissionDenied { .. } => LogsProblem::PermissionDenied,
                _ => LogsProblem::Other,
            };
            LogsCheck::Failed { problem }
        }
    }
}

/// The newest files first, at most [`NEWEST_FILES`], and how many there are.
fn newest(folder: String, mut files: Vec<LogFileSeen>) -> LogsCheck {
    files.sort_by(|a, b| b.modified.cmp(&a.modified).then(b.name.cmp(&a.name)));
    let total = u32::try_from(files.len()).unwrap_or(u32::MAX);
    files.truncate(NEWEST_FILES);
    LogsCheck::Listed {
        folder,
        files,
        total,
    }
}
