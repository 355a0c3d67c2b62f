//! Where members come from: the bot keeps each tracked guild's invites and their use
//! counts (read when the guild becomes available, kept current by INVITE_CREATE and
//! INVITE_DELETE) and, on each join, reads them again: the invite whose count went up is
//! the one the member used. Reading invites needs the Manage Server permission; without
//! it every source is unknown and the admin page says why.

use super::collector_state::{self, StoredInvite};
use super::db_id;
use super::state::BotState;
use crate::discord::JoinSource;
use serenity::all::{GuildId, Http, InviteCreateEvent, InviteDeleteEvent, RichInvite};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A use counted by Discord but not yet matched to a join is kept this long (a second join
/// through the same invite arrives within moments).
const CREDIT_TTL: Duration = Duration::from_secs(120);

/// One invite as last seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct KnownInvite {
    pub(super) uses: u64,
    /// 0: unlimited.
    pub(super) max_uses: u64,
    pub(super) inviter_id: Option<i64>,
}

/// A guild's invites and the uses not yet matched to a join.
#[derive(Debug, Default)]
pub(super) struct GuildInvites {
    /// `None` until read (or while the bot may not read them).
    pub(super) invites: Option<HashMap<String, KnownInvite>>,
    /// Uses Discord counted that no join has claimed yet, oldest first.
    credits: Vec<(String, Instant)>,
}

impl GuildInvites {
    /// Adds an invite created while the bot watches (its count starts at 0).
    pub(super) fn created(&mut self, code: &str, invite: KnownInvite) {
        if let Some(invites) = self.invites.as_mut() {
            invites.insert(code.to_owned(), invite);
        }
    }

    /// Works out which invite a join used from the invites as they are now, and keeps
    /// them. A use-limited invite that disappeared after its last use counts as used; when
    /// one invite's count rose by more than one, the extra uses wait for the next joins;
    /// when several invites rose at once, the join cannot be told apart (`ambiguous`).
    pub(super) fn attribute(
        &mut self,
        now: HashMap<String, KnownInvite>,
        at: Instant,
    ) -> (JoinSource, HashMap<String, KnownInvite>) {
        let before = self.invites.take().unwrap_or_default();
        let mut inviters: HashMap<String, Option<i64>> = HashMap::new();
        for (code, invite) in &now {
            let old = before.get(code).map_or(0, |old| old.uses);
            for _ in old..invite.uses {
                self.credits.push((code.clone(), at));
            }
            inviters.insert(code.clone(), invite.inviter_id);
        }
        for (code, invite) in &before {
            let used_up = invite.max_uses > 0 && invite.uses + 1 >= invite.max_uses;
            if !now.contains_key(code) && used_up {
                self.credits.push((code.clone(), at));
            }
            inviters.entry(code.clone()).or_insert(invite.inviter_id);
        }
        self.credits
            .retain(|(_, counted)| at.duration_since(*counted) <= CREDIT_TTL);
        let mut codes: Vec<&str> = self.credits.iter().map(|(code, _)| code.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        let source = match codes.as_slice() {
            [] => JoinSource::unknown("not_found"),
            [code] => {
                let code = (*code).to_owned();
                if let Some(position) = self.credits.iter().position(|(c, _)| *c == code) {
                    self.credits.remove(position);
                }
                let inviter_id = inviters.get(&code).copied().flatten();
                JoinSource::invite(code, inviter_id)
            }
            _ => {
                // Several joins at once through different invites: none can be told.
                self.credits.clear();
                JoinSource::unknown("ambiguous")
            }
        };
        (source, now)
    }
}

/// The invites as Guildhall keeps them.
pub(super) fn known(invites: &[RichInvite]) -> HashMap<String, KnownInvite> {
    invites
        .iter()
        .map(|invite| {
            (
                invite.code.clone(),
                KnownInvite {
                    uses: invite.uses,
                    max_uses: u64::from(invite.max_uses),
                    inviter_id: invite.inviter.as_ref().map(|user| db_id(user.id.get())),
                },
            )
        })
        .collect()
}

/// Why reading the invites failed, as stored: only a refusal (403) means the permission
/// is missing.
fn is_refused(error: &serenity::Error) -> bool {
    matches!(error, serenity::Error::Http(http) if http.status_code().is_some_and(|s| s.as_u16() == 403))
}

impl BotState {
    /// Reads a guild's invites (when it becomes available and on each join), records them
    /// for the admin page, and says whether the bot may read them.
    pub(super) async fn read_invites(
        &self,
        http: &Http,
        guild_id: GuildId,
    ) -> Result<Vec<RichInvite>, &'static str> {
        let id = db_id(guild_id.get());
        match http.get_guild_invites(guild_id).await {
            Ok(invites) => {
                if let Err(error) = self.store_invites(id, &invites).await {
                    tracing::warn!(
                        guild_id = id,
                        error = format!("{error:#}"),
                        "cannot record the guild's invites"
                    );
                }
                Ok(invites)
            }
            Err(error) if is_refused(&error) => {
                self.store_invites_readable(id, false).await;
                tracing::warn!(
                    guild_id = id,
                    "the bot may not read the guild's invites (it needs the Manage Server \
                     permission): where members come from stays unknown"
                );
                Err("no_permission")
            }
            Err(error) => {
                tracing::warn!(
                    guild_id = id,
                    error = format!("{error:#}"),
                    "cannot read the guild's invites"
                );
                Err("unavailable")
            }
        }
    }

