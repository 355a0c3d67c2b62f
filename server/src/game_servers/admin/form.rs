//! The browser's game server form as the command line's [`ServerForm`], checked whole by
//! [`server_settings::validate`], and every problem of a save as the browser shows it: each
//! next to its field, in the page's order.

use super::{CAPACITY_MAX, normalize_fingerprint, unknown};
use app::error::{AppError, Field, Problem, Unit};
use app::model::{GameServerForm, SecretAction, SecretInput};
use collectors::game::server_settings::{
    self, FieldError, SaveError, SecretChange, ServerForm, StoredSecrets, ValidServer,
};
use collectors::game::servers::{LoadError, LogSource};
use collectors::game::sftp::KeyProblem;

/// The form as the command line's [`ServerForm`], checked by [`server_settings::validate`]
/// (for a server whose stored secrets are `stored`). Every problem is answered, each with its
/// field. `require_pin`: SFTP logs need a confirmed host key (saving; a test shows the key).
pub(super) fn checked(
    form: &GameServerForm,
    stored: StoredSecrets,
    require_pin: bool,
) -> Result<(ServerForm, ValidServer), AppError> {
    let (mut form, valid) = validated(form, stored)?;
    if valid.log_source == LogSource::Sftp {
        match form.sftp_host_key.as_deref().map(str::trim) {
            None | Some("") if require_pin => {
                return Err(AppError::invalid(
                    Field::SftpHostKey,
                    Problem::HostKeyNotConfirmed,
                ));
            }
            None | Some("") => {}
            Some(key) => match normalize_fingerprint(key) {
                Some(key) => form.sftp_host_key = Some(key),
                None => {
                    return Err(AppError::invalid(
                        Field::SftpHostKey,
                        Problem::FingerprintInvalid,
                    ));
                }
            },
        }
    }
    // Validated again with the normalised fingerprint (the one stored).
    let valid = server_settings::validate(&form, stored).map_err(|errors| fields_error(&errors))?;
    Ok((form, valid))
}

/// The browser's form (numbers as text, secrets with their action) as a [`ServerForm`], and
/// the problems of the fields that could not be read (such a field gets its default, so
/// [`server_settings::validate`] does not report it twice).
fn server_form(form: &GameServerForm) -> (ServerForm, Vec<(Field, Problem)>) {
    let mut problems = Vec::new();
    let text = |value: &str| Some(value.trim().to_owned()).filter(|v| !v.is_empty());
    let mut read = |value: &str, min: i64, max: i64, unit: Unit, field: Field| -> Option<i64> {
        match number(&text(value)?, min, max, unit) {
            Ok(n) => Some(n),
            Err(problem) => {
                problems.push((field, problem));
                None
            }
        }
    };
    let rcon_port = read(&form.rcon_port, 1, 65535, Unit::Port, Field::RconPort);
    let poll_interval = read(
        &form.poll_interval_secs,
        5,
        3600,
        Unit::Seconds,
        Field::PollInterval,
    );
    let sftp_port = read(&form.sftp_port, 1, 65535, Unit::Port, Field::SftpPort);
    let metrics_interval = read(
        &form.metrics_interval_secs,
        5,
        3600,
        Unit::Seconds,
        Field::MetricsInterval,
    );
    let capacity = read(
        &form.capacity,
        1,
        CAPACITY_MAX,
        Unit::Slots,
        Field::Capacity,
    );
    let mut secret = |input: &SecretInput, field: Field| match secret(input) {
        Ok(change) => change,
        Err(problem) => {
            problems.push((field, problem));
            SecretChange::Keep
        }
    };
    let rcon_password = secret(&form.rcon_password, Field::RconPassword);
    let sftp_password = secret(&form.sftp_password, Field::SftpPassword);
    let sftp_key = secret(&form.sftp_key, Field::SftpKey);
    let server = ServerForm {
        name: form.name.clone(),
        game: form.game.clone(),
        host: form.host.clone(),
        rcon_port: rcon_port.map(|n| n as u16),
        rcon_password,
        poll_interval_secs: poll_interval.map_or(60, |n| n as u32),
        log_source: text(&form.log_source).unwrap_or_else(|| "none".to_owned()),
        log_path: text(&form.log_path),
        sftp_port: sftp_port.map_or(22, |n| n as u16),
        sftp_user: text(&form.sftp_user),
        sftp_password,
        sftp_key,
        sftp_key_passphrase: Some(form.sftp_key_passphrase.clone()).filter(|p| !p.is_empty()),
        sftp_host_key: text(&form.sftp_host_key),
        log_timezone: text(&form.log_timezone),
        prometheus_url: text(&form.prometheus_url),
        metrics_interval_secs: metrics_interval.map_or(30, |n| n as u32),
        capacity: capacity.map(|n| n as i32),
    };
    (server, problems)
}

/// The fields of the form, in the page's order: the first problem leads.
const FORM_ORDER: [Field; 18] = [
    Field::Name,
    Field::Game,
    Field::Host,
    Field::RconPort,
    Field::RconPassword,
    Field::PollInterval,
    Field::LogSource,
    Field::LogPath,
    Field::SftpPort,
    Field::SftpUser,
    Field::SftpPassword,
    Field::SftpKey,
    Field::SftpKeyPassphrase,
    Field::SftpHostKey,
    Field::LogTimezone,
    Field::PrometheusUrl,
    Field::MetricsInterval,
    Field::Capacity,
];

