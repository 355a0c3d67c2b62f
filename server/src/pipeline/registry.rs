//! The jobs: each transform's name, the tables it reads and writes, how it decides what to
//! process and its SQL (`jobs/<name>.sql`); the order they run in and which jobs a change
//! dirties follow from the tables alone.

use super::names::{JobName, Table};

/// How a job decides what to process.
#[derive(Clone, Copy, Debug)]
pub enum Progress {
    /// New rows of a bronze table, by its `event_id` (stored as the watermark), plus the
    /// spans of time a setting change asked to recompute (`app.pipeline_dirty_ranges`).
    BronzeIds { table: Table },
    /// Local days in the ranges marked dirty (by the jobs upstream, a relinked account, a
    /// setting), plus the last two days (still open sessions keep changing them).
    DirtyDays,
}

/// One transform.
#[derive(Clone, Copy, Debug)]
pub struct Job {
    pub name: JobName,
    pub inputs: &'static [Table],
    pub outputs: &'static [Table],
    pub progress: Progress,
    /// The SQL script. Its last statement returns `(rows bigint, dirty_from timestamptz,
    /// dirty_to timestamptz)`: the span whose downstream results changed (`dirty_to` null:
    /// up to now).
    pub sql: &'static str,
    /// For jobs whose output is per local day: a query for the first instant of their
    /// input, where a recompute of the whole history (after a time zone change) starts.
    pub history_start: Option<&'static str>,
    /// For per-day jobs whose output is only read now and then: the recent days (yesterday
    /// and today) are recomputed at most this often; changes to them wait until then, while
    /// older changes run at once. `None`: at every run.
    pub recent_every: Option<std::time::Duration>,
}

