//! Where members come from: the bot keeps each tracked guild's invites and their use
//! counts (read when the guild becomes available, kept current by INVITE_CREATE and
//! INVITE_DELETE) and, on each join, reads them again: the invite whose count went up is
//! the one the member used. Reading invites needs the Manage Server permission; without
//! it every source is unknown and the admin page says why.

use super::collector_state::{self, StoredInvite};
use super::db_id;
use super::invite_counts::{KnownInvite, known};
use super::state::BotState;
use crate::discord::JoinSource;
use serenity::all::{GuildId, Http, InviteCreateEvent, InviteDeleteEvent, RichInvite};
use std::time::Instant;

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
