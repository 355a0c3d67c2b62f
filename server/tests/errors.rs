//! Errors in the user's language: every error a user can meet is a code the app translates,
//! never an English sentence from the server. Server functions answer with the code (and
//! the argument it concerns), the same in every language; the page says it in German or
//! English. The database's own refusals become the same codes, and the sign-in error pages
//! speak the language of the request. Every test gets a fresh database.

#[path = "support/web_app.rs"]
mod web_app;

use app::error::{AppError, Field, Problem, Unit};
use app::i18n::{Key, Lang, error_text, problem_text};
use app::model::Role;
use axum::http::{StatusCode, header};
use leptos::server_fn::ServerFn;
use sqlx::PgPool;
use std::collections::BTreeSet;
use web_app::*;

/// The name of a problem's variant. No wildcard: a new variant does not compile until it is
/// listed here and in [`REACHABLE`] (or said to be unreachable).
fn variant(problem: &Problem) -> &'static str {
    match problem {
        Problem::OutOfRange { .. } => "OutOfRange",
        Problem::RangeReversed => "RangeReversed",
        Problem::RangeTooLong { .. } => "RangeTooLong",
        Problem::ChannelIdNotPositive => "ChannelIdNotPositive",
        Problem::GuildNotTracked => "GuildNotTracked",
        Problem::GuildUnknown => "GuildUnknown",
        Problem::ChannelNotExcluded => "ChannelNotExcluded",
        Problem::AfkMarkUnknown => "AfkMarkUnknown",
        Problem::AppRoleUnknown => "AppRoleUnknown",
        Problem::DiscordRoleUnknown => "DiscordRoleUnknown",
        Problem::LabelTooLong { .. } => "LabelTooLong",
        Problem::InviteUnknown => "InviteUnknown",
        Problem::TooManyLinkCodes { .. } => "TooManyLinkCodes",
        Problem::AccountNotYours => "AccountNotYours",
        Problem::SignInAccountStays => "SignInAccountStays",
        Problem::SteamNotConnected => "SteamNotConnected",
        Problem::NotConfirmed => "NotConfirmed",
        Problem::SearchTooShort { .. } => "SearchTooShort",
        Problem::KindNotLinkable { .. } => "KindNotLinkable",
        Problem::AccountUnknown { .. } => "AccountUnknown",
        Problem::PersonUnknown { .. } => "PersonUnknown",
        Problem::PersonHasNoAccounts { .. } => "PersonHasNoAccounts",
        Problem::MergeIntoItself => "MergeIntoItself",
        Problem::SplitNothingChosen => "SplitNothingChosen",
        Problem::SplitForeignAccount { .. } => "SplitForeignAccount",
        Problem::SplitKeepsOne { .. } => "SplitKeepsOne",
        // Only for a database refusal the app does not know: no request reaches it.
        Problem::ChangeRefused => "ChangeRefused",
        Problem::TimezoneUnknown { .. } => "TimezoneUnknown",
        Problem::ChannelUnknown => "ChannelUnknown",
        Problem::DayInFuture => "DayInFuture",
        Problem::NoJobChosen => "NoJobChosen",
        Problem::JobUnknown { .. } => "JobUnknown",
        Problem::Required => "Required",
        Problem::NameTooLong { .. } => "NameTooLong",
        Problem::NotANumber => "NotANumber",
        Problem::GameUnknown => "GameUnknown",
        Problem::LogSourceUnknown => "LogSourceUnknown",
        Problem::MinecraftNoHttpLogs => "MinecraftNoHttpLogs",
        Problem::FolderMissing { .. } => "FolderMissing",
        Problem::UrlNotHttp => "UrlNotHttp",
        Problem::ServerNameTaken { .. } => "ServerNameTaken",
        Problem::GameServerUnknown { .. } => "GameServerUnknown",
        Problem::FingerprintInvalid => "FingerprintInvalid",
        Problem::HostKeyNotConfirmed => "HostKeyNotConfirmed",
        Problem::ConfirmationMismatch { .. } => "ConfirmationMismatch",
        Problem::SftpKeyNotAKey => "SftpKeyNotAKey",
        Problem::SftpKeyNeedsPassphrase => "SftpKeyNeedsPassphrase",
        Problem::SftpKeyWrongPassphrase => "SftpKeyWrongPassphrase",
        Problem::SftpKeyRsa => "SftpKeyRsa",
        Problem::SecretKeyMissing => "SecretKeyMissing",
    }
}

/// Every problem a server function can answer with.
const REACHABLE: [&str; 49] = [
    "OutOfRange",
    "RangeReversed",
    "RangeTooLong",
    "ChannelIdNotPositive",
    "GuildNotTracked",
    "GuildUnknown",
    "ChannelNotExcluded",
    "AfkMarkUnknown",
    "AppRoleUnknown",
    "DiscordRoleUnknown",
    "LabelTooLong",
    "InviteUnknown",
    "TooManyLinkCodes",
    "AccountNotYours",
    "SignInAccountStays",
    "SteamNotConnected",
    "NotConfirmed",
    "SearchTooShort",
    "KindNotLinkable",
    "AccountUnknown",
    "PersonUnknown",
    "PersonHasNoAccounts",
    "MergeIntoItself",
    "SplitNothingChosen",
    "SplitForeignAccount",
    "SplitKeepsOne",
    "TimezoneUnknown",
    "ChannelUnknown",
    "DayInFuture",
    "NoJobChosen",
    "JobUnknown",
    "Required",
    "NameTooLong",
    "NotANumber",
    "GameUnknown",
    "LogSourceUnknown",
    "MinecraftNoHttpLogs",
    "FolderMissing",
    "UrlNotHttp",
    "ServerNameTaken",
    "GameServerUnknown",
    "FingerprintInvalid",
    "HostKeyNotConfirmed",
    "ConfirmationMismatch",
    "SftpKeyNotAKey",
    "SftpKeyNeedsPassphrase",
    "SftpKeyWrongPassphrase",
    "SftpKeyRsa",
    "SecretKeyMissing",
];

