//! The one error type users see. Internal details are logged on the server and never sent
//! to the browser: what reaches it is a code ([`Problem`], [`Refusal`]) that the page shows
//! in the user's language (`crate::i18n::error_text`).

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum AppError {
    #[error("please sign in")]
    Unauthorized,
    #[error("you are not allowed to do this")]
    Forbidden,
    /// A request the server cannot carry out as asked (HTTP 400): what is wrong, and the
    /// server function argument it concerns, if it is about one.
    #[error("invalid request ({field:?}): {problem:?}")]
    Invalid {
        field: Option<Field>,
        problem: Problem,
        /// Further problems of other fields of the same form, each shown next to its field
        /// (a form is checked whole, not one field per try).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        also: Vec<(Field, Problem)>,
    },
    /// A change that is refused for a reason the user can act on.
    #[error("refused: {0:?}")]
    Refused(Refusal),
    #[error("something went wrong on the server")]
    Internal,
    #[error("request failed: {0}")]
    ServerFn(String),
}

impl AppError {
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Unauthorized => 401,
            AppError::Forbidden => 403,
            AppError::Invalid { .. } => 400,
            AppError::Refused(_) => 409,
            AppError::Internal | AppError::ServerFn(_) => 500,
        }
    }

    /// An invalid request about the argument `field`.
    pub fn invalid(field: Field, problem: Problem) -> Self {
        AppError::Invalid {
            field: Some(field),
            problem,
            also: Vec::new(),
        }
    }

    /// An invalid form: every field's problem, the first one leading.
    pub fn invalid_fields(mut problems: Vec<(Field, Problem)>) -> Option<Self> {
        if problems.is_empty() {
            return None;
        }
        let (field, problem) = problems.remove(0);
        Some(AppError::Invalid {
            field: Some(field),
            problem,
            also: problems,
        })
    }

    /// The problem this error reports about `field`, if any.
    pub fn problem_of(&self, wanted: Field) -> Option<&Problem> {
        match self {
            AppError::Invalid {
                field: Some(field),
                problem,
                ..
            } if *field == wanted => Some(problem),
            AppError::Invalid { also, .. } => also
                .iter()
                .find(|(field, _)| *field == wanted)
                .map(|(_, problem)| problem),
            _ => None,
        }
    }

    /// An invalid request that is about no single argument.
    pub fn invalid_request(problem: Problem) -> Self {
        AppError::Invalid {
            field: None,
            problem,
            also: Vec::new(),
        }
    }
}

/// The server function argument a [`Problem`] concerns, by its name (`channel_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Accounts,
    AppRole,
    BronzeRetentionDays,
    ChannelId,
    Code,
    Confirmed,
    Days,
    ExternalId,
    From,
    GuildId,
    Id,
    Into,
    Jobs,
    Kind,
    Label,
    Page,
    Past,
    PersonId,
    Query,
    RoleId,
    SteamId,
    Timezone,
    To,
    Weeks,
    // Game servers: the form's fields (`form[name]` …) and the other arguments.
    Name,
    Game,
    Host,
    RconPort,
    RconPassword,
    PollInterval,
    LogSource,
    LogPath,
    SftpPort,
    SftpUser,
    SftpPassword,
    SftpKey,
    SftpKeyPassphrase,
    SftpHostKey,
    LogTimezone,
    PrometheusUrl,
    MetricsInterval,
    Capacity,
    ServerId,
    Confirmation,
    Fingerprint,
}

impl Field {
    /// The argument's name.
    pub fn name(self) -> &'static str {
        match self {
            Field::Accounts => "accounts",
            Field::AppRole => "app_role",
            Field::BronzeRetentionDays => "bronze_retention_days",
            Field::ChannelId => "channel_id",
            Field::Code => "code",
            Field::Confirmed => "confirmed",
            Field::Days => "days",
            Field::ExternalId => "external_id",
            Field::From => "from",
            Field::GuildId => "guild_id",
            Field::Id => "id",
            Field::Into => "into",
            Field::Jobs => "jobs",
            Field::Kind => "kind",
            Field::Label => "label",
            Field::Page => "page",
            Field::Past => "past",
            Field::PersonId => "person_id",
            Field::Query => "query",
            Field::RoleId => "role_id",
            Field::SteamId => "steam_id",
            Field::Timezone => "timezone",
            Field::To => "to",
            Field::Weeks => "weeks",
            Field::Name => "name",
            Field::Game => "game",
            Field::Host => "host",
            Field::RconPort => "rcon_port",
            Field::RconPassword => "rcon_password",
            Field::PollInterval => "poll_interval_secs",
            Field::LogSource => "log_source",
            Field::LogPath => "log_path",
            Field::SftpPort => "sftp_port",
            Field::SftpUser => "sftp_user",
            Field::SftpPassword => "sftp_password",
            Field::SftpKey => "sftp_key",
            Field::SftpKeyPassphrase => "sftp_key_passphrase",
            Field::SftpHostKey => "sftp_host_key",
            Field::LogTimezone => "log_timezone",
            Field::PrometheusUrl => "prometheus_url",
            Field::MetricsInterval => "metrics_interval_secs",
            Field::Capacity => "capacity",
            Field::ServerId => "server_id",
            Field::Confirmation => "confirmation",
            Field::Fingerprint => "fingerprint",
        }
    }
}

