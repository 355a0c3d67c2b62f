//! The names of the pipeline's jobs and of the tables they read and write, as enums: a
//! misspelt job or table is a compile error. `as_str()` is the text stored in the
//! `app.pipeline_*` tables, logged, shown by the CLI and used as a metrics label.

use std::fmt;

/// Declares a fieldless enum whose variants each stand for one fixed text, with `ALL` (in
/// declaration order), `as_str()`, `from_name()` and `Display`.
macro_rules! named {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident => $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $name {
            /// Every one, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The name as stored in the database and shown in logs.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The one whose name is `text`, if any.
            pub fn from_name(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|one| one.as_str() == text)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named! {
    /// A pipeline job (its SQL is `jobs/<name>.sql`). Declared in the order of
    /// [`JOBS`](super::JOBS), which the registry checks at compile time.
    pub enum JobName {
        VoiceSessions => "voice_sessions",
        ChatDaily => "chat_daily",
        Members => "members",
        GameLogSessions => "game_log_sessions",
        LinkCodes => "link_codes",
        GameStatusSessions => "game_status_sessions",
        ActivityDaily => "activity_daily",
        ServerUtilization => "server_utilization",
        DailyActiveUsers => "daily_active_users",
        RetentionCohorts => "retention_cohorts",
        DiscordComparable => "discord_comparable",
        MemberSources => "member_sources",
        MemberGrowth => "member_growth",
        Funnel => "funnel",
        PresenceHours => "presence_hours",
        IdentityReview => "identity_review",
        Events => "events",
    }
}

named! {
    /// A table (or view) a job reads or writes, by its schema-qualified name: the text
    /// `app.mark_dirty` takes and `app.pipeline_dirty_tables` holds.
    pub enum Table {
        // Bronze: raw records, as the collectors wrote them.
        DiscordVoiceEvents => "bronze.discord_voice_events",
        DiscordMessages => "bronze.discord_messages",
        DiscordMemberEvents => "bronze.discord_member_events",
        DiscordScheduledEvents => "bronze.discord_scheduled_events",
        GameLogEvents => "bronze.game_log_events",
        GameStatusSnapshots => "bronze.game_status_snapshots",
        GameMetricSamples => "bronze.game_metric_samples",
        // App: settings the jobs read.
        DiscordGuilds => "app.discord_guilds",
        // Silver: sessions, persons, per-day facts.
        AfkChannelPeriods => "silver.afk_channel_periods",
        FactVoiceSessions => "silver.fact_voice_sessions",
        FactChatDaily => "silver.fact_chat_daily",
        FactGameSessions => "silver.fact_game_sessions",
        DimUser => "silver.dim_user",
        UserIdentities => "silver.user_identities",
        DimMembers => "silver.dim_members",
        ActivityDaily => "silver.activity_daily",
        ServerLoad => "silver.server_load",
        PersonRegularMonths => "silver.person_regular_months",
        VoicePresenceHours => "silver.voice_presence_hours",
        GamePresenceHours => "silver.game_presence_hours",
        IdentityReviewAccounts => "silver.identity_review_accounts",
        IdentityReviewSuspects => "silver.identity_review_suspects",
        IdentityReviewSuggestions => "silver.identity_review_suggestions",
        DimEvents => "silver.dim_events",
        EventParticipants => "silver.event_participants",
        // Gold: the KPIs.
        ServerUtilization => "gold.server_utilization",
        ServerWeeklyProfile => "gold.server_weekly_profile",
        DailyActiveUsers => "gold.daily_active_users",
        RetentionCohorts => "gold.retention_cohorts",
        DiscordComparableDaily => "gold.discord_comparable_daily",
        MemberSources => "gold.member_sources",
        MemberSourceRetention => "gold.member_source_retention",
        MemberGrowthWeekly => "gold.member_growth_weekly",
        LeaverTenure => "gold.leaver_tenure",
        FunnelMonthly => "gold.funnel_monthly",
        EventAttendance => "gold.event_attendance",
    }
}

/// A job name that is not one (from the command line): names every job.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown job '{name}'; jobs are: {jobs}, or all", jobs = job_list())]
pub struct UnknownJob {
    pub name: String,
}

/// Every job's name, in registry order, comma-separated.
fn job_list() -> String {
    JobName::ALL
        .iter()
        .map(|job| job.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl std::str::FromStr for JobName {
    type Err = UnknownJob;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        JobName::from_name(name).ok_or_else(|| UnknownJob {
            name: name.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_distinct_and_parses_back() {
        for job in JobName::ALL {
            assert_eq!(job.as_str().parse::<JobName>(), Ok(*job));
            assert_eq!(job.to_string(), job.as_str());
        }
        for table in Table::ALL {
            assert_eq!(Table::from_name(table.as_str()), Some(*table));
            assert_eq!(table.to_string(), table.as_str());
        }
    }
}
