//! Downloads: `/export/<table>.csv` (a gold table as CSV, for leaders and admins) and
//! `/me/export.json` (everything about the signed-in member). Each handler checks the role
//! itself, whatever the guard in front of it did. CSV cells that a spreadsheet would run as a
//! formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return, and not a number)
//! get a leading `'`, as OWASP recommends against CSV injection.

use crate::state::ServerState;
use app::i18n::{Key, Lang};
use app::model::Permission;
use app::ssr::authz::authorize;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

/// `/me/export.json`: everything Guildhall holds about the signed-in member, over all their
/// accounts.
pub async fn export_my_data(
    State(state): State<ServerState>,
    headers: HeaderMap,
    session: Session,
) -> Response {
    let lang = Lang::of_request(&headers);
    let user = match authorize(&state.app.pool, &session, Permission::OwnData).await {
        Ok(user) => user,
        Err(error) => return crate::auth::app_error_page(lang, &error),
    };
    let data: Result<serde_json::Value, sqlx::Error> = sqlx::query_scalar(MY_DATA)
        .bind(user.id)
        .fetch_one(&state.app.pool)
        .await;
    match data {
        Ok(data) => {
            tracing::info!(user = user.id, "personal data exported");
            (
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"guildhall-my-data.json\"",
                    ),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                serde_json::to_string_pretty(&data).unwrap_or_default(),
            )
                .into_response()
        }
        Err(error) => {
            tracing::error!(%error, "exporting personal data failed");
            crate::auth::error_page(lang, StatusCode::INTERNAL_SERVER_ERROR, Key::ExportFailed)
        }
    }
}

/// One JSON document of a web user's data: the account, every identity of their person,
/// per-day activity, voice and game sessions, chat counts, membership and the audit
/// entries about their accounts.
const MY_DATA: &str = include_str!("my_data.sql");

/// `COPY (<query>) TO STDOUT` as CSV with a header row: a literal, never built from input.
macro_rules! csv_copy {
    ($query:literal) => {
        concat!("copy (", $query, ") to stdout (format csv, header)")
    };
}

