//! The invites' use counts per guild, and which invite a join used: the one whose count
//! went up (a use-limited invite that vanished after its last use counts too; two rising
//! at once cannot be told apart).

use super::db_id;
use crate::discord::JoinSource;
use serenity::all::RichInvite;
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