/// Every job, in the order [`JobName`] declares them. The runner orders them by their inputs
/// and outputs ([`plan`]) and marks the jobs that read a job's outputs for recomputation
/// ([`downstream`]).
pub const JOBS: &[Job] = &[
    Job {
        name: JobName::VoiceSessions,
        inputs: &[Table::DiscordVoiceEvents, Table::AfkChannelPeriods],
        outputs: &[
            Table::FactVoiceSessions,
            Table::DimUser,
            Table::UserIdentities,
        ],
        progress: Progress::BronzeIds {
            table: Table::DiscordVoiceEvents,
        },
        sql: include_str!("jobs/voice_sessions.sql"),
        history_start: None,
        recent_every: None,
    },
    Job {
        name: JobName::ChatDaily,
        inputs: &[Table::DiscordMessages],
        outputs: &[Table::FactChatDaily, Table::DimUser, Table::UserIdentities],
        progress: Progress::BronzeIds {
            table: Table::DiscordMessages,
        },
        sql: include_str!("jobs/chat_daily.sql"),
        history_start: Some("select min(created_at) from bronze.discord_messages"),
        recent_every: None,
    },
    Job {
        name: JobName::Members,
        inputs: &[Table::DiscordMemberEvents],
        // It also gives new accounts their person, but a person it creates has no activity
        // yet: nothing per day changes (relinks dirty their days through a trigger).
        outputs: &[Table::DimMembers],
        progress: Progress::BronzeIds {
            table: Table::DiscordMemberEvents,
        },
        sql: include_str!("jobs/members.sql"),
        history_start: None,
        recent_every: None,
    },
    Job {
        name: JobName::GameLogSessions,
        inputs: &[Table::GameLogEvents],
        outputs: &[
            Table::FactGameSessions,
            Table::DimUser,
            Table::UserIdentities,
        ],
        progress: Progress::BronzeIds {
            table: Table::GameLogEvents,
        },
        sql: include_str!("jobs/game_log_sessions.sql"),
        history_start: None,
        recent_every: None,
    },
    Job {
        name: JobName::LinkCodes,
        inputs: &[Table::GameLogEvents],
        outputs: &[Table::UserIdentities],
        progress: Progress::BronzeIds {
            table: Table::GameLogEvents,
        },
        sql: include_str!("jobs/link_codes.sql"),
        history_start: None,
        recent_every: None,
    },
    Job {
        name: JobName::GameStatusSessions,
        inputs: &[Table::GameStatusSnapshots],
        outputs: &[
            Table::FactGameSessions,
            Table::DimUser,
            Table::UserIdentities,
        ],
        progress: Progress::BronzeIds {
            table: Table::GameStatusSnapshots,
        },
        sql: include_str!("jobs/game_status_sessions.sql"),
        history_start: None,
        recent_every: None,
    },
    Job {
        name: JobName::ActivityDaily,
        inputs: &[
            Table::FactVoiceSessions,
            Table::FactChatDaily,
            Table::FactGameSessions,
            Table::UserIdentities,
            Table::DiscordGuilds,
        ],
        outputs: &[Table::ActivityDaily],
        progress: Progress::DirtyDays,
        sql: include_str!("jobs/activity_daily.sql"),
        history_start: Some(
            "select least((select min(started_at) from silver.fact_voice_sessions),
                          (select min(started_at) from silver.fact_game_sessions))",
        ),
        recent_every: None,
    },
    Job {
        name: JobName::ServerUtilization,
        inputs: &[Table::FactGameSessions, Table::GameMetricSamples],
        outputs: &[
            Table::ServerLoad,
            Table::ServerUtilization,
            Table::ServerWeeklyProfile,
        ],
        progress: Progress::DirtyDays,
        sql: include_str!("jobs/server_utilization.sql"),
        history_start: Some("select min(started_at) from silver.fact_game_sessions"),
        recent_every: None,
    },
    Job {
        name: JobName::DailyActiveUsers,
        inputs: &[Table::ActivityDaily],
        outputs: &[Table::DailyActiveUsers],
        progress: Progress::DirtyDays,
        sql: include_str!("jobs/daily_active_users.sql"),
        history_start: Some(
            "select min(day)::timestamp at time zone 'UTC' from silver.activity_daily",
        ),
        recent_every: None,
    },
    Job {
        name: JobName::RetentionCohorts,
        inputs: &[Table::ActivityDaily, Table::DimMembers],
        outputs: &[Table::RetentionCohorts],
        progress: Progress::DirtyDays,
        sql: include_str!("jobs/retention_cohorts.sql"),
        history_start: Some("select min(first_joined_at) from silver.dim_members"),
        recent_every: None,
    },
    Job {
        name: JobName::DiscordComparable,
        inputs: &[Table::ActivityDaily, Table::DimMembers],
        outputs: &[Table::DiscordComparableDaily],
        progress: Progress::DirtyDays,
        sql: include_str!("jobs/discord_comparable.sql"),
        history_start: Some("select min(first_joined_at) from silver.dim_members"),
        recent_every: None,
    },
    Job {
        name: JobName::MemberSources,
        inputs: &[Table::ActivityDaily, Table::DimMembers],
        outputs: &[Table::MemberSources, Table::MemberSourceRetention],
        progress: Progress::DirtyDays,
        sql: include_str!("jobs/member_sources.sql"),
        history_start: Some("select min(first_joined_at) from silver.dim_members"),
        recent_every: None,
    },
    Job {
        name: JobName::MemberGrowth,
        inputs: &[Table::DimMembers, Table::ActivityDaily],
        outputs: &[Table::MemberGrowthWeekly, Table::LeaverTenure],
        progress: Progress::DirtyDays,
        sql: include_str!("jobs/member_growth.sql"),
        history_start: Some("select min(first_joined_at) from silver.dim_members"),
        recent_every: None,
    },
    Job {
        name: JobName::Funnel,
        inputs: &[
            Table::DimMembers,
            Table::UserIdentities,
            Table::FactGameSessions,
            Table::ActivityDaily,
        ],
        outputs: &[Table::PersonRegularMonths, Table::FunnelMonthly],
        progress: Progress::DirtyDays,
        sql: include_str!("jobs/funnel.sql"),
        history_start: Some(
            "select least((select min(first_joined_at) from silver.dim_members),
                          (select min(day)::timestamp at time zone 'UTC'
                           from silver.activity_daily))",
        ),
        recent_every: None,
    },
    Job {
        name: JobName::PresenceHours,
        inputs: &[Table::FactVoiceSessions, Table::FactGameSessions],
        outputs: &[Table::VoicePresenceHours, Table::GamePresenceHours],
        progress: Progress::DirtyDays,
        sql: include_str!("jobs/presence_hours.sql"),
        history_start: Some(
            "select least((select min(started_at) from silver.fact_voice_sessions),
                          (select min(started_at) from silver.fact_game_sessions))",
        ),
        recent_every: Some(std::time::Duration::from_secs(3600)),
    },
    Job {
        name: JobName::IdentityReview,
        inputs: &[
            Table::GamePresenceHours,
            Table::VoicePresenceHours,
            Table::UserIdentities,
            Table::FactGameSessions,
            Table::ActivityDaily,
        ],
        outputs: &[
            Table::IdentityReviewAccounts,
            Table::IdentityReviewSuggestions,
            Table::IdentityReviewSuspects,
        ],
        progress: Progress::DirtyDays,
        sql: include_str!("jobs/identity_review.sql"),
        history_start: None,
        recent_every: Some(std::time::Duration::from_secs(3600)),
    },
    Job {
        name: JobName::Events,
        inputs: &[
            Table::DiscordScheduledEvents,
            Table::FactVoiceSessions,
            Table::UserIdentities,
        ],
        outputs: &[
            Table::DimEvents,
            Table::EventParticipants,
            Table::EventAttendance,
        ],
        progress: Progress::DirtyDays,
        sql: include_str!("jobs/events.sql"),
        history_start: Some(
            "select min(least(observed_at, starts_at - interval '15 minutes'))
             from bronze.discord_scheduled_events",
        ),
        recent_every: None,
    },
];

