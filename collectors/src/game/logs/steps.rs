//! The ingest steps every game log record passes before it is written: the lines of players
//! who opted out are dropped, an address becomes a salted hash of its day, a `!link CODE`
//! command keeps only the code's hash (the pipeline's `link_codes` job redeems it), and chat
//! is reduced to its length.

use super::super::event::GameAccount;
use super::super::records::{GameLogRecord, LogKind};
use crate::metrics::{DropReason, Metrics};
use crate::rules::IngestRules;
use crate::steps::{IngestStep, IpHasher, Steps};
use chrono::{NaiveDate, NaiveTime};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The ingest step that replaces a player's address by a salted hash of the day (the
/// address itself is never stored). Run [`prepare_salts`] for the records' days first.
pub struct HashAddress(pub Arc<IpHasher>);

impl IngestStep<GameLogRecord> for HashAddress {
    fn name(&self) -> &'static str {
        "hash_address"
    }

    fn apply(&self, record: &mut GameLogRecord) -> Result<(), DropReason> {
        if let Some(address) = record.address.take() {
            record.ip_hash = self.0.hash(address, record.occurred_at);
        }
        Ok(())
    }
}

/// The ingest step that reduces chat to its length: the text goes no further.
pub struct ChatLength;

impl IngestStep<GameLogRecord> for ChatLength {
    fn name(&self) -> &'static str {
        "chat_length"
    }

    fn apply(&self, record: &mut GameLogRecord) -> Result<(), DropReason> {
        if let Some(text) = record.chat_text.take() {
            let length = text.chars().count();
            let detail = record.detail.get_or_insert_with(|| json!({}));
            if let Some(map) = detail.as_object_mut() {
                map.insert("chat_length".to_owned(), json!(length));
            }
        }
        Ok(())
    }
}

/// Whether a game player belongs to someone who opted out: by their account, or (Minecraft
/// lines name the player without the account) by their Minecraft name.
pub fn player_opted_out(
    rules: &IngestRules,
    name: Option<&str>,
    account: Option<&GameAccount>,
) -> bool {
    let by_account = match account {
        Some(GameAccount::Steam(id)) => rules.is_opted_out("steam", &id.to_string()),
        Some(GameAccount::Minecraft(uuid)) => rules.is_opted_out("minecraft", uuid),
        None => false,
    };
    by_account
        || (!matches!(account, Some(GameAccount::Steam(_)))
            && name.is_some_and(|name| rules.is_opted_out("minecraft_name", &name.to_lowercase())))
}

/// The ingest step that drops the lines of players who opted out.
pub struct OptedOutPlayers(pub IngestRules);

impl IngestStep<GameLogRecord> for OptedOutPlayers {
    fn name(&self) -> &'static str {
        "opted_out"
    }

    fn apply(&self, record: &mut GameLogRecord) -> Result<(), DropReason> {
        if player_opted_out(
            &self.0,
            record.player_name.as_deref(),
            record.account.as_ref(),
        ) {
            return Err(DropReason::opted_out);
        }
        Ok(())
    }
}

/// The steps every game log record passes.
pub fn log_steps(
    metrics: Metrics,
    hasher: Arc<IpHasher>,
    rules: IngestRules,
) -> Steps<GameLogRecord> {
    Steps::new("game_logs", metrics)
        .then(OptedOutPlayers(rules))
        .then(HashAddress(hasher))
        .then(LinkCommand)
        .then(ChatLength)
}

/// The ingest step that keeps, of a chat line `!link CODE`, only the code's hash (as the
/// web app stores it: SHA-256 of the upper-case code, in hex) under `detail.code_hash`. The
/// pipeline's `link_codes` job redeems it for the account that said it; the code itself goes
/// no further.
pub struct LinkCommand;

impl IngestStep<GameLogRecord> for LinkCommand {
    fn name(&self) -> &'static str {
        "link_command"
    }

    fn apply(&self, record: &mut GameLogRecord) -> Result<(), DropReason> {
        if record.kind != LogKind::Chat {
            return Ok(());
        }
        if let Some(code) = record.chat_text.as_deref().and_then(link_code) {
            let hash = code_hash(code);
            let detail = record.detail.get_or_insert_with(|| json!({}));
            if let Some(map) = detail.as_object_mut() {
                map.insert("code_hash".to_owned(), json!(hash));
            }
        }
        Ok(())
    }
}

/// The hash a link code is stored under (`app.link_code_hash` in SQL): case does not matter.
pub fn code_hash(code: &str) -> String {
    let digest = Sha256::digest(code.trim().to_ascii_uppercase().as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The code in a chat line `!link CODE` (any case; 4 to 16 letters and digits).
pub fn link_code(text: &str) -> Option<&str> {
    let text = text.trim();
    let (command, rest) = text.split_at_checked(5)?;
    if !command.eq_ignore_ascii_case("!link") || !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let code = rest.trim();
    (4..=16)
        .contains(&code.len())
        .then_some(code)
        .filter(|c| c.chars().all(|ch| ch.is_ascii_alphanumeric()))
}

/// Makes sure the address salts of the records' days exist.
pub async fn prepare_salts(hasher: &IpHasher, records: &[GameLogRecord]) -> sqlx::Result<()> {
    let mut days: Vec<NaiveDate> = records
        .iter()
        .filter(|r| r.address.is_some())
        .map(|r| r.occurred_at.date_naive())
        .collect();
    days.sort_unstable();
    days.dedup();
    for day in days {
        hasher
            .prepare(day.and_time(NaiveTime::MIN).and_utc())
            .await?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_link_command_is_read_in_any_case_with_a_code_of_four_to_sixteen_letters_and_digits() {
        assert_eq!(link_code("!link AB12CD34"), Some("AB12CD34"));
        assert_eq!(link_code("  !LINK   ab12  "), Some("ab12"));
        assert_eq!(link_code("!linkAB12CD34"), None);
        assert_eq!(link_code("!link abc"), None);
        assert_eq!(link_code("!link ab-12cd"), None);
        assert_eq!(link_code("say !link AB12CD34"), None);
    }

    #[test]
    fn the_code_hash_is_sha256_of_the_upper_case_code_as_the_web_app_stores_it() {
        // select app.link_code_hash('ab12cd34')
        assert_eq!(
            code_hash("ab12cd34"),
            "668c072603bbc3a89b6e2a67f878e29dbe33c020984d4928eda299e7cebe0adb"
        );
    }
}