/// Persons for the identity editor: 1 (a Discord and a Steam account), 2 (a Minecraft
/// account), 3 (no accounts), and a tracked guild 42.
async fn community(pool: &PgPool) {
    sqlx::raw_sql(
        "insert into app.discord_guilds (guild_id, name) values (42, 'Test Guild');
         insert into app.discord_channels (guild_id, channel_id, name, kind) values (42, 7, 'Lobby', 'voice');
         insert into silver.dim_user (person_id) overriding system value values (1), (2), (3);
         select setval(pg_get_serial_sequence('silver.dim_user', 'person_id'), 100);
         insert into silver.user_identities (kind, external_id, person_id, verified_by) values
             ('discord', '11', 1, 'observed'),
             ('steam', '76561197960000001', 1, 'observed'),
             ('minecraft', 'mc-ana', 2, 'observed');",
    )
    .execute(pool)
    .await
    .expect("community");
}

/// Triggers errors through the app's server functions and checks what they say.
struct Errors<'a> {
    app: &'a TestApp,
    seen: BTreeSet<&'static str>,
}

impl Errors<'_> {
    /// Calls `F` with `form` and expects a 400 with exactly `field` and `problem`, which
    /// reads `de` in German and `en` in English. The answer carries the code, never the text.
    async fn expect<F: ServerFn>(
        &mut self,
        form: &[(&str, &str)],
        field: Option<Field>,
        problem: Problem,
        de: &str,
        en: &str,
    ) {
        let (status, body) = self.app.call::<F>(form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{}: {body}", F::PATH);
        let error: AppError = serde_json::from_value(body.clone())
            .unwrap_or_else(|error| panic!("{}: {body} is not an AppError: {error}", F::PATH));
        assert_eq!(
            error,
            AppError::Invalid {
                field,
                problem,
                also: Vec::new()
            },
            "{}",
            F::PATH
        );
        assert_eq!(error_text(&error, Lang::De), de, "{}", F::PATH);
        assert_eq!(error_text(&error, Lang::En), en, "{}", F::PATH);
        assert_ne!(de, en, "{}: untranslated", F::PATH);
        let sent = body.to_string();
        assert!(
            !sent.contains(en) && !sent.contains(de),
            "{}: the server sent text: {sent}",
            F::PATH
        );
        if let AppError::Invalid { problem, .. } = &error {
            self.seen.insert(variant(problem));
        }
    }
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn every_user_facing_error_reads_as_its_translation_in_german_and_in_english(pool: PgPool) {
    community(&pool).await;
    let app = start_demo(pool).await;
    let mut errors = Errors {
        app: &app,
        seen: BTreeSet::new(),
    };

    // The admin's pages and editors.
    app.sign_in_demo("admin").await;
    errors
        .expect::<app::api::GetServerUtilization>(
            &[("days", "0")],
            Some(Field::Days),
            Problem::OutOfRange {
                min: 1,
                max: 366,
                unit: Unit::Days,
            },
            "Wähle zwischen 1 und 366 Tagen.",
            "Choose between 1 and 366 days.",
        )
        .await;
    errors
        .expect::<app::api::GetMemberGrowth>(
            &[("weeks", "521")],
            Some(Field::Weeks),
            Problem::OutOfRange {
                min: 1,
                max: 520,
                unit: Unit::Weeks,
            },
            "Wähle zwischen 1 und 520 Wochen.",
            "Choose between 1 and 520 weeks.",
        )
        .await;
    errors
        .expect::<app::api::GetEvents>(
            &[("past", "0")],
            Some(Field::Past),
            Problem::OutOfRange {
                min: 1,
                max: 500,
                unit: Unit::PastEvents,
            },
            "Wähle zwischen 1 und 500 vergangenen Events.",
            "Choose between 1 and 500 past events.",
        )
        .await;
    // Backfills from /admin/status.
    errors
        .expect::<app::api::StartBackfill>(
            &[
                ("from", "2999-01-01"),
                ("to", "2999-01-02"),
                ("jobs[0]", "voice_sessions"),
            ],
            Some(Field::To),
            Problem::DayInFuture,
            "Dieser Tag liegt in der Zukunft.",
            "This day is in the future.",
        )
        .await;
    errors
        .expect::<app::api::StartBackfill>(
            &[("from", "2026-11-01"), ("to", "2026-11-02")],
            Some(Field::Jobs),
            Problem::NoJobChosen,
            "Wähle mindestens einen Job.",
            "Choose at least one job.",
        )
        .await;
    errors
        .expect::<app::api::StartBackfill>(
            &[
                ("from", "2026-11-01"),
                ("to", "2026-11-02"),
                ("jobs[0]", "nightly"),
            ],
            Some(Field::Jobs),
            Problem::JobUnknown {
                job: "nightly".into(),
            },
            "Einen Job „nightly“ gibt es nicht.",
            "There is no job \"nightly\".",
        )
        .await;
    errors
        .expect::<app::api::GetDailyActiveUsers>(
            &[("from", "2026-02-10"), ("to", "2026-02-01")],
            Some(Field::To),
            Problem::RangeReversed,
            "Das Ende des Zeitraums liegt vor seinem Anfang.",
            "The end of the range is before its start.",
        )
        .await;
    errors
        .expect::<app::api::GetDailyActiveUsers>(
            &[("from", "2000-01-01"), ("to", "2026-02-01")],
            Some(Field::From),
            Problem::RangeTooLong { max_days: 3660 },
            "Der Zeitraum ist länger als 3.660 Tage.",
            "The range is longer than 3,660 days.",
        )
        .await;
    errors
        .expect::<app::api::ExcludeChannel>(
            &[("guild_id", "42"), ("channel_id", "0")],
            Some(Field::ChannelId),
            Problem::ChannelIdNotPositive,
            "Eine Kanal-ID ist eine positive Zahl.",
            "A channel id is a positive number.",
        )
        .await;
    errors
        .expect::<app::api::ExcludeChannel>(
            &[("guild_id", "43"), ("channel_id", "700")],
            Some(Field::GuildId),
            Problem::GuildNotTracked,
            "Dieser Discord-Server wird nicht erfasst.",
            "This guild is not recorded.",
        )
        .await;
    errors
        .expect::<app::api::IncludeChannel>(
            &[("guild_id", "42"), ("channel_id", "700")],
            Some(Field::ChannelId),
            Problem::ChannelNotExcluded,
            "Dieser Kanal ist nicht ausgeschlossen.",
            "This channel is not excluded.",
        )
        .await;
    errors
        .expect::<app::api::MarkAfkChannel>(
            &[
                ("guild_id", "42"),
                ("channel_id", "-7"),
                ("whole_history", "false"),
            ],
            Some(Field::ChannelId),
            Problem::ChannelIdNotPositive,
            "Eine Kanal-ID ist eine positive Zahl.",
            "A channel id is a positive number.",
        )
        .await;
    errors
        .expect::<app::api::MarkAfkChannel>(
            &[
                ("guild_id", "43"),
                ("channel_id", "7"),
                ("whole_history", "false"),
            ],
            Some(Field::GuildId),
            Problem::GuildNotTracked,
            "Dieser Discord-Server wird nicht erfasst.",
            "This guild is not recorded.",
        )
        .await;
    errors
        .expect::<app::api::MarkAfkChannel>(
            &[
                ("guild_id", "42"),
                ("channel_id", "9"),
                ("whole_history", "false"),
            ],
            Some(Field::ChannelId),
            Problem::ChannelUnknown,
            "Der Bot kennt diesen Kanal in diesem Server nicht.",
            "The bot does not know this channel in this server.",
        )
        .await;
    errors
        .expect::<app::api::SetCommunitySettings>(
            &[("timezone", "Mars/Olympus"), ("bronze_retention_days", "")],
            Some(Field::Timezone),
            Problem::TimezoneUnknown {
                name: "Mars/Olympus".into(),
            },
            "„Mars/Olympus“ ist keine Zeitzone: Wähle eine aus der Liste (z. B. Europe/Berlin).",
            "'Mars/Olympus' is not a time zone: choose one from the list (e.g. Europe/Berlin).",
        )
        .await;
    errors
        .expect::<app::api::SetCommunitySettings>(
            &[("timezone", ""), ("bronze_retention_days", "40000")],
            Some(Field::BronzeRetentionDays),
            Problem::OutOfRange {
                min: 0,
                max: 36_500,
                unit: Unit::Days,
            },
            "Wähle zwischen 0 und 36.500 Tagen.",
            "Choose between 0 and 36,500 days.",
        )
        .await;
    errors
        .expect::<app::api::GetAuditLog>(
            &[("page", "0")],
            Some(Field::Page),
            Problem::OutOfRange {
                min: 1,
                max: 100_000,
                unit: Unit::Pages,
            },
            "Wähle eine Seite von 1 bis 100.000.",
            "Choose a page from 1 to 100,000.",
        )
        .await;
    errors
        .expect::<app::api::UnmarkAfkChannel>(
            &[("id", "999"), ("whole_history", "false")],
            Some(Field::Id),
            Problem::AfkMarkUnknown,
            "Diese AFK-Markierung gibt es nicht (mehr).",
            "This AFK mark does not exist (any more).",
        )
        .await;
    errors
        .expect::<app::api::SetRoleMapping>(
            &[("guild_id", "42"), ("role_id", "8"), ("app_role", "owner")],
            Some(Field::AppRole),
            Problem::AppRoleUnknown,
            "Wähle Administration, Leitung, Mitglied oder keine.",
            "Choose admin, leader, member or none.",
        )
        .await;
    errors
        .expect::<app::api::SetRoleMapping>(
            &[
                ("guild_id", "42"),
                ("role_id", "999"),
                ("app_role", "leader"),
            ],
            Some(Field::RoleId),
            Problem::DiscordRoleUnknown,
            "Diese Rolle gehört zu keinem erfassten Discord-Server.",
            "This role is not a role of a recorded guild.",
        )
        .await;
    let long_label = "x".repeat(81);
    errors
        .expect::<app::api::SetInviteLabel>(
            &[("guild_id", "42"), ("code", "abc"), ("label", &long_label)],
            Some(Field::Label),
            Problem::LabelTooLong { max: 80 },
            "Ein Name hat höchstens 80 Zeichen.",
            "A label has at most 80 characters.",
        )
        .await;
    errors
        .expect::<app::api::SetInviteLabel>(
            &[("guild_id", "42"), ("code", "abc"), ("label", "Twitch")],
            Some(Field::Code),
            Problem::InviteUnknown,
            "Diese Einladung ist auf dem Discord-Server nicht bekannt.",
            "This invite is not known for the guild.",
        )
        .await;
    errors
        .expect::<app::api::SetGuildTracking>(
            &[("guild_id", "999"), ("tracked", "true")],
            Some(Field::GuildId),
            Problem::GuildUnknown,
            "Der Bot ist nicht auf diesem Discord-Server.",
            "The bot is not in this guild.",
        )
        .await;
    errors
        .expect::<app::api::SearchPersons>(
            &[("query", " a ")],
            Some(Field::Query),
            Problem::SearchTooShort { min: 2 },
            "Gib mindestens 2 Zeichen ein.",
            "Type at least 2 characters.",
        )
        .await;
    errors
        .expect::<app::api::AdminLinkIdentity>(
            &[("person_id", "1"), ("kind", "discord"), ("external_id", "11")],
            Some(Field::Kind),
            Problem::KindNotLinkable {
                kind: "discord".into(),
            },
            "Nur Steam- und Minecraft-Konten lassen sich verknüpfen oder trennen, Discord-Konten nicht.",
            "Only Steam and Minecraft accounts can be linked or unlinked, not Discord accounts.",
        )
        .await;
    errors
        .expect::<app::api::AdminLinkIdentity>(
            &[
                ("person_id", "1"),
                ("kind", "steam"),
                ("external_id", " 76561197960000099 "),
            ],
            Some(Field::ExternalId),
            Problem::AccountUnknown {
                kind: "steam".into(),
                external_id: "76561197960000099".into(),
            },
            "Guildhall kennt noch kein Steam-Konto „76561197960000099“.",
            "Guildhall does not know a Steam account '76561197960000099' yet.",
        )
        .await;
    errors
        .expect::<app::api::AdminLinkIdentity>(
            &[
                ("person_id", "999"),
                ("kind", "minecraft"),
                ("external_id", "mc-ana"),
            ],
            Some(Field::PersonId),
            Problem::PersonUnknown { person_id: 999 },
            "Person 999 gibt es nicht.",
            "Person 999 does not exist.",
        )
        .await;
    errors
        .expect::<app::api::AdminUnlinkIdentity>(
            &[("kind", "discord"), ("external_id", "11")],
            Some(Field::Kind),
            Problem::KindNotLinkable {
                kind: "discord".into(),
            },
            "Nur Steam- und Minecraft-Konten lassen sich verknüpfen oder trennen, Discord-Konten nicht.",
            "Only Steam and Minecraft accounts can be linked or unlinked, not Discord accounts.",
        )
        .await;
    errors
        .expect::<app::api::AdminUnlinkIdentity>(
            &[("kind", "minecraft"), ("external_id", "mc-nobody")],
            Some(Field::ExternalId),
            Problem::AccountUnknown {
                kind: "minecraft".into(),
                external_id: "mc-nobody".into(),
            },
            "Guildhall kennt noch kein Minecraft-Konto „mc-nobody“.",
            "Guildhall does not know a Minecraft account 'mc-nobody' yet.",
        )
        .await;
    errors
        .expect::<app::api::MergePersons>(
            &[("into", "1"), ("from", "1")],
            Some(Field::From),
            Problem::MergeIntoItself,
            "Eine Person kann nicht mit sich selbst zusammengeführt werden.",
            "A person cannot be merged into themselves.",
        )
        .await;
    errors
        .expect::<app::api::MergePersons>(
            &[("into", "999"), ("from", "2")],
            Some(Field::Into),
            Problem::PersonUnknown { person_id: 999 },
            "Person 999 gibt es nicht.",
            "Person 999 does not exist.",
        )
        .await;
    errors
        .expect::<app::api::MergePersons>(
            &[("into", "1"), ("from", "3")],
            Some(Field::From),
            Problem::PersonHasNoAccounts { person_id: 3 },
            "Person 3 hat keine Konten.",
            "Person 3 has no accounts.",
        )
        .await;
    errors
        .expect::<app::api::SplitPerson>(
            &[("person_id", "1")],
            Some(Field::Accounts),
            Problem::SplitNothingChosen,
            "Wähle die Konten aus, die abgetrennt werden sollen.",
            "Choose the accounts to split off.",
        )
        .await;
    errors
        .expect::<app::api::SplitPerson>(
            &[("person_id", "1"), ("accounts[0]", "minecraft:mc-ana")],
            Some(Field::Accounts),
            Problem::SplitForeignAccount { person_id: 1 },
            "Wähle nur Konten von Person 1 zum Abtrennen aus.",
            "Choose only accounts of person 1 to split off.",
        )
        .await;
    errors
        .expect::<app::api::SplitPerson>(
            &[
                ("person_id", "1"),
                ("accounts[0]", "discord:11"),
                ("accounts[1]", "steam:76561197960000001"),
            ],
            Some(Field::Accounts),
            Problem::SplitKeepsOne { person_id: 1 },
            "Mindestens ein Konto muss bei Person 1 bleiben.",
            "Keep at least one account with person 1.",
        )
        .await;
    let untouched: Vec<(String, i64)> = sqlx::query_as(
        "select external_id, person_id from silver.user_identities order by external_id",
    )
    .fetch_all(&app.pool)
    .await
    .expect("identities");
    assert_eq!(
        untouched,
        vec![
            ("11".to_owned(), 1),
            ("76561197960000001".to_owned(), 1),
            ("mc-ana".to_owned(), 2),
        ],
        "refused changes changed nothing"
    );

    game_server_errors(&mut errors).await;

    // A member's own accounts and data.
    app.sign_in_demo("member").await;
    let (member_discord_id, _) = guildhall::auth::demo::demo_user(Role::Member);
    sqlx::query("select silver.ensure_discord_persons(array[$1::bigint])")
        .bind(member_discord_id)
        .execute(&app.pool)
        .await
        .expect("the member's person");
    for _ in 0..5 {
        let (status, body) = app.call::<app::api::NewLinkCode>(&[]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    errors
        .expect::<app::api::NewLinkCode>(
            &[],
            None,
            Problem::TooManyLinkCodes { per_hour: 5 },
            "Du hast in der letzten Stunde schon 5 Codes bekommen. Warte ein wenig, bevor du den nächsten anforderst.",
            "5 link codes in the last hour: wait a little before asking for another.",
        )
        .await;
    errors
        .expect::<app::api::UnlinkMyAccount>(
            &[("kind", "steam"), ("external_id", "76561197960000001")],
            Some(Field::ExternalId),
            Problem::AccountNotYours,
            "Dieses Konto ist nicht mit dir verknüpft.",
            "This account is not linked to you.",
        )
        .await;
    let own = member_discord_id.to_string();
    errors
        .expect::<app::api::UnlinkMyAccount>(
            &[("kind", "discord"), ("external_id", &own)],
            Some(Field::Kind),
            Problem::SignInAccountStays,
            "Das Discord-Konto, mit dem du dich anmeldest, lässt sich nicht trennen.",
            "The Discord account you sign in with cannot be unlinked.",
        )
        .await;
    errors
        .expect::<app::api::LinkSteamConnection>(
            &[("steam_id", "76561197960000042")],
            Some(Field::SteamId),
            Problem::SteamNotConnected,
            "Dieses Steam-Konto gehört nicht zu deinen bestätigten Discord-Verbindungen.",
            "This Steam account is not among your verified Discord connections.",
        )
        .await;
    errors
        .expect::<app::api::DeleteMyAccount>(
            &[("confirmed", "false")],
            Some(Field::Confirmed),
            Problem::NotConfirmed,
            "Bitte bestätige zuerst: Das lässt sich nicht rückgängig machen.",
            "Confirm first: this cannot be undone.",
        )
        .await;
    errors
        .expect::<app::api::OptMeOut>(
            &[("confirmed", "false")],
            Some(Field::Confirmed),
            Problem::NotConfirmed,
            "Bitte bestätige zuerst: Das lässt sich nicht rückgängig machen.",
            "Confirm first: this cannot be undone.",
        )
        .await;

    let seen = errors.seen;
    let reachable: BTreeSet<&str> = REACHABLE.into_iter().collect();
    assert_eq!(seen, reachable, "every reachable problem was triggered");
    // The fallback no request reaches is translated all the same.
    assert_ne!(
        problem_text(&Problem::ChangeRefused, Lang::De),
        problem_text(&Problem::ChangeRefused, Lang::En)
    );

    // A page rendered for a German browser says it in German, and no English.
    app.sign_in_demo("leader").await;
    for (lang, other) in [(Lang::De, Lang::En), (Lang::En, Lang::De)] {
        app.jar
            .add_cookie_str(&format!("lang={}; Path=/", lang.code()), &app.base);
        let page = app.get("/?from=2026-02-10&to=2026-02-01").await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.expect("overview");
        assert!(
            html.contains(Key::RangeInvalid.text(lang)),
            "{lang:?}: {html}"
        );
        assert!(
            !html.contains(Key::RangeInvalid.text(other)),
            "{lang:?}: {html}"
        );
    }
}

/// The sign-in error pages, the refusals of guarded pages and the refused form posts:
/// each speaks the language of the request (the `lang` cookie, else `Accept-Language`),
/// all of it, with the status it always had.
#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn sign_in_and_refusal_pages_speak_the_language_of_the_request(pool: PgPool) {
    let app = start_demo(pool).await;
    let pages: [(&str, &str, StatusCode, Key); 4] = [
        (
            "DEMO",
            "/auth/demo",
            StatusCode::BAD_REQUEST,
            Key::AuthUnknownRole,
        ),
        (
            "GET",
            "/auth/callback?code=abc&state=forged",
            StatusCode::BAD_REQUEST,
            Key::AuthBadState,
        ),
        ("GET", "/admin", StatusCode::FORBIDDEN, Key::ErrForbidden),
        (
            "POST",
            "/lang",
            StatusCode::BAD_REQUEST,
            Key::AuthUnknownLanguage,
        ),
    ];
    app.sign_in_demo("member").await;
    for (lang, other) in [(Lang::De, Lang::En), (Lang::En, Lang::De)] {
        app.jar
            .add_cookie_str(&format!("lang={}; Path=/", lang.code()), &app.base);
        for (method, path, status, message) in pages {
            let response = if method == "POST" {
                app.browser
                    .post(app.url(path))
                    .form(&[("lang", "fr"), ("next", "/")])
                    .send()
                    .await
                    .expect("post")
            } else if method == "DEMO" {
                app.demo_post(&[("role", "owner")]).await
            } else {
                app.get(path).await
            };
            assert_eq!(response.status(), status, "{path}");
            let html = response.text().await.expect("page");
            assert_in_language(&html, lang, other, message, path);
        }
        // A form posted from another website, refused before anything runs.
        let response = app
            .browser
            .post(app.url("/auth/logout"))
            .header(header::ORIGIN, "https://evil.example")
            .send()
            .await
            .expect("cross-site post");
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let html = response.text().await.expect("page");
        assert_in_language(&html, lang, other, Key::AuthCrossSite, "cross-site");
    }

    // Without the cookie, the browser's Accept-Language decides.
    let german_browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let response = german_browser
        .post(app.url("/auth/demo"))
        .form(&[("role", "owner")])
        .header(header::ACCEPT_LANGUAGE, "de-DE,de;q=0.9,en;q=0.8")
        .send()
        .await
        .expect("demo");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.expect("page");
    assert_in_language(
        &html,
        Lang::De,
        Lang::En,
        Key::AuthUnknownRole,
        "Accept-Language",
    );
}

/// `html` is a page in `lang` saying `message`: its `<html lang>`, message and link home
/// are in `lang`, and neither text is there in `other`.
fn assert_in_language(html: &str, lang: Lang, other: Lang, message: Key, what: &str) {
    assert!(
        html.contains(&format!("<html lang=\"{}\">", lang.code())),
        "{what} {lang:?}: {html}"
    );
    for key in [message, Key::AuthBackHome] {
        assert_ne!(key.text(lang), key.text(other), "{key:?} is untranslated");
        assert!(
            html.contains(key.text(lang)),
            "{what} {lang:?} {key:?}: {html}"
        );
        assert!(
            !html.contains(key.text(other)),
            "{what} {lang:?} {key:?}: {html}"
        );
    }
}

/// The database functions' own refusals (`raise exception`), met when a change comes in
/// between the app's checks and the call: each is the typed problem its message means.
#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn every_raise_of_the_identity_functions_is_a_typed_problem(pool: PgPool) {
    community(&pool).await;
    let cases: [(&str, Problem); 8] = [
        (
            "select silver.merge_persons(1, 1, null)",
            Problem::MergeIntoItself,
        ),
        (
            "select silver.merge_persons(999, 2, null)",
            Problem::PersonUnknown { person_id: 999 },
        ),
        (
            "select silver.merge_persons(1, 3, null)",
            Problem::PersonHasNoAccounts { person_id: 3 },
        ),
        (
            "select silver.split_person(1, array['minecraft'], array['mc-ana'], null)",
            Problem::SplitForeignAccount { person_id: 1 },
        ),
        (
            "select silver.split_person(2, array['minecraft'], array['mc-ana'], null)",
            Problem::SplitKeepsOne { person_id: 2 },
        ),
        (
            "select silver.link_identity('discord', '11', 2, 'admin', null, null)",
            Problem::KindNotLinkable {
                kind: "discord".into(),
            },
        ),
        (
            "select silver.unlink_identity('discord', '11', null)",
            Problem::KindNotLinkable {
                kind: "discord".into(),
            },
        ),
        (
            "select app.erase_person(3, false, 'member.delete')",
            Problem::PersonHasNoAccounts { person_id: 3 },
        ),
    ];
    for (call, problem) in cases {
        let error = sqlx::query(call)
            .execute(&pool)
            .await
            .expect_err("the database refuses");
        assert_eq!(
            AppError::from_raise(error),
            AppError::Invalid {
                field: None,
                problem,
                also: Vec::new()
            },
            "{call}"
        );
    }
}

/// A game server form (`form[name]` …) with `changes` over a valid CS2 server.
fn server_form(changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut fields: Vec<(&str, &str)> = vec![
        ("name", "Dust"),
        ("game", "cs2"),
        ("host", "127.0.0.1"),
        ("rcon_password][action", "replace"),
        ("rcon_password][value", "pw"),
    ];
    for (name, value) in changes {
        fields.retain(|(n, _)| n != name);
        fields.push((name, value));
    }
    fields
        .into_iter()
        .map(|(name, value)| (format!("form[{name}]"), value.to_owned()))
        .collect()
}

/// A change to the game server form, the field and problem it is refused with, and the
/// German and English text.
type FormCase<'a> = (Vec<(&'a str, &'a str)>, Field, Problem, &'a str, &'a str);

/// Every problem of the game servers' form, at its field (admin signed in).
async fn game_server_errors(errors: &mut Errors<'_>) {
    use app::api::{
        CreateGameServer, DeleteGameServer, PinGameServerHostKey, SetGameServerEnabled,
    };
    async fn form_error(
        errors: &mut Errors<'_>,
        changes: &[(&str, &str)],
        field: Field,
        problem: Problem,
        de: &str,
        en: &str,
    ) {
        let owned = server_form(changes);
        let form: Vec<(&str, &str)> = owned
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        errors
            .expect::<CreateGameServer>(&form, Some(field), problem, de, en)
            .await;
    }
    let long = "x".repeat(101);
    let cases: Vec<FormCase> = vec![
        (
            vec![("name", " ")],
            Field::Name,
            Problem::Required,
            "Bitte ausfüllen.",
            "Please fill this in.",
        ),
        (
            vec![("name", &long)],
            Field::Name,
            Problem::NameTooLong { max: 100 },
            "Der Name ist länger als 100 Zeichen.",
            "The name is longer than 100 characters.",
        ),
        (
            vec![("game", "quake")],
            Field::Game,
            Problem::GameUnknown,
            "Wähle cs2, csgo, tf2, source oder minecraft.",
            "Choose cs2, csgo, tf2, source or minecraft.",
        ),
        (
            vec![("rcon_port", "27o15")],
            Field::RconPort,
            Problem::NotANumber,
            "Bitte eine ganze Zahl eingeben.",
            "Please enter a whole number.",
        ),
        (
            vec![("rcon_port", "70000")],
            Field::RconPort,
            Problem::OutOfRange {
                min: 1,
                max: 65535,
                unit: Unit::Port,
            },
            "Ein Port liegt zwischen 1 und 65535.",
            "A port is between 1 and 65535.",
        ),
        (
            vec![("rcon_password][value", "")],
            Field::RconPassword,
            Problem::Required,
            "Bitte ausfüllen.",
            "Please fill this in.",
        ),
        (
            vec![("poll_interval_secs", "4")],
            Field::PollInterval,
            Problem::OutOfRange {
                min: 5,
                max: 3600,
                unit: Unit::Seconds,
            },
            "Wähle zwischen 5 und 3.600 Sekunden.",
            "Choose between 5 and 3,600 seconds.",
        ),
        (
            vec![("log_source", "ftp")],
            Field::LogSource,
            Problem::LogSourceUnknown,
            "Wähle keine, HTTP, Ordner oder SFTP.",
            "Choose none, HTTP, folder or SFTP.",
        ),
        (
            vec![("game", "minecraft"), ("log_source", "http")],
            Field::LogSource,
            Problem::MinecraftNoHttpLogs,
            "Minecraft kann Logs nicht per HTTP schicken: Wähle einen Ordner oder SFTP.",
            "Minecraft cannot send logs over HTTP: choose a folder or SFTP.",
        ),
        (
            vec![("log_source", "file"), ("log_path", "/no/such/folder")],
            Field::LogPath,
            Problem::FolderMissing {
                path: "/no/such/folder".into(),
            },
            "/no/such/folder ist kein Ordner auf diesem Rechner.",
            "/no/such/folder is not a folder on this machine.",
        ),
        (
            vec![
                ("log_source", "sftp"),
                ("log_path", "/logs"),
                ("sftp_user", "u"),
                ("sftp_password][action", "replace"),
                ("sftp_password][value", "p"),
            ],
            Field::SftpHostKey,
            Problem::HostKeyNotConfirmed,
            "Teste zuerst die Verbindung und bestätige den Hostschlüssel des SFTP-Servers.",
            "Test the connection first and confirm the SFTP server's host key.",
        ),
        (
            vec![
                ("log_source", "sftp"),
                ("log_path", "/logs"),
                ("sftp_user", "u"),
                ("sftp_password][action", "replace"),
                ("sftp_password][value", "p"),
                ("sftp_host_key", "MD5:ab"),
            ],
            Field::SftpHostKey,
            Problem::FingerprintInvalid,
            "Das ist kein Schlüssel-Fingerabdruck (SHA256:…).",
            "This is not a key fingerprint (SHA256:…).",
        ),
        (
            vec![("log_timezone", "Mars/Olympus")],
            Field::LogTimezone,
            Problem::TimezoneUnknown {
                name: "Mars/Olympus".into(),
            },
            "„Mars/Olympus“ ist keine Zeitzone: Wähle eine aus der Liste (z. B. Europe/Berlin).",
            "'Mars/Olympus' is not a time zone: choose one from the list (e.g. Europe/Berlin).",
        ),
        (
            vec![("prometheus_url", "ftp://mc/metrics")],
            Field::PrometheusUrl,
            Problem::UrlNotHttp,
            "Das ist keine http(s)-URL.",
            "This is not an http(s) URL.",
        ),
        (
            vec![("capacity", "0")],
            Field::Capacity,
            Problem::OutOfRange {
                min: 1,
                max: 100_000,
                unit: Unit::Slots,
            },
            "Wähle zwischen 1 und 100.000 Plätzen.",
            "Choose between 1 and 100,000 slots.",
        ),
    ];
    for (changes, field, problem, de, en) in cases {
        form_error(errors, &changes, field, problem, de, en).await;
    }
    // The SFTP login key: not a key, a key with a passphrase that is missing or wrong.
    let dir = std::env::temp_dir().join(format!("guildhall-errors-key-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("key folder");
    let path = dir.join("id_ed25519");
    let made = std::process::Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "right phrase",
            "-C",
            "guildhall-test",
            "-f",
        ])
        .arg(&path)
        .status()
        .expect("ssh-keygen (openssh-client) must be installed");
    assert!(made.success());
    let protected = std::fs::read_to_string(&path).expect("the key");
    let rsa_path = dir.join("id_rsa");
    let made = std::process::Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "rsa",
            "-b",
            "2048",
            "-N",
            "",
            "-C",
            "guildhall-test",
            "-f",
        ])
        .arg(&rsa_path)
        .status()
        .expect("ssh-keygen (openssh-client) must be installed");
    assert!(made.success());
    let rsa: &'static str = Box::leak(
        std::fs::read_to_string(&rsa_path)
            .expect("the RSA key")
            .into_boxed_str(),
    );
    let _ = std::fs::remove_dir_all(&dir);
    let sftp_key = |key: &'static str, text: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![
            ("log_source", "sftp"),
            ("log_path", "/logs"),
            ("sftp_user", "u"),
            ("sftp_key][action", "replace"),
            (key, text),
        ]
    };
    let protected: &'static str = Box::leak(protected.into_boxed_str());
    let key_cases: Vec<FormCase> = vec![
        (
            sftp_key("sftp_key][value", "not a key"),
            Field::SftpKey,
            Problem::SftpKeyNotAKey,
            "Das ist kein privater Schlüssel im OpenSSH-Format (-----BEGIN OPENSSH PRIVATE KEY-----).",
            "This is not a private key in OpenSSH format (-----BEGIN OPENSSH PRIVATE KEY-----).",
        ),
        (
            sftp_key("sftp_key][value", protected),
            Field::SftpKeyPassphrase,
            Problem::SftpKeyNeedsPassphrase,
            "Dieser Schlüssel ist mit einer Passphrase geschützt: Gib sie auch an.",
            "This private key is protected by a passphrase: give the passphrase too.",
        ),
        (
            {
                let mut fields = sftp_key("sftp_key][value", protected);
                fields.push(("sftp_key_passphrase", "wrong phrase"));
                fields
            },
            Field::SftpKeyPassphrase,
            Problem::SftpKeyWrongPassphrase,
            "Die Passphrase öffnet diesen Schlüssel nicht.",
            "The passphrase does not open this private key.",
        ),
        (
            sftp_key("sftp_key][value", rsa),
            Field::SftpKey,
            Problem::SftpKeyRsa,
            "RSA-Schlüssel werden nicht angenommen: Erzeuge einen Ed25519-Schlüssel (ssh-keygen -t ed25519) und trage seinen öffentlichen Schlüssel auf dem Server ein.",
            "RSA keys are not accepted: make an Ed25519 key (ssh-keygen -t ed25519) and add its public key to the server.",
        ),
    ];
    for (changes, field, problem, de, en) in key_cases {
        form_error(errors, &changes, field, problem, de, en).await;
    }
    // A valid form with a password, and no GUILDHALL_SECRET_KEY: the command line's message.
    let owned = server_form(&[("name", "Inferno")]);
    let form: Vec<(&str, &str)> = owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    errors
        .expect::<CreateGameServer>(
            &form,
            None,
            Problem::SecretKeyMissing,
            "Passwörter und Schlüssel werden verschlüsselt gespeichert, und GUILDHALL_SECRET_KEY ist nicht gesetzt: Erzeuge einen Schlüssel mit `guildhall secrets new-key`, setze ihn als GUILDHALL_SECRET_KEY überall, wo Guildhall läuft (und bewahre eine Kopie auf: ohne ihn sind die gespeicherten Passwörter nicht lesbar), dann versuche es noch einmal.",
            "Passwords and keys are stored encrypted, and GUILDHALL_SECRET_KEY is not set: create a key with `guildhall secrets new-key`, set it as GUILDHALL_SECRET_KEY wherever Guildhall runs (and keep a copy: without it the stored passwords cannot be read), then try again.",
        )
        .await;
    // A name taken by another server (no secrets: no key needed).
    let owned = server_form(&[("rcon_password][action", "keep")]);
    let form: Vec<(&str, &str)> = owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, body) = errors.app.call::<CreateGameServer>(&form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    form_error(
        errors,
        &[("rcon_password][action", "keep")],
        Field::Name,
        Problem::ServerNameTaken {
            name: "Dust".into(),
        },
        "Es gibt schon einen Server namens Dust.",
        "There is a server named Dust already.",
    )
    .await;
    let server_id = body["server_id"].as_i64().expect("id").to_string();
    errors
        .expect::<SetGameServerEnabled>(
            &[("server_id", "999999"), ("enabled", "false")],
            Some(Field::ServerId),
            Problem::GameServerUnknown { server_id: 999999 },
            "Diesen Spielserver gibt es nicht (mehr).",
            "This game server does not exist (any more).",
        )
        .await;
    errors
        .expect::<PinGameServerHostKey>(
            &[("server_id", &server_id), ("fingerprint", "not a key")],
            Some(Field::Fingerprint),
            Problem::FingerprintInvalid,
            "Das ist kein Schlüssel-Fingerabdruck (SHA256:…).",
            "This is not a key fingerprint (SHA256:…).",
        )
        .await;
    errors
        .expect::<DeleteGameServer>(
            &[
                ("server_id", &server_id),
                ("erase_history", "true"),
                ("confirmation", "dust"),
            ],
            Some(Field::Confirmation),
            Problem::ConfirmationMismatch {
                expected: "Dust".into(),
            },
            "Tippe genau „Dust“ ein.",
            "Type exactly “Dust”.",
        )
        .await;
}
