//! Types shared by the server and the browser: who is signed in, what they may do, and the
//! data the pages show.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A user's role in the web app. Each role can do everything the one below it can.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Leader,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Leader => "leader",
            Role::Admin => "admin",
        }
    }

    pub fn parse(value: &str) -> Option<Role> {
        match value {
            "member" => Some(Role::Member),
            "leader" => Some(Role::Leader),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// What an entry of the audit log records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditAction {
    /// An admin granted or revoked `leader` or `admin`.
    RoleChanged,
    /// An admin marked a channel as AFK.
    AfkChannelMarked,
    /// An admin took the AFK mark off a channel.
    AfkChannelUnmarked,
    /// An admin excluded a channel or category from recording.
    ChannelExcluded,
    /// An admin had a channel or category recorded again.
    ChannelIncluded,
    /// An admin mapped a Discord role to a Guildhall role (or removed the mapping).
    RoleMapped,
    /// An admin labelled an invite code (or removed the label).
    InviteLabelled,
    /// An admin turned the recording of a guild on or off.
    GuildTracking,
    /// A game account was linked to a person (by the member's code, or an admin).
    IdentityLinked,
    /// A game account became a person of its own again.
    IdentityUnlinked,
    /// An admin merged two persons.
    PersonsMerged,
    /// An admin split accounts off a person.
    PersonSplit,
    /// A member asked to be hidden (or shown again).
    MemberHidden,
    /// A member opted out: their history was deleted, their accounts kept as hashes.
    MemberOptedOut,
    /// A member deleted their account and everything Guildhall held about them.
    MemberDeleted,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::RoleChanged => "user.role",
            AuditAction::AfkChannelMarked => "guild.afk_channel.mark",
            AuditAction::AfkChannelUnmarked => "guild.afk_channel.unmark",
            AuditAction::ChannelExcluded => "guild.channel.exclude",
            AuditAction::ChannelIncluded => "guild.channel.include",
            AuditAction::RoleMapped => "guild.role_mapping",
            AuditAction::InviteLabelled => "guild.invite_label",
            AuditAction::GuildTracking => "guild.tracking",
            AuditAction::IdentityLinked => "identity.link",
            AuditAction::IdentityUnlinked => "identity.unlink",
            AuditAction::PersonsMerged => "identity.merge",
            AuditAction::PersonSplit => "identity.split",
            AuditAction::MemberHidden => "member.hide",
            AuditAction::MemberOptedOut => "member.opt_out",
            AuditAction::MemberDeleted => "member.delete",
        }
    }

    pub fn parse(value: &str) -> Option<AuditAction> {
        match value {
            "user.role" => Some(AuditAction::RoleChanged),
            "guild.afk_channel.mark" => Some(AuditAction::AfkChannelMarked),
            "guild.afk_channel.unmark" => Some(AuditAction::AfkChannelUnmarked),
            "guild.channel.exclude" => Some(AuditAction::ChannelExcluded),
            "guild.channel.include" => Some(AuditAction::ChannelIncluded),
            "guild.role_mapping" => Some(AuditAction::RoleMapped),
            "guild.invite_label" => Some(AuditAction::InviteLabelled),
            "guild.tracking" => Some(AuditAction::GuildTracking),
            "identity.link" => Some(AuditAction::IdentityLinked),
            "identity.unlink" => Some(AuditAction::IdentityUnlinked),
            "identity.merge" => Some(AuditAction::PersonsMerged),
            "identity.split" => Some(AuditAction::PersonSplit),
            "member.hide" => Some(AuditAction::MemberHidden),
            "member.opt_out" => Some(AuditAction::MemberOptedOut),
            "member.delete" => Some(AuditAction::MemberDeleted),
            _ => None,
        }
    }
}

/// One entry of `app.audit_log`, as the admin page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor: String,
    /// The action's code (`user.role`); older or newer codes show as they are.
    pub action: String,
    pub subject: String,
    /// JSON text of the value before and after the change.
    pub before: Option<String>,
    pub after: Option<String>,
}

/// A user of the web app with their role, for the admin page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRole {
    pub user_id: i64,
    pub discord_user_id: i64,
    pub name: String,
    pub role: Role,
    /// The role `GUILDHALL_ADMIN_IDS` or `GUILDHALL_LEADER_IDS` gives this user: it cannot
    /// be lowered on the page.
    pub configured: Option<Role>,
    pub last_login_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What a request wants to do; every server function and protected route names one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// See one's own data (any signed-in user).
    OwnData,
    /// Read the community KPI pages (leaders and admins).
    ViewKpis,
    /// Change configuration and see operational status (admins).
    Administer,
}