    /// Records whether the bot may read the guild's invites; a failure is only logged.
    async fn store_invites_readable(&self, guild_id: i64, readable: bool) {
        let stored = collector_state::record_invites_readable(&self.pool, guild_id, readable).await;
        if let Err(error) = stored {
            tracing::warn!(guild_id, %error, "cannot record whether invites are readable");
        }
    }

    /// Records the invites as listed now; those no longer listed were deleted or expired.
    async fn store_invites(&self, guild_id: i64, invites: &[RichInvite]) -> anyhow::Result<()> {
        self.store_invites_readable(guild_id, true).await;
        let mut tx = self.pool.begin().await?;
        let codes: Vec<String> = invites.iter().map(|invite| invite.code.clone()).collect();
        for invite in invites {
            collector_state::record_invite(
                &mut *tx,
                guild_id,
                StoredInvite {
                    code: &invite.code,
                    channel_id: db_id(invite.channel.id.get()),
                    inviter: invite.inviter.as_ref(),
                    uses: invite.uses,
                    max_uses: invite.max_uses,
                    created_at: &invite.created_at,
                    max_age: invite.max_age,
                },
            )
            .await?;
        }
        // Invites no longer listed were deleted or expired.
        collector_state::record_unlisted_invites_deleted(&mut *tx, guild_id, &codes).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Reads the guild's invites when it becomes available.
    pub(super) async fn load_invites(&self, http: &Http, guild_id: GuildId) {
        let invites = self.read_invites(http, guild_id).await.ok();
        let mut guilds = self.invites.lock().await;
        let entry = guilds.entry(db_id(guild_id.get())).or_default();
        entry.invites = invites.as_deref().map(known);
    }

    /// Which invite a new member used.
    pub(super) async fn attribute_join(&self, http: &Http, guild_id: GuildId) -> JoinSource {
        // One join at a time per guild: each compares against the counts the last one saw.
        let mut guilds = self.invites.lock().await;
        let entry = guilds.entry(db_id(guild_id.get())).or_default();
        match self.read_invites(http, guild_id).await {
            Ok(now) => {
                let had_counts = entry.invites.is_some();
                let (source, now) = entry.attribute(known(&now), Instant::now());
                entry.invites = Some(now);
                if had_counts {
                    source
                } else {
                    // Without earlier counts nothing can be compared.
                    JoinSource::unknown("unavailable")
                }
            }
            Err(note) => {
                entry.invites = None;
                JoinSource::unknown(note)
            }
        }
    }

    /// INVITE_CREATE: the new invite joins the counts (at 0 uses) and is recorded.
    pub(super) async fn on_invite_create(&self, event: &InviteCreateEvent) {
        let Some(guild_id) = event.guild_id else {
            return;
        };
        let id = db_id(guild_id.get());
        if !self.tracks(id) {
            return;
        }
        let inviter_id = event.inviter.as_ref().map(|user| db_id(user.id.get()));
        self.invites.lock().await.entry(id).or_default().created(
            &event.code,
            KnownInvite {
                uses: 0,
                max_uses: u64::from(event.max_uses),
                inviter_id,
            },
        );
        let stored = collector_state::record_invite(
            &self.pool,
            id,
            StoredInvite {
                code: &event.code,
                channel_id: db_id(event.channel_id.get()),
                inviter: event.inviter.as_ref(),
                uses: 0,
                max_uses: event.max_uses,
                created_at: &event.created_at,
                max_age: event.max_age,
            },
        )
        .await;
        if let Err(error) = stored {
            tracing::warn!(guild_id = id, %error, "cannot record a new invite");
        }
    }

    /// A deleted invite stays in the counts until the next join compares them: Discord
    /// deletes a use-limited invite right after its last use, before the join arrives.
    pub(super) async fn on_invite_delete(&self, event: &InviteDeleteEvent) {
        let Some(guild_id) = event.guild_id else {
            return;
        };
        let id = db_id(guild_id.get());
        if !self.tracks(id) {
            return;
        }
        let stored = collector_state::record_invite_deleted(&self.pool, id, &event.code).await;
        if let Err(error) = stored {
            tracing::warn!(guild_id = id, %error, "cannot record a deleted invite");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite(uses: u64, max_uses: u64, inviter: i64) -> KnownInvite {
        KnownInvite {
            uses,
            max_uses,
            inviter_id: Some(inviter),
        }
    }

    fn counts(entries: &[(&str, KnownInvite)]) -> HashMap<String, KnownInvite> {
        entries
            .iter()
            .map(|(code, invite)| ((*code).to_owned(), invite.clone()))
            .collect()
    }

    #[test]
    fn the_invite_whose_count_rose_is_the_one_a_join_used() {
        let start = Instant::now();
        let mut guild = GuildInvites {
            invites: Some(counts(&[
                ("twitch", invite(4, 0, 1)),
                ("partner", invite(9, 0, 2)),
            ])),
            ..GuildInvites::default()
        };
        let (source, now) = guild.attribute(
            counts(&[("twitch", invite(4, 0, 1)), ("partner", invite(10, 0, 2))]),
            start,
        );
        assert_eq!(source, JoinSource::invite("partner".to_owned(), Some(2)));
        guild.invites = Some(now);

        // Two joins counted at once through one invite: the second join gets it too.
        let (first, now) = guild.attribute(
            counts(&[("twitch", invite(6, 0, 1)), ("partner", invite(10, 0, 2))]),
            start,
        );
        guild.invites = Some(now);
        let (second, now) = guild.attribute(
            counts(&[("twitch", invite(6, 0, 1)), ("partner", invite(10, 0, 2))]),
            start,
        );
        guild.invites = Some(now);
        assert_eq!(first, JoinSource::invite("twitch".to_owned(), Some(1)));
        assert_eq!(second, JoinSource::invite("twitch".to_owned(), Some(1)));

        // No count rose: a vanity URL, Discovery, or an admin's add.
        let (none, _) = guild.attribute(
            counts(&[("twitch", invite(6, 0, 1)), ("partner", invite(10, 0, 2))]),
            start,
        );
        assert_eq!(none, JoinSource::unknown("not_found"));
    }

    #[test]
    fn a_single_use_invite_that_vanished_was_used_and_two_rising_at_once_cannot_be_told() {
        let start = Instant::now();
        let mut guild = GuildInvites {
            invites: Some(counts(&[("once", invite(0, 1, 7)), ("a", invite(1, 0, 8))])),
            ..GuildInvites::default()
        };
        let (source, now) = guild.attribute(counts(&[("a", invite(1, 0, 8))]), start);
        assert_eq!(source, JoinSource::invite("once".to_owned(), Some(7)));
        guild.invites = Some(now);
        guild.created("b", invite(0, 0, 9));

        let (both, _) = guild.attribute(
            counts(&[("a", invite(2, 0, 8)), ("b", invite(1, 0, 9))]),
            start,
        );
        assert_eq!(both, JoinSource::unknown("ambiguous"));
    }

    #[test]
    fn a_use_no_join_claimed_expires() {
        let start = Instant::now();
        let mut guild = GuildInvites {
            invites: Some(counts(&[("a", invite(0, 0, 1))])),
            ..GuildInvites::default()
        };
        // Counted twice (one join was a bot's, or the second join was never delivered).
        let (_, now) = guild.attribute(counts(&[("a", invite(2, 0, 1))]), start);
        guild.invites = Some(now);
        let (later, _) = guild.attribute(
            counts(&[("a", invite(2, 0, 1))]),
            start + CREDIT_TTL + Duration::from_secs(1),
        );
        assert_eq!(later, JoinSource::unknown("not_found"));
    }
}
