//! Messages: MESSAGE_CREATE reduced to its metadata (the content only to its length, with
//! the message-content intent, and dropped at once) becomes [`MessageEvent`] rows in bronze,
//! through the message steps.

use super::candidates::MessageCandidate;
use super::state::BotState;
use super::{category_of, db_id};
use crate::discord::MessageEvent;
use crate::metrics::DropReason;
use crate::rules::IngestRules;
use crate::steps::IngestStep;
use serenity::all::{Cache, Message, MessageType};

/// The `source` label of the bot's messages in metrics.
pub(super) const MESSAGE_SOURCE: &str = "discord_messages";

/// Drops system messages: only what members wrote is chat activity.
pub(super) struct NoSystemMessages;

impl IngestStep<MessageCandidate> for NoSystemMessages {
    fn name(&self) -> &'static str {
        "no_system_messages"
    }

    fn apply(&self, candidate: &mut MessageCandidate) -> Result<(), DropReason> {
        if candidate.is_system {
            Err(DropReason::system)
        } else {
            Ok(())
        }
    }
}

/// Drops messages in excluded channels, or in threads of excluded channels, or in excluded
/// categories.
pub(super) struct ExcludedTextChannels(pub(super) IngestRules);

impl IngestStep<MessageCandidate> for ExcludedTextChannels {
    fn name(&self) -> &'static str {
        "excluded_channels"
    }

    fn apply(&self, candidate: &mut MessageCandidate) -> Result<(), DropReason> {
        let event = &candidate.event;
        let excluded = self
            .0
            .is_excluded(event.guild_id, event.channel_id, candidate.category_id)
            || event.parent_channel_id.is_some_and(|parent| {
                self.0
                    .is_excluded(event.guild_id, parent, candidate.category_id)
            });
        if excluded {
            Err(DropReason::excluded_channel)
        } else {
            Ok(())
        }
    }
}

/// MESSAGE_CREATE: failures are logged.
pub(super) async fn message_create(state: &BotState, cache: &Cache, message: Message) {
    if let Err(error) = on_message(state, cache, message).await {
        // The error names no content: the message was reduced to metadata first.
        tracing::error!(
            error = format!("{error:#}"),
            "handling MESSAGE_CREATE failed"
        );
    }
}

/// Reduces a message to its metadata (the content only to its length, with the intent) and
/// writes it through the message steps.
pub(super) async fn on_message(
    state: &BotState,
    cache: &Cache,
    message: Message,
) -> anyhow::Result<()> {
    state.metrics.received(MESSAGE_SOURCE);
    let char_count = state
        .config
        .message_content
        .then(|| i32::try_from(message.content.chars().count()).unwrap_or(i32::MAX));
    // The content goes here, before anything else sees the message.
    let Message {
        id,
        channel_id,
        guild_id,
        author,
        attachments,
        webhook_id,
        kind,
        message_reference,
        ..
    } = message;
    let Some(guild_id) = guild_id else {
        // Direct messages are not community activity.
        state.metrics.dropped(MESSAGE_SOURCE, DropReason::untracked);
        return Ok(());
    };
    // A thread (forum posts are threads) counts in its parent channel; a channel in its
    // category. From serenity's cache.
    let (parent_channel_id, category_id) = cache
        .guild(guild_id)
        .map(|guild| {
            if let Some(thread) = guild.threads.iter().find(|t| t.id == channel_id) {
                let parent = thread.parent_id;
                let category = parent
                    .and_then(|parent| guild.channels.get(&parent))
                    .and_then(|parent| parent.parent_id);
                (
                    parent.map(|p| db_id(p.get())),
                    category.map(|c| db_id(c.get())),
                )
            } else {
                (None, category_of(&guild, channel_id))
            }
        })
        .unwrap_or((None, None));
    let message_id = db_id(id.get());
    let candidate = MessageCandidate {
        event: MessageEvent {
            message_id,
            guild_id: db_id(guild_id.get()),
            channel_id: db_id(channel_id.get()),
            parent_channel_id,
            author_id: db_id(author.id.get()),
            created_at: crate::discord::snowflake_time(message_id),
            char_count,
            attachment_count: i32::try_from(attachments.len()).unwrap_or(i32::MAX),
            is_reply: kind == MessageType::InlineReply || message_reference.is_some(),
        },
        category_id,
        from_bot: author.bot || webhook_id.is_some(),
        is_system: !matches!(kind, MessageType::Regular | MessageType::InlineReply),
    };
    let Some(MessageCandidate { event, .. }) = state.message_steps.run(candidate) else {
        return Ok(());
    };
    let Some(writer) = state.message_writer.get() else {
        state.metrics.dropped(MESSAGE_SOURCE, DropReason::stopping);
        return Ok(());
    };
    writer.write(event).await?;
    Ok(())
}