/// The jobs that read what `job` writes: a change in its output dirties them.
pub fn downstream(job: &Job) -> impl Iterator<Item = &'static Job> + '_ {
    JOBS.iter()
        .filter(move |other| other.inputs.iter().any(|input| job.outputs.contains(input)))
}

/// Every job in an order where each runs after the jobs whose outputs it reads.
pub fn plan() -> Vec<&'static Job> {
    let mut done: Vec<&'static Job> = Vec::with_capacity(JOBS.len());
    while done.len() < JOBS.len() {
        let ready = JOBS.iter().find(|job| {
            !done.iter().any(|d| d.name == job.name)
                && JOBS.iter().all(|upstream| {
                    upstream.name == job.name
                        || done.iter().any(|d| d.name == upstream.name)
                        || !upstream.outputs.iter().any(|o| job.inputs.contains(o))
                })
        });
        match ready {
            Some(job) => done.push(job),
            // A cycle cannot be ordered; the unit test below keeps the registry acyclic.
            None => {
                let rest: Vec<&'static Job> = JOBS
                    .iter()
                    .filter(|job| !done.iter().any(|d| d.name == job.name))
                    .collect();
                done.extend(rest);
            }
        }
    }
    done
}

/// The job of a name.
pub fn job(name: JobName) -> &'static Job {
    &JOBS[name as usize]
}

// `JOBS[name as usize]` is the job of that name: checked when the crate compiles.
const _: () = {
    assert!(
        JOBS.len() == JobName::ALL.len(),
        "every JobName has one entry in JOBS"
    );
    let mut at = 0;
    while at < JOBS.len() {
        assert!(
            JOBS[at].name as usize == at,
            "JOBS lists the jobs in the order JobName declares them"
        );
        at += 1;
    }
};

#[cfg(test)]
mod tests {
    use super::*;
    use JobName::*;

    fn names(jobs: impl IntoIterator<Item = &'static Job>) -> Vec<JobName> {
        jobs.into_iter().map(|job| job.name).collect()
    }

    #[test]
    fn jobs_run_after_the_jobs_whose_outputs_they_read() {
        assert_eq!(
            names(plan()),
            vec![
                VoiceSessions,
                ChatDaily,
                Members,
                GameLogSessions,
                LinkCodes,
                GameStatusSessions,
                ActivityDaily,
                ServerUtilization,
                DailyActiveUsers,
                RetentionCohorts,
                DiscordComparable,
                MemberSources,
                MemberGrowth,
                Funnel,
                PresenceHours,
                IdentityReview,
                Events
            ]
        );
        let plan = plan();
        for (position, job) in plan.iter().enumerate() {
            for later in &plan[position + 1..] {
                assert!(
                    !job.inputs.iter().any(|input| later.outputs.contains(input)),
                    "{} reads what {} writes but runs first",
                    job.name,
                    later.name
                );
            }
        }
    }