/// `/export/<table>.csv`: a gold table as CSV (leaders and admins).
pub async fn export_csv(
    State(state): State<ServerState>,
    headers: HeaderMap,
    session: Session,
    axum::extract::Path(table): axum::extract::Path<String>,
) -> Response {
    let lang = Lang::of_request(&headers);
    // Checked here too: the guard in front is one declaration away from a mistake.
    if let Err(error) = authorize(&state.app.pool, &session, Permission::ViewKpis).await {
        return crate::auth::app_error_page(lang, &error);
    }
    let failed =
        || crate::auth::error_page(lang, StatusCode::SERVICE_UNAVAILABLE, Key::ExportFailed);
    // The zone in force: an admin's choice in the console, else the configuration.
    let timezone = match app::ssr::community::timezone(&state.app).await {
        Ok(tz) => tz.name(),
        Err(error) => {
            tracing::error!(%error, "reading the community settings failed");
            return failed();
        }
    };
    let statement: &str = match table.as_str() {
        // The page's own function, over every week.
        "member_growth_weekly.csv" => {
            return match app::api::growth_weeks(&state.app.pool, timezone, None).await {
                Ok(weeks) => csv_response(
                    &table,
                    csv_text(
                        &["week_of", "joins", "leaves", "members"],
                        weeks.iter().map(|w| {
                            [
                                w.week.to_string(),
                                w.joins.to_string(),
                                w.leaves.to_string(),
                                w.members.to_string(),
                            ]
                        }),
                    ),
                ),
                Err(error) => {
                    tracing::error!(%error, table, "export failed");
                    failed()
                }
            };
        }
        "leavers.csv" => {
            csv_copy!(
                "select guild_id, discord_user_id, first_joined_at, last_joined_at, left_at,
                        left_at_noticed, rejoins,
                        extract(epoch from left_at - coalesce(last_joined_at, first_joined_at))::bigint / 86400
                            as days_stayed
                 from silver.dim_members where not is_member and left_at is not null
                   -- A hidden member is in the numbers, never in a list.
                   and not app.is_hidden_discord(discord_user_id)
                 order by left_at"
            )
        }
        "retention_cohorts.csv" => {
            csv_copy!(
                "select cohort_month, months_after, cohort_size, active, percentage, partial
                 from gold.retention_cohorts order by cohort_month, months_after"
            )
        }
        "discord_comparable_daily.csv" => {
            csv_copy!(
                "select day, communicators, communicators_week, new_members, activated,
                        activation_rate, week1_retained, week1_retention, complete
                 from gold.discord_comparable_daily order by day"
            )
        }
        "event_attendance.csv" => {
            csv_copy!(
                "select scheduled_event_id::text as scheduled_event_id, guild_id::text as guild_id,
                        name, kind, status, starts_at, ends_at, interested, attended,
                        interested_attended, no_shows, walk_ins, attendance_rate
                 from gold.event_attendance order by starts_at, scheduled_event_id"
            )
        }
        "member_sources.csv" => {
            csv_copy!(
                "select s.join_month, s.source, s.invite_code, l.label,
                        case when not app.is_hidden_discord(s.inviter_id) then s.inviter_id::text end
                            as inviter_id,
                        s.joined, s.young_accounts, s.still_members, s.active_after_1d,
                        s.active_after_7d, s.active_after_30d
                 from gold.member_sources s
                 left join lateral (select label from app.invite_labels l
                                    where l.code = s.invite_code order by l.updated_at desc limit 1) l
                   on true
                 order by s.join_month, s.source, s.invite_code"
            )
        }
        "member_source_retention.csv" => {
            csv_copy!(
                "select join_month, source, invite_code, months_after, cohort_size, active,
                        percentage, partial
                 from gold.member_source_retention
                 order by join_month, source, invite_code, months_after"
            )
        }
        "server_utilization.csv" => {
            csv_copy!(
                "select g.name as server, u.hour, u.avg_humans, u.peak_humans, u.capacity,
                        u.utilization_pct
                 from gold.server_utilization u join app.game_servers g using (server_id)
                 order by g.name, u.hour"
            )
        }
        "server_weekly_profile.csv" => {
            csv_copy!(
                "select g.name as server, p.weekday, p.hour, p.avg_humans, p.peak_humans,
                        p.utilization_pct, p.low_use, p.weeks
                 from gold.server_weekly_profile p join app.game_servers g using (server_id)
                 order by g.name, p.weekday, p.hour"
            )
        }
        // Local days: the transaction's time zone is the community's (bound, below).
        "server_daily.csv" => {
            csv_copy!(
                "select g.name as server, u.hour::date as day,
                        round(avg(u.avg_humans), 3) as avg_humans, max(u.peak_humans) as peak_humans,
                        max(u.capacity) as capacity,
                        case when max(u.capacity) > 0
                             then round(avg(u.avg_humans) * 100.0 / max(u.capacity), 2) end as utilization_pct
                 from gold.server_utilization u join app.game_servers g using (server_id)
                 group by g.name, 2 order by g.name, 2"
            )
        }
        "game_sessions.csv" => {
            // A hidden member's sessions count, but carry no name, account or person.
            csv_copy!(
                "select g.name as server,
                        case when h.person_id is null then s.player_key end as player_key,
                        case when h.person_id is null then s.player_name end as player_name,
                        case when h.person_id is null then s.person_id end as person_id,
                        s.started_at, s.ended_at, s.seconds, s.source, s.end_reason
                 from silver.fact_game_sessions s join app.game_servers g using (server_id)
                 left join app.hidden_persons h on h.person_id = s.person_id
                 order by g.name, s.started_at"
            )
        }
        "daily_active_users.csv" => {
            csv_copy!(
                "select day, dau_total, dau_voice, dau_chat, dau_game, wau, mau, stickiness
                 from gold.daily_active_users order by day"
            )
        }
        _ => return crate::auth::error_page(lang, StatusCode::NOT_FOUND, Key::NotFound),
    };
    // COPY writes the CSV (header, quoting) exactly as PostgreSQL reads it back.
    let csv = async {
        let mut tx = state.app.pool.begin().await?;
        // COPY takes no parameters: for an export by local day the community's time zone is
        // bound here instead, and timestamps cast to dates in it.
        if table == "server_daily.csv" {
            sqlx::query("select set_config('TimeZone', $1, true)")
                .bind(timezone)
                .execute(&mut *tx)
                .await?;
        }
        let mut stream = tx.copy_out_raw(statement).await?;
        let mut body = Vec::new();
        while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
            body.extend_from_slice(&chunk?);
        }
        drop(stream);
        tx.commit().await?;
        Ok::<_, sqlx::Error>(body)
    }
    .await;
    match csv {
        Ok(body) => csv_response(&table, body),
        Err(error) => {
            tracing::error!(%error, table, "export failed");
            failed()
        }
    }
}

