//! The ingest steps every Discord record passes, whatever it is (tracked guild, no bots, not
//! opted out), and the [`Candidate`] view they judge a record by. Steps that only concern
//! one kind of record live with it (voice, messages).

use crate::metrics::DropReason;
use crate::rules::IngestRules;
use crate::steps::IngestStep;

/// What the general steps judge a Discord record by.
pub(super) trait Candidate: Send + Sync {
    /// The guild the record belongs to.
    fn guild_id(&self) -> i64;
    /// The Discord account it concerns (what opt-outs are matched against).
    fn account_id(&self) -> i64;
    /// The account is a bot's.
    fn is_bot(&self) -> bool;
}

/// Drops records from guilds that are not recorded (see [`Tracking`]).
pub(super) struct TrackedGuilds(pub(super) Tracking);

impl<C: Candidate> IngestStep<C> for TrackedGuilds {
    fn name(&self) -> &'static str {
        "tracked_guilds"
    }

    fn apply(&self, candidate: &mut C) -> Result<(), DropReason> {
        if self.0.tracks(candidate.guild_id()) {
            Ok(())
        } else {
            Err(DropReason::untracked)
        }
    }
}

/// Drops updates of bot accounts: bots are never counted.
pub(super) struct NoBots;

impl<C: Candidate> IngestStep<C> for NoBots {
    fn name(&self) -> &'static str {
        "no_bots"
    }

    fn apply(&self, candidate: &mut C) -> Result<(), DropReason> {
        if candidate.is_bot() {
            Err(DropReason::bot)
        } else {
            Ok(())
        }
    }
}

/// Drops the updates of people who opted out.
pub(super) struct OptedOut(pub(super) IngestRules);

impl<C: Candidate> IngestStep<C> for OptedOut {
    fn name(&self) -> &'static str {
        "opted_out"
    }

    fn apply(&self, candidate: &mut C) -> Result<(), DropReason> {
        if self
            .0
            .is_opted_out("discord", &candidate.account_id().to_string())
        {
            Err(DropReason::opted_out)
        } else {
            Ok(())
        }
    }
}

/// The one rule: an empty list tracks every guild the bot is in.
fn tracks(guilds: &[i64], guild_id: i64) -> bool {
    guilds.is_empty() || guilds.contains(&guild_id)
}

/// The configured guilds and the admins' decisions: which guilds are recorded now.
#[derive(Clone)]
pub(super) struct Tracking {
    pub(super) configured: Vec<i64>,
    pub(super) rules: IngestRules,
}

impl Tracking {
    /// An admin's decision wins; without one, the configuration (every guild when empty).
    pub(super) fn tracks(&self, guild_id: i64) -> bool {
        self.rules
            .tracking(guild_id)
            .unwrap_or_else(|| tracks(&self.configured, guild_id))
    }
}