/// Checks the form whole: the fields that could not be read and every problem
/// [`server_settings::validate`] finds, one per field, in the page's order.
fn validated(
    form: &GameServerForm,
    stored: StoredSecrets,
) -> Result<(ServerForm, ValidServer), AppError> {
    let (server, mut problems) = server_form(form);
    let valid = server_settings::validate(&server, stored);
    if let Err(errors) = &valid {
        for (field, problem) in errors.iter().map(field_problem) {
            if !problems.iter().any(|(known, _)| *known == field) {
                problems.push((field, problem));
            }
        }
    }
    problems.sort_by_key(|(field, _)| {
        FORM_ORDER
            .iter()
            .position(|known| known == field)
            .unwrap_or(FORM_ORDER.len())
    });
    match (AppError::invalid_fields(problems), valid) {
        (Some(error), _) => Err(error),
        (None, Ok(valid)) => Ok((server, valid)),
        (None, Err(_)) => Err(AppError::Internal),
    }
}

/// A whole number in `min..=max`.
fn number(text: &str, min: i64, max: i64, unit: Unit) -> Result<i64, Problem> {
    match text.trim().parse::<i64>() {
        Err(_) => Err(Problem::NotANumber),
        Ok(n) if !(min..=max).contains(&n) => Err(Problem::OutOfRange { min, max, unit }),
        Ok(n) => Ok(n),
    }
}

/// Kept, replaced (not by nothing) or removed.
fn secret(input: &SecretInput) -> Result<SecretChange, Problem> {
    match input.action {
        SecretAction::Keep => Ok(SecretChange::Keep),
        SecretAction::Clear => Ok(SecretChange::Clear),
        SecretAction::Replace if input.value.trim().is_empty() => Err(Problem::Required),
        SecretAction::Replace => Ok(SecretChange::Replace(input.value.clone())),
    }
}

/// A field of the command line's form as the browser's.
fn form_field(field: server_settings::Field) -> Field {
    use server_settings::Field as F;
    match field {
        F::Name => Field::Name,
        F::Game => Field::Game,
        F::Host => Field::Host,
        F::RconPort => Field::RconPort,
        F::RconPassword => Field::RconPassword,
        F::PollInterval => Field::PollInterval,
        F::LogSource => Field::LogSource,
        F::LogPath => Field::LogPath,
        F::SftpPort => Field::SftpPort,
        F::SftpUser => Field::SftpUser,
        F::SftpPassword => Field::SftpPassword,
        F::SftpKey => Field::SftpKey,
        F::SftpKeyPassphrase => Field::SftpKeyPassphrase,
        F::SftpHostKey => Field::SftpHostKey,
        F::LogTimezone => Field::LogTimezone,
        F::PrometheusUrl => Field::PrometheusUrl,
        F::MetricsInterval => Field::MetricsInterval,
        F::Capacity => Field::Capacity,
    }
}

/// Every problem [`server_settings::validate`] found, each next to its field.
fn fields_error(errors: &[FieldError]) -> AppError {
    AppError::invalid_fields(errors.iter().map(field_problem).collect())
        .unwrap_or(AppError::Internal)
}

/// A problem [`server_settings::validate`] found, as the browser shows it.
fn field_problem(error: &FieldError) -> (Field, Problem) {
    use server_settings::Problem as P;
    let field = form_field(error.field);
    let problem = match &error.problem {
        P::Empty | P::RequiredBy { .. } => Problem::Required,
        P::TooLong { max } => Problem::NameTooLong {
            max: u32::try_from(*max).unwrap_or(u32::MAX),
        },
        P::UnknownGame { .. } => Problem::GameUnknown,
        P::UnknownLogSource { .. } => Problem::LogSourceUnknown,
        P::OutOfRange { min, max } => Problem::OutOfRange {
            min: i64::from(*min),
            max: i64::from(*max),
            unit: Unit::Seconds,
        },
        P::TooSmall { min } => match field {
            Field::Capacity => Problem::OutOfRange {
                min: *min,
                max: CAPACITY_MAX,
                unit: Unit::Slots,
            },
            _ => Problem::OutOfRange {
                min: *min,
                max: 65535,
                unit: Unit::Port,
            },
        },
        P::NotAFolder { path } => Problem::FolderMissing { path: path.clone() },
        P::NoHttpLogs { .. } => Problem::MinecraftNoHttpLogs,
        P::NotATimeZone { given } => Problem::TimezoneUnknown {
            name: given.clone(),
        },
        P::NotAnHttpUrl { .. } => Problem::UrlNotHttp,
        P::NameTaken { name } => Problem::ServerNameTaken { name: name.clone() },
        P::Key(KeyProblem::NotAKey) => Problem::SftpKeyNotAKey,
        P::Key(KeyProblem::NeedsPassphrase) => Problem::SftpKeyNeedsPassphrase,
        P::Key(KeyProblem::WrongPassphrase) => Problem::SftpKeyWrongPassphrase,
        P::Key(KeyProblem::Rsa) => Problem::SftpKeyRsa,
    };
    (field, problem)
}

/// Why saving failed, as the admin sees it.
pub(super) fn save_error(error: SaveError) -> AppError {
    match error {
        SaveError::Invalid(errors) => fields_error(&errors),
        SaveError::NoKey => AppError::invalid_request(Problem::SecretKeyMissing),
        SaveError::NotFound(server_id) => unknown(server_id),
        SaveError::Database(error) => error.into(),
    }
}

/// Why stored secrets could not be opened.
pub(super) fn load_error(error: LoadError) -> AppError {
    match error {
        LoadError::NoKey { .. } => AppError::invalid_request(Problem::SecretKeyMissing),
        LoadError::Database(error) => error.into(),
        LoadError::Secret { .. } => {
            tracing::error!(%error, "a game server's secret cannot be opened");
            AppError::Internal
        }
    }
}