    /// The tables named in the migrations since triggers mark tables
    /// (20261207000002_pipeline_dirty_tables.sql on), in the order they appear.
    fn tables_named_in_migrations() -> Vec<(String, Table)> {
        let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations");
        let mut files: Vec<_> = std::fs::read_dir(folder)
            .expect("migrations")
            .map(|entry| entry.expect("entry").path())
            .filter(|path| {
                path.file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| name >= "20261207000002" && name.ends_with(".sql"))
            })
            .collect();
        files.sort();
        let mut named = Vec::new();
        for path in files {
            let sql = std::fs::read_to_string(&path).expect("migration");
            let file = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            let mut literals: Vec<(usize, &str)> = ["'silver.", "'bronze.", "'gold."]
                .iter()
                .flat_map(|start| sql.match_indices(start))
                .collect();
            literals.sort();
            for (at, _) in literals {
                let literal = &sql[at + 1..];
                let name = &literal[..literal.find('\'').expect("a closing quote")];
                let table = Table::from_name(name)
                    .unwrap_or_else(|| panic!("{file} names {name}, no pipeline table"));
                named.push((file.clone(), table));
            }
        }
        named
    }

    #[test]
    fn every_table_a_migration_marks_as_changed_is_read_by_a_job() {
        // Triggers mark tables, never jobs (the runner hands each mark to the tables'
        // readers): a mark on a table no job reads would recompute nothing.
        let named = tables_named_in_migrations();
        let in_file = |file: &str| -> Vec<Table> {
            named
                .iter()
                .filter(|(named_in, _)| named_in.starts_with(file))
                .map(|(_, table)| *table)
                .collect()
        };
        assert_eq!(
            in_file("20261207000002"),
            vec![Table::ActivityDaily, Table::AfkChannelPeriods]
        );
        assert_eq!(
            in_file("20261207000010"),
            vec![
                // The relink trigger: the job writing it, and its mark.
                Table::ActivityDaily,
                Table::ActivityDaily,
                Table::ActivityDaily,
                // app.erase_person: the time zone, the person's days and first join.
                Table::ActivityDaily,
                Table::FactVoiceSessions,
                Table::FactChatDaily,
                Table::FactGameSessions,
                Table::ActivityDaily,
                Table::DimMembers,
                Table::DiscordScheduledEvents,
            ]
        );
        for (file, table) in named {
            assert!(
                JOBS.iter().any(|job| job.inputs.contains(&table)),
                "{file}: no job reads {table}"
            );
        }
    }

    #[test]
    fn a_change_dirties_exactly_the_jobs_that_read_it() {
        assert_eq!(
            names(downstream(job(VoiceSessions))),
            vec![ActivityDaily, Funnel, PresenceHours, IdentityReview, Events]
        );
        assert_eq!(
            names(downstream(job(ChatDaily))),
            vec![ActivityDaily, Funnel, IdentityReview, Events]
        );
        assert_eq!(
            names(downstream(job(ActivityDaily))),
            vec![
                DailyActiveUsers,
                RetentionCohorts,
                DiscordComparable,
                MemberSources,
                MemberGrowth,
                Funnel,
                IdentityReview
            ]
        );
        assert_eq!(
            names(downstream(job(Members))),
            vec![
                RetentionCohorts,
                DiscordComparable,
                MemberSources,
                MemberGrowth,
                Funnel
            ]
        );
        assert!(names(downstream(job(DailyActiveUsers))).is_empty());
        assert!(names(downstream(job(RetentionCohorts))).is_empty());
    }

    #[test]
    fn every_job_is_named_once() {
        let mut all = names(JOBS.iter());
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), JOBS.len());
        for name in JobName::ALL {
            assert_eq!(job(*name).name, *name);
        }
    }

    #[test]
    fn every_table_is_one_a_job_reads_or_writes() {
        for table in Table::ALL {
            assert!(
                JOBS.iter()
                    .any(|job| job.inputs.contains(table) || job.outputs.contains(table)),
                "no job reads or writes {table}"
            );
        }
    }
}
