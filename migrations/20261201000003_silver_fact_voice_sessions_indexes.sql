-- Indexes that keep the pipeline's and the pages' cost flat as history grows:
-- sessions still touching a recent range are found by their end (or, open, by the partial
-- index), and a member's own sessions by the member.
create index fact_voice_sessions_ended_idx on silver.fact_voice_sessions (ended_at);
create index fact_voice_sessions_open_idx on silver.fact_voice_sessions (started_at)
    where ended_at is null;
create index fact_voice_sessions_member_idx on silver.fact_voice_sessions (discord_user_id, started_at);
-- Replaced by the two above: a range on `started_at` first reads every older session.
drop index silver.fact_voice_sessions_time_idx;