/// What counts a range of [`Problem::OutOfRange`] is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unit {
    Days,
    Weeks,
    PastEvents,
    Pages,
    Seconds,
    /// A TCP port (1–65535).
    Port,
    /// Player slots.
    Slots,
}

/// Why a request was invalid, with what the user needs to know to fix it. Each has a text
/// in every language (`crate::i18n::problem_text`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Problem {
    /// A number outside what can be asked for.
    OutOfRange { min: i64, max: i64, unit: Unit },
    /// The end of a date range is before its start.
    RangeReversed,
    /// A date range longer than `max_days`.
    RangeTooLong { max_days: i64 },
    /// A Discord channel id that is zero or negative.
    ChannelIdNotPositive,
    /// The guild is known but not recorded.
    GuildNotTracked,
    /// The bot is not in the guild.
    GuildUnknown,
    /// The channel is not excluded.
    ChannelNotExcluded,
    /// No AFK mark with this id applies now.
    AfkMarkUnknown,
    /// Not one of the Guildhall roles (or none).
    AppRoleUnknown,
    /// Not a role of a recorded guild.
    DiscordRoleUnknown,
    /// An invite label longer than `max` characters.
    LabelTooLong { max: u32 },
    /// The invite is not known for the guild.
    InviteUnknown,
    /// `per_hour` link codes were asked for in the last hour.
    TooManyLinkCodes { per_hour: i64 },
    /// The account is not linked to the signed-in member.
    AccountNotYours,
    /// The Discord account one signs in with cannot be unlinked.
    SignInAccountStays,
    /// The Steam account is not among the member's verified Discord connections.
    SteamNotConnected,
    /// Something that cannot be undone was not confirmed.
    NotConfirmed,
    /// A search shorter than `min` characters.
    SearchTooShort { min: u32 },
    /// Only Steam and Minecraft accounts can be linked or unlinked, not `kind`.
    KindNotLinkable { kind: String },
    /// Guildhall has not seen this account.
    AccountUnknown { kind: String, external_id: String },
    /// No such person.
    PersonUnknown { person_id: i64 },
    /// The person has no accounts (nothing to merge).
    PersonHasNoAccounts { person_id: i64 },
    /// A person merged into themselves.
    MergeIntoItself,
    /// A split without any account chosen.
    SplitNothingChosen,
    /// A split with an account that is not the person's.
    SplitForeignAccount { person_id: i64 },
    /// A split that would take every account of the person.
    SplitKeepsOne { person_id: i64 },
    /// Not an IANA time zone name (`Europe/Berlin`).
    TimezoneUnknown { name: String },
    /// Not a channel or category the bot knows in the guild.
    ChannelUnknown,
    /// The database refused a change for a reason the app does not know (logged).
    ChangeRefused,
    // Backfills from the browser (/admin/status).
    /// A day after today (in the community's time zone).
    DayInFuture,
    /// A backfill without any job chosen.
    NoJobChosen,
    /// Not a pipeline job.
    JobUnknown { job: String },
    // Game servers.
    /// A field that must be filled in is empty.
    Required,
    /// A name longer than `max` characters.
    NameTooLong { max: u32 },
    /// Not a whole number.
    NotANumber,
    /// Not one of cs2, csgo, tf2, source, minecraft.
    GameUnknown,
    /// Not one of none, http, file, sftp.
    LogSourceUnknown,
    /// Minecraft cannot send its logs over HTTP.
    MinecraftNoHttpLogs,
    /// The log folder is not a folder on this machine.
    FolderMissing { path: String },
    /// Not an http(s) URL.
    UrlNotHttp,
    /// Another server has this name.
    ServerNameTaken { name: String },
    /// No such game server.
    GameServerUnknown { server_id: i64 },
    /// Not a host key fingerprint (`SHA256:…`).
    FingerprintInvalid,
    /// SFTP logs need the server's host key confirmed first (test the connection).
    HostKeyNotConfirmed,
    /// The typed confirmation is not the server's name.
    ConfirmationMismatch { expected: String },
    /// The SFTP key is not a private key in OpenSSH format.
    SftpKeyNotAKey,
    /// The SFTP key is protected by a passphrase, and none was given.
    SftpKeyNeedsPassphrase,
    /// The passphrase does not open the SFTP key.
    SftpKeyWrongPassphrase,
    /// The SFTP key is an RSA key: only Ed25519 and ECDSA keys are accepted.
    SftpKeyRsa,
    /// A password or key is to be stored, and `GUILDHALL_SECRET_KEY` is not set (the
    /// command line's message).
    SecretKeyMissing,
}