impl Permission {
    /// The lowest role that holds this permission.
    pub fn min_role(self) -> Role {
        match self {
            Permission::OwnData => Role::Member,
            Permission::ViewKpis => Role::Leader,
            Permission::Administer => Role::Admin,
        }
    }
}

/// The signed-in user as the pages see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: i64,
    pub discord_user_id: i64,
    pub name: String,
    pub role: Role,
}

impl CurrentUser {
    pub fn can(&self, permission: Permission) -> bool {
        self.role >= permission.min_role()
    }
}

/// One local week (Monday to Sunday) of member growth.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrowthWeek {
    /// The Monday the week starts on.
    pub week: NaiveDate,
    /// Accounts whose first join falls in the week.
    pub joins: i64,
    /// Accounts who left in the week and are not back.
    pub leaves: i64,
    /// Members at the end of the week.
    pub members: i64,
}

/// How long members who left had stayed: bucket 0 (< 1 day), 1 (< 1 week), 2 (< 30 days),
/// 3 (< 90 days), 4 (< 1 year), 5 (longer).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenureBucket {
    pub bucket: i32,
    pub leavers: i64,
    /// Of those, active (as for DAU) in the 30 days before they left.
    pub active_before: i64,
}

/// Figures as Discord's Server Insights defines them (see `gold.discord_comparable_daily`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiscordComparable {
    /// Persons who communicated in the 7 days ending today.
    pub communicators_week: i64,
    /// New members of the last 30 days whose first week is over.
    pub new_members: i64,
    /// Of those, the share activated in their first week (percent).
    pub activation_rate: Option<f64>,
    /// New members of the 30 days before the last two weeks.
    pub retention_base: i64,
    /// Of those, the share who communicated in their second week (percent).
    pub week1_retention: Option<f64>,
}

/// The members page's data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberGrowth {
    pub weeks: Vec<GrowthWeek>,
    pub tenure: Vec<TenureBucket>,
    pub comparable: DiscordComparable,
    /// Where the members of the last 12 months came from, most joins first.
    pub sources: Vec<MemberSource>,
    /// Whether the bot may read every tracked guild's invites (Manage Server); `None`
    /// before it looked.
    pub invites_readable: Option<bool>,
}

/// One cell of `gold.retention_cohorts`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CohortCell {
    pub cohort_month: NaiveDate,
    pub months_after: i32,
    pub cohort_size: i32,
    pub active: i32,
    pub percentage: Option<f64>,
    pub partial: bool,
}

/// One day of `gold.daily_active_users`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DauPoint {
    pub day: NaiveDate,
    pub dau_total: i32,
    pub dau_voice: i32,
    pub dau_chat: i32,
    pub dau_game: i32,
    /// Persons active in the 7 days ending on `day`.
    pub wau: i32,
    /// Persons active in the 30 days ending on `day`.
    pub mau: i32,
    /// `dau_total / mau`; `None` when nobody was active in the 30 days.
    pub stickiness: Option<f64>,
}

/// A collector's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CollectorState {
    Running,
    /// Failed; the supervisor retries with backoff.
    Failed,
    Stopped,
    /// Not configured.
    Off,
}

impl CollectorState {
    pub fn as_str(self) -> &'static str {
        match self {
            CollectorState::Running => "running",
            CollectorState::Failed => "failed",
            CollectorState::Stopped => "stopped",
            CollectorState::Off => "off",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "running" => Some(CollectorState::Running),
            "failed" => Some(CollectorState::Failed),
            "stopped" => Some(CollectorState::Stopped),
            "off" => Some(CollectorState::Off),
            _ => None,
        }
    }
}

/// What the supervisor reported about one collector (`app.collector_status`), shown on the
/// admin page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectorStatus {
    pub state: CollectorState,
    /// Last time it was seen running.
    pub last_success_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<chrono::DateTime<chrono::Utc>>,
    pub restarts: u32,
}

/// A tracked Discord guild and its voice settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuildSettings {
    pub guild_id: i64,
    pub name: String,
    /// The AFK channel Discord reports for the guild now.
    pub afk_channel_id: Option<i64>,
    /// Channels an admin marked as AFK that still count now, besides Discord's.
    pub marked_afk: Vec<MarkedAfkChannel>,
    /// Channels and categories whose activity is not recorded.
    pub excluded: Vec<i64>,
}

