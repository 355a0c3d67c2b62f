-- Sign-in asks whether an account is a member of a tracked guild: by account first.
create index discord_member_events_user_idx
    on bronze.discord_member_events (user_id, guild_id, observed_at);