/// A CSV download named `table`, its cells neutralised.
fn csv_response(table: &str, body: Vec<u8>) -> Response {
    let body = neutralise_csv(&body);
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{table}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// CSV as PostgreSQL's `COPY … (format csv, header)` writes it: comma-separated, a field
/// quoted when it holds a comma, quote, or line break, quotes doubled.
fn csv_text<const N: usize>(
    header: &[&str; N],
    rows: impl Iterator<Item = [String; N]>,
) -> Vec<u8> {
    let mut out = String::new();
    let mut line = |fields: &mut dyn Iterator<Item = &str>| {
        for (i, field) in fields.enumerate() {
            if i > 0 {
                out.push(',');
            }
            if field.contains([',', '"', '\n', '\r']) {
                out.push('"');
                out.push_str(&field.replace('"', "\"\""));
                out.push('"');
            } else {
                out.push_str(field);
            }
        }
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out.into_bytes()
}

/// Whether a spreadsheet could take a cell as a formula: it starts with `=`, `+`, `-`, `@`, a
/// tab or a carriage return, and is not a plain number (`-3`, `-0.25`, `+1e5` stay numbers).
fn is_formula_like(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_number(cell)
}

/// An optional sign, digits with at most one decimal point, an optional exponent.
fn is_number(cell: &str) -> bool {
    let unsigned = cell.strip_prefix(['+', '-']).unwrap_or(cell);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            (digits(whole) || whole.is_empty())
                && (digits(fraction) || fraction.is_empty())
                && !(whole.is_empty() && fraction.is_empty())
        }
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// One field of a CSV record as read: its text and whether it was quoted (PostgreSQL writes
/// NULL unquoted and an empty string as `""`; both survive).
struct Field {
    text: String,
    quoted: bool,
}

/// Writes one record, neutralised unless it is the header (which it then no longer is).
fn write_record(fields: &mut Vec<Field>, header: &mut bool, out: &mut String) {
    for (i, field) in fields.drain(..).enumerate() {
        if i > 0 {
            out.push(',');
        }
        let text = if !*header && is_formula_like(&field.text) {
            format!("'{}", field.text)
        } else {
            field.text
        };
        if field.quoted || text.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&text.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&text);
        }
    }
    out.push('\n');
    *header = false;
}

/// Rewrites CSV (as PostgreSQL's `COPY … (format csv, header)` and [`csv_text`] write it) with
/// every formula-like cell after the header prefixed by `'`. Quoting is kept as it was, and
/// added where a cell needs it.
fn neutralise_csv(csv: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(csv);
    let mut out = String::with_capacity(text.len() + 64);
    let mut fields: Vec<Field> = Vec::new();
    let mut field = Field {
        text: String::new(),
        quoted: false,
    };
    let mut in_quotes = false;
    let mut header = true;
    let mut chars = text.chars().peekable();
    let mut at_record_start = true;
    while let Some(c) = chars.next() {
        at_record_start = false;
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.text.push('"');
                } else {
                    in_quotes = false;
                }
            } else {
                field.text.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                in_quotes = true;
                field.quoted = true;
            }
            ',' => fields.push(std::mem::replace(
                &mut field,
                Field {
                    text: String::new(),
                    quoted: false,
                },
            )),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::replace(
                    &mut field,
                    Field {
                        text: String::new(),
                        quoted: false,
                    },
                ));
                write_record(&mut fields, &mut header, &mut out);
                at_record_start = true;
            }
            c => field.text.push(c),
        }
    }
    if !at_record_start {
        fields.push(field);
        write_record(&mut fields, &mut header, &mut out);
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_stay_numbers_and_formulas_get_a_quote() {
        for number in ["-3", "+3", "-0.25", "-.5", "-1e5", "-2.5E-3", "42"] {
            assert!(!is_formula_like(number), "{number}");
        }
        for formula in [
            "=HYPERLINK(\"http://x\")",
            "+1+cmd",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "-",
            "-e5",
            "- 3",
        ] {
            assert!(is_formula_like(formula), "{formula}");
        }
        assert!(!is_formula_like("Raid night"));
    }

    #[test]
    fn csv_cells_are_neutralised_after_the_header_and_quoting_survives() {
        let csv = "name,value,note\n\
                   \"=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",-3,\n\
                   @SUM(A1),-0.5,\"\"\n\
                   \"two\nlines\",+7,plain\n";
        let out = String::from_utf8(neutralise_csv(csv.as_bytes())).expect("utf-8");
        assert_eq!(
            out,
            "name,value,note\n\
             \"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",-3,\n\
             '@SUM(A1),-0.5,\"\"\n\
             \"two\nlines\",+7,plain\n"
        );
    }

    #[test]
    fn a_header_cell_is_never_changed_and_a_last_line_without_newline_is_kept() {
        let out = String::from_utf8(neutralise_csv(b"-a,b\n=1+1,2")).expect("utf-8");
        assert_eq!(out, "-a,b\n'=1+1,2\n");
    }
}