/// A channel an admin marked as AFK.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkedAfkChannel {
    /// `app.afk_channels.id`.
    pub id: i64,
    pub channel_id: i64,
    /// From when it counts; `None` for all of history.
    pub since: Option<chrono::DateTime<chrono::Utc>>,
}

/// One row of the pipeline run history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct PipelineRun {
    pub job: String,
    pub trigger: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// The span of time the run recomputed, `[from, to)`.
    pub range_from: Option<chrono::DateTime<chrono::Utc>>,
    pub range_to: Option<chrono::DateTime<chrono::Utc>>,
    pub duration_ms: Option<i64>,
    pub rows_affected: Option<i64>,
    pub error: Option<String>,
}

/// Everything the admin page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminOverview {
    pub bot_enabled: bool,
    pub collectors: Vec<(String, CollectorStatus)>,
    pub guilds: Vec<GuildSettings>,
    pub recent_runs: Vec<PipelineRun>,
    pub users: Vec<UserRole>,
    pub audit_log: Vec<AuditEntry>,
    /// Records the database refused, per source (kept in `bronze.rejected_records`).
    pub rejected: Vec<RejectedRecords>,
    /// Records waiting in the spool for the database, per source.
    pub spool_backlog: Vec<(String, u64)>,
}

/// Refused records of one source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedRecords {
    pub source: String,
    pub count: i64,
    pub last_error: String,
    pub last_at: chrono::DateTime<chrono::Utc>,
}

/// The signed-in member's own activity, over all their accounts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyActivity {
    /// Non-AFK voice minutes in the last 30 days.
    pub voice_minutes_30d: i64,
    /// Local days of the last 30 with activity on any of the member's accounts: a minute of
    /// non-AFK voice, a message or a minute on a game server.
    pub active_days_30d: i64,
    /// Messages in the last 30 days.
    pub messages_30d: i64,
    /// Minutes on game servers in the last 30 days, per game (`cs2`, `minecraft`, …),
    /// over all the member's linked game accounts.
    pub game_minutes_30d: Vec<(String, i64)>,
}

/// One account of a person, for the identity editor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonAccount {
    pub kind: String,
    pub external_id: String,
    pub display_name: Option<String>,
    pub verified_by: String,
}

/// A person found in the identity editor: their accounts and activity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonSummary {
    pub person_id: i64,
    /// The Discord member's name, when the person has a Discord account.
    pub name: Option<String>,
    pub accounts: Vec<PersonAccount>,
    pub active_days: i64,
    pub last_active: Option<chrono::NaiveDate>,
}

/// A game account no Discord member owns yet, and a member it probably belongs to, with the
/// evidence: how alike the names are and how many hours the account played while the member
/// was in voice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IdentitySuggestion {
    pub kind: String,
    pub external_id: String,
    pub player_name: Option<String>,
    /// Hours (started clock hours) the account played in the window.
    pub played_hours: i64,
    pub candidate_person: i64,
    pub candidate_name: String,
    /// 0 (nothing alike) to 1 (the same name).
    pub name_similarity: f64,
    /// Of `played_hours`, those the candidate was in voice too.
    pub together_hours: i64,
    /// The rank order: name similarity and co-presence combined, 0 to 1.
    pub score: f64,
}

/// A link the data contradicts, for an admin to review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct SuspectLink {
    pub kind: String,
    pub external_id: String,
    pub player_name: Option<String>,
    pub person_id: i64,
    pub person_name: Option<String>,
    pub verified_by: String,
    /// `two_servers`: on two servers at once `count` times; `never_online`: played on `count`
    /// days, on none of which the member was in voice or chat.
    pub reason: String,
    pub count: i64,
    pub last_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What the identity editor offers for review.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IdentityReview {
    pub suggestions: Vec<IdentitySuggestion>,
    pub suspects: Vec<SuspectLink>,
    /// The window looked at, in days.
    pub days: i64,
}

/// The funnel of one join month: members who joined, then linked a game account, then
/// played on a tracked server, then were regulars (4 active days in a month).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunnelMonth {
    pub month: chrono::NaiveDate,
    pub joined: i64,
    pub linked: i64,
    pub played: i64,
    pub regular: i64,
}

/// One of the signed-in member's accounts (`silver.user_identities`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyAccount {
    /// `discord`, `steam` or `minecraft`.
    pub kind: String,
    /// Discord id, SteamID64 or Minecraft UUID, as text.
    pub external_id: String,
    pub display_name: Option<String>,
    /// `observed`, `oauth_connection`, `steam_openid`, `ingame_code` or `admin`.
    pub verified_by: String,
    pub linked_at: chrono::DateTime<chrono::Utc>,
}

