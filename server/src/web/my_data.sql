-- One JSON document of a web user's data (the export of /me/export.json): the account, every
-- identity of their person, per-day activity, voice and game sessions, chat counts,
-- membership and the audit entries about their accounts. $1: app.users.id.
with me as (
    select u.*, (select person_id from silver.user_identities
                 where kind = 'discord' and external_id = u.discord_user_id::text) as person_id
    from app.users u where u.id = $1
),
accounts as (
    select i.* from silver.user_identities i, me where i.person_id = me.person_id
)
select jsonb_build_object(
    'exported_at', now(),
    'user', (select jsonb_build_object('discord_user_id', discord_user_id::text,
                                       'username', username, 'display_name', display_name,
                                       'role', role, 'created_at', created_at,
                                       'last_login_at', last_login_at) from me),
    'accounts', coalesce((select jsonb_agg(jsonb_build_object(
                    'kind', kind, 'external_id', external_id, 'display_name', display_name,
                    'verified_by', verified_by, 'linked_at', linked_at) order by kind, external_id)
                 from accounts), '[]'),
    'activity_daily', coalesce((select jsonb_agg(jsonb_build_object(
                    'day', a.day, 'account_kind', a.account_kind, 'account_id', a.account_id,
                    'voice_seconds', a.voice_seconds, 'messages', a.messages,
                    'game_seconds', a.game_seconds) order by a.day, a.account_kind)
                 from silver.activity_daily a, me where a.person_id = me.person_id), '[]'),
    'voice_sessions', coalesce((select jsonb_agg(jsonb_build_object(
                    'guild_id', s.guild_id::text, 'channel_id', s.channel_id::text,
                    'started_at', s.started_at, 'ended_at', s.ended_at, 'afk', s.is_afk)
                    order by s.started_at)
                 from silver.fact_voice_sessions s, me
                 where s.discord_user_id = me.discord_user_id), '[]'),
    'game_sessions', coalesce((select jsonb_agg(jsonb_build_object(
                    'server', g.name, 'game', g.game, 'account_kind', s.account_kind,
                    'account_id', s.account_id, 'player_name', s.player_name,
                    'started_at', s.started_at, 'ended_at', s.ended_at) order by s.started_at)
                 from silver.fact_game_sessions s
                 join app.game_servers g using (server_id)
                 join accounts i on i.kind = s.account_kind and i.external_id = s.account_id), '[]'),
    'chat_daily', coalesce((select jsonb_agg(jsonb_build_object(
                    'day', c.day, 'channel_id', c.channel_id::text, 'messages', c.messages)
                    order by c.day)
                 from silver.fact_chat_daily c, me where c.discord_user_id = me.discord_user_id), '[]'),
    'membership', coalesce((select jsonb_agg(to_jsonb(m) - 'discord_user_id')
                 from silver.dim_members m, me where m.discord_user_id = me.discord_user_id), '[]'),
    'audit_log', coalesce((select jsonb_agg(jsonb_build_object(
                    'at', l.at, 'by', l.actor_name, 'action', l.action, 'subject', l.subject,
                    'before', l.before, 'after', l.after) order by l.at)
                 from app.audit_log l
                 where l.subject in (select kind || ' ' || external_id from accounts)
                    or l.actor_user_id = $1), '[]')
)
