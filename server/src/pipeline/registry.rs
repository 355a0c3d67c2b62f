//! The jobs: each transform's name, the tables it reads and writes, how it decides what to
//! process and its SQL (`jobs/<name>.sql`); the order they run in and which jobs a change
//! dirties follow from the tables alone.

use anyhow::anyhow;

/// How a job decides what to process.
#[derive(Clone, Copy, Debug)]
pub enum Progress {
    /// New rows of a bronze table, by its `event_id` (stored as the watermark), plus the
    /// spans of time a setting change asked to recompute (`app.pipeline_dirty_ranges`).
    BronzeIds { table: &'static str },
    /// Local days in the ranges marked dirty (by the jobs upstream, a relinked account, a
    /// setting), plus the last two days (still open sessions keep changing them).
    DirtyDays,
}

/// One transform.
#[derive(Clone, Copy, Debug)]
pub struct Job {
    pub name: &'static str,
    pub inputs: &'static [&'static str],
    pub outputs: &'static [&'static str],
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

/// Every job. The runner orders them by their inputs and outputs ([`plan`]) and marks the
/// jobs that read a job's outputs for recomputation ([`downstream`]).
pub const JOBS: &[Job] = &[
    Job {
        name: "voice_sessions",
        inputs: &["bronze.discord_voice_events", "silver.afk_channel_periods"],
        outputs: &[
            "silver.fact_voice_sessions",
            "silver.dim_user",
            "silver.user_identities",
        ],
        progress: Progress::BronzeIds {
            table: "bronze.discord_voice_events",
        },
        sql: include_str!("jobs/voice_sessions.sql"),
        history_start: None,
        recent_every: None,
    },
    Job {
        name: "chat_daily",
        inputs: &["bronze.discord_messages"],
        outputs: &[
            "silver.fact_chat_daily",
            "silver.dim_user",
            "silver.user_identities",
        ],
        progress: Progress::BronzeIds {
            table: "bronze.discord_messages",
        },
        sql: include_str!("jobs/chat_daily.sql"),
        history_start: Some("select min(created_at) from bronze.discord_messages"),
        recent_every: None,
    },
    Job {
        name: "members",
        inputs: &["bronze.discord_member_events"],
        // It also gives new accounts their person, but a person it creates has no activity
        // yet: nothing per day changes (relinks dirty their days through a trigger).
        outputs: &["silver.dim_members"],
        progress: Progress::BronzeIds {
            table: "bronze.discord_member_events",
        },
        sql: include_str!("jobs/members.sql"),
        history_start: None,
        recent_every: None,
    },
    Job {
        name: "game_log_sessions",
        inputs: &["bronze.game_log_events"],
        outputs: &[
            "silver.fact_game_sessions",
            "silver.dim_user",
            "silver.user_identities",
        ],
        progress: Progress::BronzeIds {
            table: "bronze.game_log_events",
        },
        sql: include_str!("jobs/game_log_sessions.sql"),
        history_start: None,
        recent_every: None,
    },
    Job {
        name: "link_codes",
        inputs: &["bronze.game_log_events"],
        outputs: &["silver.user_identities"],
        progress: Progress::BronzeIds {
            table: "bronze.game_log_events",
        },
        sql: include_str!("jobs/link_codes.sql"),
        history_start: None,
        recent_every: None,
    },
    Job {
        name: "game_status_sessions",
        inputs: &["bronze.game_status_snapshots"],
        outputs: &[
            "silver.fact_game_sessions",
            "silver.dim_user",
            "silver.user_identities",
        ],
        progress: Progress::BronzeIds {
            table: "bronze.game_status_snapshots",
        },
        sql: include_str!("jobs/game_status_sessions.sql"),
        history_start: None,
        recent_every: None,
    },
    Job {
        name: "activity_daily",
        inputs: &[
            "silver.fact_voice_sessions",
            "silver.fact_chat_daily",
            "silver.fact_game_sessions",
            "silver.user_identities",
            "app.discord_guilds",
        ],
        outputs: &["silver.activity_daily"],
        progress: Progress::DirtyDays,
        sql: include_str!("jobs/activity_daily.sql"),
        history_start: Some(
            "select least((select min(started_at) from silver.fact_voice_sessions),
                          (select min(started_at) from silver.fact_game_sessions))",
        ),
        recent_every: None,
    },
    Job {
        name: "server_utilization",
        inputs: &["silver.fact_game_sessions", "bronze.game_metric_samples"],
        outputs: &[
            "silver.server_load",
            "gold.server_utilization",
            "gold.server_weekly_profile",
        ],
        progress: Progress::DirtyDays,
        sql: include_str!("jobs/server_utilization.sql"),
        history_start: Some("select min(started_at) from silver.fact_game_sessions"),
        recent_every: None,
    },
    Job {
        name: "daily_active_users",
        inputs: &["silver.activity_daily"],
        outputs: &["gold.daily_active_users"],
        progress: Progress::DirtyDays,
        sql: include_str!("jobs/daily_active_users.sql"),
        history_start: Some(
            "select min(day)::timestamp at time zone 'UTC' from silver.activity_daily",
        ),
        recent_every: None,
    },
    Job {
        name: "retention_cohorts",
        inputs: &["silver.activity_daily", "silver.dim_members"],
        outputs: &["gold.retention_cohorts"],
        progress: Progress::DirtyDays,
        sql: include_str!("jobs/retention_cohorts.sql"),
        history_start: Some("select min(first_joined_at) from silver.dim_members"),
        recent_every: None,
    },
    Job {
        name: "discord_comparable",
        inputs: &["silver.activity_daily", "silver.dim_members"],
        outputs: &["gold.discord_comparable_daily"],
        progress: Progress::DirtyDays,
        sql: include_str!("jobs/discord_comparable.sql"),
        history_start: Some("select min(first_joined_at) from silver.dim_members"),
        recent_every: None,
    },
    Job {
        name: "member_sources",
        inputs: &["silver.activity_daily", "silver.dim_members"],
        outputs: &["gold.member_sources", "gold.member_source_retention"],
        progress: Progress::DirtyDays,
        sql: include_str!("jobs/member_sources.sql"),
        history_start: Some("select min(first_joined_at) from silver.dim_members"),
        recent_every: None,
    },
    Job {
        name: "member_growth",
        inputs: &["silver.dim_members", "silver.activity_daily"],
        outputs: &["gold.member_growth_weekly", "gold.leaver_tenure"],
        progress: Progress::DirtyDays,
        sql: include_str!("jobs/member_growth.sql"),
        history_start: Some("select min(first_joined_at) from silver.dim_members"),
        recent_every: None,
    },
    Job {
        name: "funnel",
        inputs: &[
            "silver.dim_members",
            "silver.user_identities",
            "silver.fact_game_sessions",
            "silver.activity_daily",
        ],
        outputs: &["silver.person_regular_months", "gold.funnel_monthly"],
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
        name: "presence_hours",
        inputs: &["silver.fact_voice_sessions", "silver.fact_game_sessions"],
        outputs: &["silver.voice_presence_hours", "silver.game_presence_hours"],
        progress: Progress::DirtyDays,
        sql: include_str!("jobs/presence_hours.sql"),
        history_start: Some(
            "select least((select min(started_at) from silver.fact_voice_sessions),
                          (select min(started_at) from silver.fact_game_sessions))",
        ),
        recent_every: Some(std::time::Duration::from_secs(3600)),
    },
    Job {
        name: "identity_review",
        inputs: &[
            "silver.game_presence_hours",
            "silver.voice_presence_hours",
            "silver.user_identities",
            "silver.fact_game_sessions",
            "silver.activity_daily",
        ],
        outputs: &[
            "silver.identity_review_accounts",
            "silver.identity_review_suspects",
        ],
        progress: Progress::DirtyDays,
        sql: include_str!("jobs/identity_review.sql"),
        history_start: None,
        recent_every: Some(std::time::Duration::from_secs(3600)),
    },
    Job {
        name: "events",
        inputs: &[
            "bronze.discord_scheduled_events",
            "silver.fact_voice_sessions",
            "silver.user_identities",
        ],
        outputs: &[
            "silver.dim_events",
            "silver.event_participants",
            "gold.event_attendance",
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

/// Looks a job up by name.
pub fn job(name: &str) -> anyhow::Result<&'static Job> {
    JOBS.iter().find(|job| job.name == name).ok_or_else(|| {
        let names: Vec<_> = JOBS.iter().map(|job| job.name).collect();
        anyhow!(
            "unknown job '{name}'; jobs are: {}, or all",
            names.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(jobs: impl IntoIterator<Item = &'static Job>) -> Vec<&'static str> {
        jobs.into_iter().map(|job| job.name).collect()
    }

    #[test]
    fn jobs_run_after_the_jobs_whose_outputs_they_read() {
        assert_eq!(
            names(plan()),
            vec![
                "voice_sessions",
                "chat_daily",
                "members",
                "game_log_sessions",
                "link_codes",
                "game_status_sessions",
                "activity_daily",
                "server_utilization",
                "daily_active_users",
                "retention_cohorts",
                "discord_comparable",
                "member_sources",
                "member_growth",
                "funnel",
                "presence_hours",
                "identity_review",
                "events"
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

    #[test]
    fn every_table_a_migration_marks_as_changed_is_read_by_a_job() {
        // Triggers mark tables, never jobs (the runner hands each mark to the tables'
        // readers): a mark on a table no job reads would recompute nothing.
        let sql = include_str!("../../../migrations/20261207000002_pipeline_dirty_tables.sql");
        let marked: Vec<&str> = sql
            .match_indices("'silver.")
            .chain(sql.match_indices("'bronze."))
            .map(|(at, _)| {
                let literal = &sql[at + 1..];
                &literal[..literal.find('\'').expect("a closing quote")]
            })
            .collect();
        assert_eq!(
            marked,
            vec!["silver.activity_daily", "silver.afk_channel_periods"]
        );
        for table in marked {
            assert!(
                JOBS.iter().any(|job| job.inputs.contains(&table)),
                "no job reads {table}"
            );
        }
    }

    #[test]
    fn a_change_dirties_exactly_the_jobs_that_read_it() {
        let by_name = |name| job(name).expect("job");
        assert_eq!(
            names(downstream(by_name("voice_sessions"))),
            vec![
                "activity_daily",
                "funnel",
                "presence_hours",
                "identity_review",
                "events"
            ]
        );
        assert_eq!(
            names(downstream(by_name("chat_daily"))),
            vec!["activity_daily", "funnel", "identity_review", "events"]
        );
        assert_eq!(
            names(downstream(by_name("activity_daily"))),
            vec![
                "daily_active_users",
                "retention_cohorts",
                "discord_comparable",
                "member_sources",
                "member_growth",
                "funnel",
                "identity_review"
            ]
        );
        assert_eq!(
            names(downstream(by_name("members"))),
            vec![
                "retention_cohorts",
                "discord_comparable",
                "member_sources",
                "member_growth",
                "funnel"
            ]
        );
        assert!(names(downstream(by_name("daily_active_users"))).is_empty());
        assert!(names(downstream(by_name("retention_cohorts"))).is_empty());
    }

    #[test]
    fn every_job_is_named_once() {
        let mut all = names(JOBS.iter());
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), JOBS.len());
    }
}
