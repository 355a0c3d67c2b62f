-- An active person-day, defined once: on a local day, a person (every account of theirs
-- added up) with at least 60 seconds of non-AFK voice, at least one message, or at least 60
-- seconds on a tracked game server. Every KPI that counts active people asks these
-- functions (daily_active_users, retention_cohorts, member_sources, member_growth, funnel);
-- the Discord-comparable figures keep Discord's own definition (see docs/kpis.md).
--
-- Functions of the day's sums, not a column of silver.activity_daily: that table holds a
-- row per account, and a person's accounts add up before the thresholds apply (30 s on a
-- Steam account and 30 s on a Minecraft account are a minute on game servers). They are
-- single SQL expressions, immutable: PostgreSQL inlines them into the query that calls
-- them, so they cost what the comparisons written out cost.

create function silver.is_active_in_voice(voice_seconds numeric) returns boolean
language sql
immutable parallel safe
as $$ select voice_seconds >= 60 $$;
comment on function silver.is_active_in_voice(numeric) is
    'Whether a person''s non-AFK voice seconds of a local day (all their accounts) make them active in voice: at least 60.';

create function silver.is_active_in_chat(messages bigint) returns boolean
language sql
immutable parallel safe
as $$ select messages >= 1 $$;
comment on function silver.is_active_in_chat(bigint) is
    'Whether a person''s messages of a local day (all their accounts) make them active in chat: at least one.';

create function silver.is_active_in_game(game_seconds numeric) returns boolean
language sql
immutable parallel safe
as $$ select game_seconds >= 60 $$;
comment on function silver.is_active_in_game(numeric) is
    'Whether a person''s seconds on tracked game servers of a local day (all their accounts) make them active in games: at least 60.';

create function silver.is_active_person_day(
    voice_seconds numeric, messages bigint, game_seconds numeric
) returns boolean
language sql
immutable parallel safe
as $$
    select silver.is_active_in_voice(voice_seconds)
        or silver.is_active_in_chat(messages)
        or silver.is_active_in_game(game_seconds)
$$;
comment on function silver.is_active_person_day(numeric, bigint, numeric) is
    'An active person-day: given a person''s sums of silver.activity_daily for a local day (voice seconds, messages, game seconds), whether they were active in voice, chat or a game. Every KPI counting active people uses it.';