/// Why a change was refused; the page shows each in the user's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// The change would leave no admin.
    LastAdmin,
    /// The user is an admin through `GUILDHALL_ADMIN_IDS`.
    ConfiguredAdmin,
    /// The user is a leader through `GUILDHALL_LEADER_IDS`.
    ConfiguredLeader,
    /// No such user.
    UnknownUser,
    /// Another backfill waits or runs (one at a time).
    BackfillActive,
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::ServerFn(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        tracing::error!(error = %error, "database error");
        AppError::Internal
    }
}

/// The SQLSTATE of a PL/pgSQL `raise exception` without its own code.
#[cfg(feature = "ssr")]
const RAISE_EXCEPTION: &str = "P0001";

#[cfg(feature = "ssr")]
impl AppError {
    /// A database error of a function that raises when a change is not possible (the
    /// identity and erase functions): a `raise exception` becomes the [`Problem`] it means
    /// (the database's English text is logged, never sent), anything else an internal error.
    pub fn from_raise(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::Database(db) if db.code().as_deref() == Some(RAISE_EXCEPTION) => {
                let problem = problem_of_raise(db.message());
                tracing::info!(
                    message = db.message(),
                    ?problem,
                    "the database refused a change"
                );
                AppError::invalid_request(problem)
            }
            other => other.into(),
        }
    }
}

/// The [`Problem`] a `raise exception` of the migrations means, by its message. The one
/// place that knows those messages; one it does not know is [`Problem::ChangeRefused`].
#[cfg(any(feature = "ssr", test))]
pub fn problem_of_raise(message: &str) -> Problem {
    /// The person id in `person <id><rest>`, where the message is `<prefix>person <id><rest>`.
    fn person(message: &str, prefix: &str, rest: &str) -> Option<i64> {
        message
            .strip_prefix(prefix)?
            .strip_prefix("person ")?
            .strip_suffix(rest)?
            .parse()
            .ok()
    }
    /// The kind in `only Steam and Minecraft accounts can be <verb> (not <kind>)`.
    fn kind(message: &str) -> Option<String> {
        let rest = message.strip_prefix("only Steam and Minecraft accounts can be ")?;
        let kind = rest
            .strip_prefix("linked (not ")
            .or_else(|| rest.strip_prefix("unlinked (not "))?
            .strip_suffix(')')?;
        Some(kind.to_owned())
    }
    if message == "a person cannot be merged into themselves" {
        return Problem::MergeIntoItself;
    }
    if let Some(kind) = kind(message) {
        return Problem::KindNotLinkable { kind };
    }
    if let Some(person_id) = person(message, "", " does not exist") {
        return Problem::PersonUnknown { person_id };
    }
    if let Some(person_id) = person(message, "", " has no accounts to merge")
        .or_else(|| person(message, "", " has no accounts"))
    {
        return Problem::PersonHasNoAccounts { person_id };
    }
    if let Some(person_id) = person(message, "choose accounts of ", " to split off") {
        return Problem::SplitForeignAccount { person_id };
    }
    if let Some(person_id) = person(message, "keep at least one account with ", "") {
        return Problem::SplitKeepsOne { person_id };
    }
    Problem::ChangeRefused
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_raise_of_the_migrations_maps_to_its_problem() {
        let cases = [
            (
                "a person cannot be merged into themselves",
                Problem::MergeIntoItself,
            ),
            (
                "person 12 does not exist",
                Problem::PersonUnknown { person_id: 12 },
            ),
            (
                "person 7 has no accounts to merge",
                Problem::PersonHasNoAccounts { person_id: 7 },
            ),
            (
                "person 7 has no accounts",
                Problem::PersonHasNoAccounts { person_id: 7 },
            ),
            (
                "choose accounts of person 3 to split off",
                Problem::SplitForeignAccount { person_id: 3 },
            ),
            (
                "keep at least one account with person 3",
                Problem::SplitKeepsOne { person_id: 3 },
            ),
            (
                "only Steam and Minecraft accounts can be linked (not discord)",
                Problem::KindNotLinkable {
                    kind: "discord".into(),
                },
            ),
            (
                "only Steam and Minecraft accounts can be unlinked (not xbox)",
                Problem::KindNotLinkable {
                    kind: "xbox".into(),
                },
            ),
            ("person <NULL> has no accounts", Problem::ChangeRefused),
            ("something new", Problem::ChangeRefused),
        ];
        for (message, problem) in cases {
            assert_eq!(problem_of_raise(message), problem, "{message}");
        }
    }
}