/// The signed-in member's privacy choices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyPrivacy {
    /// Counted in totals, never named or singled out on any page.
    pub hidden: bool,
}

/// A Steam account the member's Discord connections show (verified, not revoked).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SteamConnection {
    /// SteamID64.
    pub steam_id: String,
    pub name: Option<String>,
    /// Already one of the member's accounts.
    pub linked: bool,
}

/// A one-time in-game link code, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownLinkCode {
    pub code: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// One scheduled event with its attendance (`gold.event_attendance`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventAttendance {
    /// Discord's id, as text (JavaScript numbers cannot hold it).
    pub id: String,
    pub name: String,
    /// `stage`, `voice` or `external`.
    pub kind: String,
    /// `scheduled`, `active`, `completed` or `canceled`.
    pub status: String,
    /// The start in the community's time zone.
    pub starts_local: chrono::NaiveDateTime,
    pub interested: i32,
    pub attended: i32,
    pub interested_attended: i32,
    pub no_shows: i32,
    pub walk_ins: i32,
    /// interested_attended / interested in percent.
    pub attendance_rate: Option<f64>,
}

/// The events page's data: upcoming (and running) events, soonest first; past ones, newest
/// first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventsOverview {
    pub upcoming: Vec<EventAttendance>,
    pub past: Vec<EventAttendance>,
}

/// Where members came from over the last 12 months, per invite (or unknown).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberSource {
    /// `invite` or `unknown`.
    pub source: String,
    /// The invite code; empty for unknown.
    pub code: String,
    /// The admin's label for the code.
    pub label: Option<String>,
    /// Who created the invite (their Discord name as last seen).
    pub inviter: Option<String>,
    pub joined: i64,
    pub young_accounts: i64,
    pub still_members: i64,
    pub active_after_1d: i64,
    pub active_after_7d: i64,
    pub active_after_30d: i64,
    /// Of the persons whose join month + 1 is over, the share active in it (percent).
    pub month1_retention: Option<f64>,
}

/// A Discord role of a tracked guild and the Guildhall role it gives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscordRoleMapping {
    /// Discord's id, as text.
    pub role_id: String,
    pub name: String,
    pub app_role: Option<Role>,
}

/// An invite of a tracked guild with its label.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteLabel {
    pub code: String,
    pub inviter: Option<String>,
    pub uses: i32,
    /// Deleted or expired in Discord (joins through it still count).
    pub deleted: bool,
    pub label: Option<String>,
}

/// The Discord settings of one tracked guild on the admin page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuildDiscordSettings {
    /// Discord's id, as text.
    pub guild_id: String,
    pub name: String,
    /// Whether the bot records the guild now.
    pub tracked: bool,
    /// Whether the bot may read the invites (Manage Server); `None` before it looked.
    pub invites_readable: Option<bool>,
    pub roles: Vec<DiscordRoleMapping>,
    pub invites: Vec<InviteLabel>,
}

/// One game server as the servers page shows it: who is on it now and how its sources are.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerNow {
    pub server_id: i64,
    pub name: String,
    pub game: String,
    pub enabled: bool,
    /// Human players now (the last poll, or the open log sessions); `None`: not heard from
    /// lately.
    pub humans_now: Option<i32>,
    pub capacity: Option<i32>,
    pub map: Option<String>,
    /// Names of the players now (from the last poll).
    pub players_now: Vec<String>,
    pub heard_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Per source (rcon, logs, metrics): last success and last error.
    pub sources: Vec<SourceStatus>,
}

/// A game server source's health.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceStatus {
    pub source: String,
    pub last_success_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// One weekday × hour cell of a server's profile (`gold.server_weekly_profile`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileCell {
    pub server_id: i64,
    /// 1 = Monday … 7 = Sunday.
    pub weekday: i16,
    pub hour: i16,
    pub avg_humans: f64,
    pub peak_humans: i32,
    pub utilization_pct: Option<f64>,
    pub low_use: bool,
}

/// One local day of a server: average and peak players.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerDay {
    pub server_id: i64,
    pub day: NaiveDate,
    pub avg_humans: f64,
    pub peak_humans: i32,
    pub utilization_pct: Option<f64>,
}

/// The servers page's data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServersOverview {
    pub servers: Vec<ServerNow>,
    pub profile: Vec<ProfileCell>,
    /// Weeks the profile covers.
    pub weeks: i32,
    pub days: Vec<ServerDay>,
}
