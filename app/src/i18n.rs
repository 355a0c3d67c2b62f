//! German and English UI text. Every string a page shows is a [`Key`] with both
//! translations, so a missing translation is a compile error rather than a blank label.
//!
//! The language is chosen on the server (the `lang` cookie, else `Accept-Language`), written
//! to `<html lang>` and read back from there when the browser hydrates, so both sides render
//! the same text. The switcher changes it live and stores the choice in the cookie.
//!
//! Texts with parameters have `{name}` placeholders ([`Key::fill`]); errors are codes that
//! become text only here ([`error_text`], [`problem_text`]), so no server text reaches a page.

use crate::error::{AppError, Problem, Refusal, Unit};
use leptos::prelude::*;

/// Name of the cookie that stores an explicit language choice.
pub const LANG_COOKIE: &str = "lang";

/// A UI language.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    De,
    #[default]
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::De, Lang::En];

    /// The BCP 47 code used in `<html lang>` and the cookie.
    pub fn code(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
        }
    }

    /// Parses a language tag such as `de`, `de-AT` or `EN-us`.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "de" => Some(Lang::De),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// Picks the preferred supported language from an `Accept-Language` header value.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(Lang, f32)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::from_tag) else {
                continue;
            };
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            // Ties keep the earlier entry: the header lists preferences in order.
            if quality > 0.0 && best.is_none_or(|(_, q)| quality > q) {
                best = Some((lang, quality));
            }
        }
        best.map(|(lang, _)| lang)
    }

    /// The language chosen by a `Cookie` header's `lang` cookie, if any.
    pub fn from_cookie_header(header: &str) -> Option<Lang> {
        header.split(';').find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == LANG_COOKIE)
                .then(|| Lang::from_tag(value))
                .flatten()
        })
    }

    /// The language of a request: its `lang` cookie, else its `Accept-Language`, else the
    /// default. Pages, server functions and the sign-in error pages all choose this way.
    #[cfg(feature = "ssr")]
    pub fn of_request(headers: &axum::http::HeaderMap) -> Lang {
        use axum::http::header::{ACCEPT_LANGUAGE, COOKIE};
        let header = |name| headers.get_all(name).iter().filter_map(|v| v.to_str().ok());
        header(COOKIE)
            .find_map(Lang::from_cookie_header)
            .or_else(|| header(ACCEPT_LANGUAGE).find_map(Lang::from_accept_language))
            .unwrap_or_default()
    }

    /// Formats a whole number with the language's thousands separator.
    pub fn int(self, value: i64) -> String {
        let digits = value.unsigned_abs().to_string();
        let sep = match self {
            Lang::De => '.',
            Lang::En => ',',
        };
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(sep);
            }
            out.push(c);
        }
        if value < 0 { format!("-{out}") } else { out }
    }

    /// Formats a number with one decimal in the language's style (`12.5` / `12,5`).
    pub fn decimal(self, value: f64) -> String {
        let text = format!("{value:.1}");
        match self {
            Lang::De => text.replace('.', ","),
            Lang::En => text,
        }
    }

    /// Formats a calendar day (`2026-11-01` / `01.11.2026`).
    pub fn date(self, day: chrono::NaiveDate) -> String {
        match self {
            Lang::De => day.format("%d.%m.%Y").to_string(),
            Lang::En => day.format("%Y-%m-%d").to_string(),
        }
    }

    /// Formats a month (`2026-11` / `11.2026`).
    pub fn month(self, day: chrono::NaiveDate) -> String {
        match self {
            Lang::De => day.format("%m.%Y").to_string(),
            Lang::En => day.format("%Y-%m").to_string(),
        }
    }

    /// Formats a local date and time, minutes precision.
    pub fn local_datetime(self, at: chrono::NaiveDateTime) -> String {
        match self {
            Lang::De => at.format("%d.%m.%Y %H:%M").to_string(),
            Lang::En => at.format("%Y-%m-%d %H:%M").to_string(),
        }
    }

    /// Formats an instant in UTC, minutes precision.
    pub fn datetime(self, at: chrono::DateTime<chrono::Utc>) -> String {
        match self {
            Lang::De => at.format("%d.%m.%Y %H:%M UTC").to_string(),
            Lang::En => at.format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    }
}

/// The language signal every component reads, provided by `App`.
#[derive(Clone, Copy, Debug)]
pub struct I18n {
    pub lang: RwSignal<Lang>,
}

/// The current language signal. Panics outside `App`, which always provides it.
pub fn use_i18n() -> I18n {
    expect_context::<I18n>()
}

/// A reactive translation: `{t(Key::NavOverview)}` in a view updates when the language does.
/// Read after its page was torn down (a client that went away while the server was still
/// streaming the page), it gives the default language instead of panicking.
pub fn t(key: Key) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
    let lang = use_i18n().lang;
    move || key.text(lang.try_get().unwrap_or_default())
}

/// The language for this request: on the server from the `lang` cookie or the
/// `Accept-Language` header; in the browser from `<html lang>`, which the server wrote.
pub fn initial_lang() -> Lang {
    #[cfg(feature = "ssr")]
    {
        use_context::<axum::http::request::Parts>()
            .map_or_else(Lang::default, |parts| Lang::of_request(&parts.headers))
    }
    #[cfg(not(feature = "ssr"))]
    {
        document()
            .document_element()
            .and_then(|html| html.get_attribute("lang"))
            .and_then(|code| Lang::from_tag(&code))
            .unwrap_or_default()
    }
}

/// The `lang` cookie that keeps an explicit choice for a year (set by the switcher in the
/// browser, or by the server's `/lang` form before hydration).
pub fn lang_cookie(lang: Lang) -> String {
    format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.code()
    )
}

/// Stores an explicit language choice for a year so reloads keep it.
pub fn remember_lang(lang: Lang) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Ok(doc) = document().dyn_into::<web_sys::HtmlDocument>() {
            let _ = doc.set_cookie(&lang_cookie(lang));
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = lang;
}

macro_rules! keys {
    ($($key:ident => $de:literal, $en:literal;)*) => {
        /// Every UI string.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Key { $($key),* }

        impl Key {
            /// Every key, for tests.
            pub const ALL: &'static [Key] = &[$(Key::$key),*];

            /// The text in a language.
            pub fn text(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((Key::$key, Lang::De) => $de, (Key::$key, Lang::En) => $en,)*
                }
            }
        }
    };
}

impl Key {
    /// The text in a language with its `{name}` placeholders filled in from `args`.
    pub fn fill(self, lang: Lang, args: &[(&str, &str)]) -> String {
        args.iter()
            .fold(self.text(lang).to_owned(), |text, (name, value)| {
                text.replace(&format!("{{{name}}}"), value)
            })
    }
}

/// The heading for an error users see.
pub fn error_key(error: &AppError) -> Key {
    match error {
        AppError::Unauthorized => Key::ErrUnauthorized,
        AppError::Forbidden => Key::ErrForbidden,
        AppError::Internal => Key::ErrInternal,
        AppError::Invalid { .. } | AppError::ServerFn(_) => Key::ErrRequest,
        AppError::Refused(Refusal::LastAdmin) => Key::ErrLastAdmin,
        AppError::Refused(Refusal::ConfiguredAdmin) => Key::ErrConfiguredAdmin,
        AppError::Refused(Refusal::ConfiguredLeader) => Key::ErrConfiguredLeader,
        AppError::Refused(Refusal::UnknownUser) => Key::ErrUnknownUser,
        AppError::Refused(Refusal::BackfillActive) => Key::ErrBackfillActive,
    }
}

/// What an error says in a language: for an invalid request what is wrong with it, else
/// its heading.
pub fn error_text(error: &AppError, lang: Lang) -> String {
    match error {
        AppError::Invalid { problem, .. } => problem_text(problem, lang),
        other => error_key(other).text(lang).to_owned(),
    }
}

/// How an account kind is written in a sentence (`steam` → `Steam`); unknown kinds as given.
fn kind_name(kind: &str) -> &str {
    match kind {
        "steam" => "Steam",
        "minecraft" => "Minecraft",
        "discord" => "Discord",
        other => other,
    }
}

/// What is wrong with an invalid request, in a language, its parameters filled in.
pub fn problem_text(problem: &Problem, lang: Lang) -> String {
    let plain = |key: Key| key.text(lang).to_owned();
    let person = |key: Key, person_id: i64| key.fill(lang, &[("person", &person_id.to_string())]);
    match problem {
        Problem::OutOfRange { min, max, unit } => {
            let key = match unit {
                Unit::Days => Key::ProblemDaysOutOfRange,
                Unit::Weeks => Key::ProblemWeeksOutOfRange,
                Unit::PastEvents => Key::ProblemPastEventsOutOfRange,
                Unit::Pages => Key::ProblemPagesOutOfRange,
                Unit::Seconds => Key::ProblemSecondsOutOfRange,
                // Ports are written without thousands separators.
                Unit::Port => {
                    return Key::ProblemPortOutOfRange.fill(
                        lang,
                        &[("min", &min.to_string()), ("max", &max.to_string())],
                    );
                }
                Unit::Slots => Key::ProblemSlotsOutOfRange,
            };
            key.fill(lang, &[("min", &lang.int(*min)), ("max", &lang.int(*max))])
        }
        Problem::RangeReversed => plain(Key::RangeInvalid),
        Problem::RangeTooLong { max_days } => {
            Key::ProblemRangeTooLong.fill(lang, &[("max", &lang.int(*max_days))])
        }
        Problem::ChannelIdNotPositive => plain(Key::ChannelIdInvalid),
        Problem::GuildNotTracked => plain(Key::ProblemGuildNotTracked),
        Problem::GuildUnknown => plain(Key::ProblemGuildUnknown),
        Problem::ChannelNotExcluded => plain(Key::ProblemChannelNotExcluded),
        Problem::AfkMarkUnknown => plain(Key::ProblemAfkMarkUnknown),
        Problem::AppRoleUnknown => plain(Key::ProblemAppRoleUnknown),
        Problem::DiscordRoleUnknown => plain(Key::ProblemDiscordRoleUnknown),
        Problem::LabelTooLong { max } => {
            Key::ProblemLabelTooLong.fill(lang, &[("max", &lang.int(i64::from(*max)))])
        }
        Problem::InviteUnknown => plain(Key::ProblemInviteUnknown),
        Problem::TooManyLinkCodes { per_hour } => {
            Key::ProblemTooManyLinkCodes.fill(lang, &[("count", &lang.int(*per_hour))])
        }
        Problem::AccountNotYours => plain(Key::ProblemAccountNotYours),
        Problem::SignInAccountStays => plain(Key::ProblemSignInAccountStays),
        Problem::SteamNotConnected => plain(Key::ProblemSteamNotConnected),
        Problem::NotConfirmed => plain(Key::ProblemNotConfirmed),
        Problem::SearchTooShort { min } => {
            Key::ProblemSearchTooShort.fill(lang, &[("min", &lang.int(i64::from(*min)))])
        }
        Problem::KindNotLinkable { kind } => {
            Key::ProblemKindNotLinkable.fill(lang, &[("kind", kind_name(kind))])
        }
        Problem::AccountUnknown { kind, external_id } => Key::ProblemAccountUnknown
            .fill(lang, &[("kind", kind_name(kind)), ("account", external_id)]),
        Problem::PersonUnknown { person_id } => person(Key::ProblemPersonUnknown, *person_id),
        Problem::PersonHasNoAccounts { person_id } => {
            person(Key::ProblemPersonHasNoAccounts, *person_id)
        }
        Problem::MergeIntoItself => plain(Key::ProblemMergeIntoItself),
        Problem::SplitNothingChosen => plain(Key::ProblemSplitNothingChosen),
        Problem::SplitForeignAccount { person_id } => {
            person(Key::ProblemSplitForeignAccount, *person_id)
        }
        Problem::SplitKeepsOne { person_id } => person(Key::ProblemSplitKeepsOne, *person_id),
        Problem::ChangeRefused => plain(Key::ProblemChangeRefused),
        Problem::TimezoneUnknown { name } => {
            Key::ProblemTimezoneUnknown.fill(lang, &[("zone", name)])
        }
        Problem::ChannelUnknown => plain(Key::ProblemChannelUnknown),
        Problem::DayInFuture => plain(Key::ProblemDayInFuture),
        Problem::NoJobChosen => plain(Key::ProblemNoJobChosen),
        Problem::JobUnknown { job } => Key::ProblemJobUnknown.fill(lang, &[("job", job)]),
        Problem::Required => plain(Key::ProblemRequired),
        Problem::NameTooLong { max } => {
            Key::ProblemNameTooLong.fill(lang, &[("max", &lang.int(i64::from(*max)))])
        }
        Problem::NotANumber => plain(Key::ProblemNotANumber),
        Problem::GameUnknown => plain(Key::ProblemGameUnknown),
        Problem::LogSourceUnknown => plain(Key::ProblemLogSourceUnknown),
        Problem::MinecraftNoHttpLogs => plain(Key::ProblemMinecraftNoHttpLogs),
        Problem::FolderMissing { path } => Key::ProblemFolderMissing.fill(lang, &[("path", path)]),
        Problem::UrlNotHttp => plain(Key::ProblemUrlNotHttp),
        Problem::ServerNameTaken { name } => {
            Key::ProblemServerNameTaken.fill(lang, &[("name", name)])
        }
        Problem::GameServerUnknown { .. } => plain(Key::ProblemGameServerUnknown),
        Problem::FingerprintInvalid => plain(Key::ProblemFingerprintInvalid),
        Problem::HostKeyNotConfirmed => plain(Key::ProblemHostKeyNotConfirmed),
        Problem::ConfirmationMismatch { expected } => {
            Key::ProblemConfirmationMismatch.fill(lang, &[("expected", expected)])
        }
        Problem::SftpKeyNotAKey => plain(Key::ProblemSftpKeyNotAKey),
        Problem::SftpKeyNeedsPassphrase => plain(Key::ProblemSftpKeyNeedsPassphrase),
        Problem::SftpKeyWrongPassphrase => plain(Key::ProblemSftpKeyWrongPassphrase),
        Problem::SftpKeyRsa => plain(Key::ProblemSftpKeyRsa),
        Problem::SecretKeyMissing => plain(Key::ProblemSecretKeyMissing),
    }
}

keys! {
    AppName => "Guildhall", "Guildhall";
    SkipToContent => "Zum Inhalt springen", "Skip to content";
    NavOverview => "Übersicht", "Overview";
    NavRetention => "Kohorten", "Retention";
    NavMembers => "Mitglieder", "Members";
    NavEvents => "Events", "Events";
    NavServers => "Server", "Servers";
    NavMyActivity => "Meine Aktivität", "My activity";
    NavAdmin => "Verwaltung", "Admin";
    SignOut => "Abmelden", "Sign out";
    SignIn => "Anmelden", "Sign in";
    Language => "Sprache", "Language";
    RoleMember => "Mitglied", "Member";
    RoleLeader => "Leitung", "Leader";
    RoleAdmin => "Administration", "Admin";
    Loading => "Lädt …", "Loading …";
    NotFound => "Diese Seite gibt es nicht.", "This page does not exist.";
    BackHome => "Zur Startseite", "Back to the start page";

    SignInTitle => "Willkommen bei Guildhall", "Welcome to Guildhall";
    SignInLead => "Guildhall zeigt, wer in eurer Community aktiv ist, wer bleibt und wann eure Server genutzt werden. Melde dich mit deinem Discord-Konto an.",
        "Guildhall shows who is active in your community, who stays and when your servers are used. Sign in with your Discord account.";
    SignInDiscord => "Mit Discord anmelden", "Sign in with Discord";
    DemoTitle => "Demo-Modus", "Demo mode";
    DemoLead => "Ohne Discord ausprobieren – anmelden als:", "Try it without Discord – sign in as:";

    OverviewTitle => "Übersicht", "Overview";
    OverviewLead => "Täglich aktive Personen: mindestens eine Minute in Sprachkanälen außerhalb des AFK-Kanals oder eine Nachricht. Wer in beidem aktiv war, zählt einmal.",
        "Daily active people: at least one minute in voice outside the AFK channel, or one message. Someone active in both counts once.";
    RangeFrom => "Von", "From";
    RangeTo => "Bis", "To";
    RangeDays7 => "7 Tage", "7 days";
    RangeDays30 => "30 Tage", "30 days";
    RangeDays90 => "90 Tage", "90 days";
    RangeInvalid => "Das Ende des Zeitraums liegt vor seinem Anfang.", "The end of the range is before its start.";
    AvgDau => "Ø DAU", "Average DAU";
    PeakDau => "Höchstwert", "Peak DAU";
    PeakOn => "am", "on";
    DaysInRange => "Tage", "Days";
    ChartTitle => "Täglich aktive Personen", "Daily active people";
    TableTitle => "Tageswerte", "Daily figures";
    ColDay => "Tag", "Day";
    ColDauTotal => "DAU gesamt", "DAU total";
    ColDauVoice => "DAU Sprache", "DAU voice";
    ColDauChat => "DAU Chat", "DAU chat";
    ColDauGame => "DAU Spiele", "DAU games";
    ColWau => "WAU", "WAU";
    ColMau => "MAU", "MAU";
    Wau => "WAU (7 Tage)", "WAU (7 days)";
    Mau => "MAU (30 Tage)", "MAU (30 days)";
    Stickiness => "Bindung (DAU/MAU)", "Stickiness (DAU/MAU)";
    AsOf => "Stand", "as of";
    AverageOverRange => "Ø im Zeitraum", "average over the range";
    NoData => "Für diesen Zeitraum gibt es noch keine Daten.", "There is no data for this range yet.";

    RetentionTitle => "Kohorten und Bindung", "Retention cohorts";
    RetentionLead => "Wer im selben Monat beigetreten ist, bildet eine Kohorte. Jede Zelle zeigt, welcher Anteil davon im Monat +k aktiv war (wie bei den täglich aktiven Personen). Wer den Server verlassen hat, bleibt in seiner Kohorte.",
        "Everyone who joined in the same month forms a cohort. Each cell shows the share of it active in month +k (as for daily active people). Members who left stay in their cohort.";
    NoCohorts => "Noch keine Kohorten: Beitritte kommen aus der Mitgliederliste des Bots.", "No cohorts yet: joins come from the bot's member list.";
    HeatmapCaption => "Aktive Anteile je Beitrittsmonat (+0 = Beitrittsmonat)", "Active share by join month (+0 = the join month)";
    CohortCounts => "Zahlen", "Counts";
    ColCohort => "Beitrittsmonat", "Join month";
    ColCohortSize => "Personen", "People";
    ColMonthsAfter => "Monat +k", "Month +k";
    ColActive => "aktiv", "active";
    ColShare => "Anteil", "Share";
    Partial => "laufender Monat", "month not over";
    DownloadCsv => "CSV herunterladen", "Download CSV";
    DownloadCsvAllDays => "CSV herunterladen (alle Tage)", "Download CSV (all days)";
    DownloadWeeksCsv => "Wochen als CSV (alle)", "Weeks as CSV (all)";
    DownloadLeaversCsv => "Gegangene als CSV", "Leavers as CSV";

    MembersTitle => "Mitglieder", "Members";
    MembersLead => "Beitritte, Austritte und Wachstum je Woche (Montag bis Sonntag), und wie lange die Gegangenen geblieben waren.",
        "Joins, leaves and net growth per week (Monday to Sunday), and how long those who left had stayed.";
    MembersNow => "Mitglieder jetzt", "Members now";
    JoinsInRange => "Beitritte (26 Wochen)", "Joins (26 weeks)";
    LeavesInRange => "Austritte (26 Wochen)", "Leaves (26 weeks)";
    GrowthCaption => "Je Woche, die neueste oben", "Per week, newest first";
    ColWeek => "Woche ab", "Week of";
    ColJoins => "Beitritte", "Joins";
    ColLeaves => "Austritte", "Leaves";
    ColNet => "Saldo", "Net";
    ColMembers => "Mitglieder", "Members";
    TenureCaption => "Wie lange Gegangene geblieben waren", "How long those who left had stayed";
    ColStayed => "Geblieben", "Stayed";
    ColLeavers => "Gegangen", "Left";
    ColActiveBefore => "davon vorher aktiv (30 Tage)", "of them active before (30 days)";
    ComparableTitle => "Vergleichbar mit Discords Server-Insights", "Comparable with Discord's Server Insights";
    CommunicatorsWeek => "Kommunizierende (7 Tage)", "Communicators (7 days)";
    ActivationRate => "Aktivierung Neuer", "New-member activation";
    Week1Retention => "Bindung Woche 1", "Week-1 retention";
    NewMembersNote => "neue Mitglieder (30 Tage)", "new members (30 days)";
    ComparableHint => "Kommunizierend: eine Nachricht oder Zeit im Sprachkanal außerhalb des AFK-Kanals. Aktiviert: in der ersten Woche mindestens 3 Nachrichten oder Zeit im Sprachkanal. Woche 1: in der zweiten Woche wieder kommunizierend. Anders als Discord zählt Guildhall Personen statt Konten und sieht nur, was Mitglieder tun, nicht was sie lesen.",
        "Communicating: a message, or time in voice outside the AFK channel. Activated: at least 3 messages or time in voice in the first week. Week 1: communicating again in the second week. Unlike Discord, Guildhall counts persons, not accounts, and sees what members do, not what they read.";
    TenureDay => "unter einem Tag", "less than a day";
    TenureWeek => "bis eine Woche", "up to a week";
    TenureMonth => "bis 30 Tage", "up to 30 days";
    TenureQuarter => "bis 90 Tage", "up to 90 days";
    TenureYear => "bis ein Jahr", "up to a year";
    TenureLonger => "länger", "longer";

    ServersTitle => "Spielserver", "Game servers";
    ServersLead => "Wer gerade spielt, wann die Server genutzt werden und wann sie aus sein könnten. Gezählt werden menschliche Spieler (keine Bots), zeitgewichtet: zwei Spieler eine halbe Stunde lang sind eine Stunde lang ein Spieler im Schnitt.", "Who is playing now, when the servers are used and when they could be off. Human players count (never bots), weighted by time: two players for half an hour average one player for the hour.";
    NoServers => "Noch keine Spielserver. Ein Admin fügt sie mit `guildhall servers add` hinzu.", "No game servers yet. An admin adds them with `guildhall servers add`.";
    PlayersNow => "Spieler jetzt", "Players now";
    ServerMap => "Karte", "Map";
    ServerSources => "Quellen", "Sources";
    ServerDisabled => "abgeschaltet", "disabled";
    HeardAt => "zuletzt gehört", "last heard";
    SourceRcon => "RCON", "RCON";
    SourceLogs => "Logs", "Logs";
    SourceMetrics => "Metriken", "Metrics";
    SourceOk => "ok", "ok";
    SourceNever => "noch nie erfolgreich", "never succeeded yet";
    NoSourceConfigured => "keine eingerichtet (RCON, Logs, Exporter)", "none configured (RCON, logs, exporter)";
    NoProfileYet => "Noch kein Wochenprofil: es entsteht mit der ersten vollen Stunde Daten.", "No weekly profile yet: it appears with the first full hour of data.";
    ProfileTitle => "Auslastung nach Wochentag und Stunde, Durchschnitt", "Use by weekday and hour, average";
    Weeks => "Wochen", "weeks";
    ColWeekday => "Tag", "Day";
    ColAvgPlayers => "Ø Spieler", "Avg players";
    ColPeakPlayers => "Spitze", "Peak";
    ColUtilization => "Auslastung", "Utilization";
    LowUse => "wenig genutzt", "low use";
    LowUseLegend => "Stunden pro Woche wenig genutzt (·): im Schnitt unter 10 % der Plätze belegt (ohne bekannte Plätze: unter einem Spieler) – Kandidaten zum Abschalten.", "hours a week of low use (·): on average under 10 % of slots taken (without known slots: under one player) — candidates for switching off.";
    ServerDaysTitle => "Nach Tag: Durchschnitt und Spitze", "By day: average and peak";
    DownloadHourlyCsv => "CSV je Stunde", "CSV by hour";
    DownloadProfileCsv => "CSV Wochenprofil", "CSV weekly profile";
    DownloadDailyCsv => "CSV je Tag", "CSV by day";
    DownloadSessionsCsv => "CSV Spielsitzungen", "CSV game sessions";
    WeekdayMon => "Mo", "Mon";
    WeekdayTue => "Di", "Tue";
    WeekdayWed => "Mi", "Wed";
    WeekdayThu => "Do", "Thu";
    WeekdayFri => "Fr", "Fri";
    WeekdaySat => "Sa", "Sat";
    WeekdaySun => "So", "Sun";
    EventsTitle => "Events", "Events";
    EventsLead => "Geplante Discord-Events: wer sich interessiert hat und wer da war. Da war, wer mindestens 10 Minuten außerhalb des AFK-Kanals im Sprachkanal des Events war, von 15 Minuten vor dem Beginn bis 15 Minuten nach dem Ende (ohne Ende: 2 Stunden; externe Events: in irgendeinem Sprachkanal).",
        "Scheduled Discord events: who was interested and who came. Someone came when they spent at least 10 minutes outside the AFK channel in the event's voice channel, from 15 minutes before the start to 15 minutes after the end (no end: 2 hours; external events: in any voice channel).";
    UpcomingEvents => "Anstehend und laufend", "Upcoming and running";
    PastEvents => "Vergangen", "Past";
    NoEvents => "Keine Events.", "No events.";
    ColEvent => "Event", "Event";
    ColStarts => "Beginn", "Starts";
    ColStatus => "Status", "Status";
    ColInterested => "Interessiert", "Interested";
    ColAttended => "Da", "Came";
    ColBoth => "Interessiert und da", "Interested and came";
    ColNoShows => "Nicht erschienen", "No-shows";
    ColWalkIns => "Spontan da", "Walk-ins";
    ColAttendanceRate => "Quote", "Rate";
    EventScheduled => "geplant", "scheduled";
    EventActive => "läuft", "running";
    EventCompleted => "beendet", "ended";
    EventCanceled => "abgesagt", "cancelled";
    EventStage => "Stage", "stage";
    EventVoice => "Sprachkanal", "voice";
    EventExternal => "extern", "external";

    SourcesTitle => "Woher Mitglieder kommen (12 Monate)", "Where members come from (12 months)";
    SourcesHint => "Je Einladung: wer darüber zum ersten Mal beigetreten ist, wer noch Mitglied ist und wer mindestens 1, 7 und 30 Tage nach dem Beitritt noch aktiv war. Monat 1: Anteil, der im Monat nach dem Beitrittsmonat aktiv war. Unbekannt: vor dem Bot beigetreten, Vanity-URL oder nicht eindeutig.",
        "Per invite: who first joined through it, who is still a member and who was still active at least 1, 7 and 30 days after joining. Month 1: the share active in the month after the join month. Unknown: joined before the bot, a vanity URL, or not clear.";
    SourcesNoPermission => "Der Bot darf die Einladungen nicht lesen: gib ihm die Berechtigung „Server verwalten“, sonst bleibt die Herkunft unbekannt.",
        "The bot may not read the invites: give it the Manage Server permission, or where members come from stays unknown.";
    SourceUnknown => "unbekannt", "unknown";
    ColInvite => "Einladung", "Invite";
    ColInviter => "Erstellt von", "Created by";
    ColYoung => "Konto < 3 Tage", "Account < 3 days";
    ColStill => "noch Mitglied", "still members";
    ColAfter1 => "aktiv nach 1 Tag", "active after 1 day";
    ColAfter7 => "nach 7 Tagen", "after 7 days";
    ColAfter30 => "nach 30 Tagen", "after 30 days";
    ColMonth1 => "Monat 1", "Month 1";
    DownloadSourcesCsv => "Herkunft als CSV", "Sources as CSV";

    DiscordSettingsTitle => "Discord-Server, Rollen und Einladungen", "Discord guilds, roles and invites";
    TrackingCaption => "Server, in denen der Bot ist", "Guilds the bot is in";
    TrackingHint => "Nur erfasste Server zählen: ihre Sprachzeit, Nachrichten, Mitglieder, Events. Eine Änderung gilt ab jetzt (innerhalb von Sekunden); Erfasstes bleibt.",
        "Only recorded guilds count: their voice time, messages, members, events. A change applies from now on (within seconds); what was recorded stays.";
    ColRecorded => "Erfasst", "Recorded";
    Recorded => "wird erfasst", "recorded";
    NotRecorded => "nicht erfasst", "not recorded";
    StartRecording => "Erfassen", "Record";
    StopRecording => "Nicht mehr erfassen", "Stop recording";
    RoleMappingCaption => "Welche Discord-Rolle welche Guildhall-Rolle gibt", "Which Discord role gives which Guildhall role";
    RoleMappingHint => "Gilt bei jeder Anmeldung und sobald sich Rollen in Discord ändern, zusätzlich zu den hier vergebenen Rollen: es zählt die höhere.",
        "Applies at every sign-in and whenever roles change in Discord, next to the roles given here: the higher one counts.";
    ColDiscordRole => "Discord-Rolle", "Discord role";
    ColAppRole => "Guildhall-Rolle", "Guildhall role";
    MappingNone => "keine", "none";
    InvitesCaption => "Einladungen und ihre Namen", "Invites and their labels";
    InviteGone => "gelöscht", "deleted";
    ColUses => "Nutzungen", "Uses";
    ColLabel => "Name", "Label";
    LabelPlaceholder => "z. B. Twitch", "e.g. Twitch";

    MyActivityTitle => "Meine Aktivität", "My activity";
    MyAccountsTitle => "Meine Konten", "My accounts";
    ExportMyData => "Meine Daten herunterladen (JSON)", "Download my data (JSON)";
    FunnelTitle => "Vom Beitritt zum Stammspieler", "From joining to playing regularly";
    FunnelLead => "Je Beitrittsmonat: beigetreten → Spielkonto verknüpft → auf einem unserer Server gespielt → Stammgast (an 4 Tagen eines Monats aktiv). Jeder Schritt zählt nur, wer den vorigen gegangen ist.",
        "Per month of joining: joined → linked a game account → played on one of our servers → regular (active on 4 days of a month). Each step counts only those who took the one before.";
    FunnelEmpty => "Noch keine Beitritte bekannt.", "No joins known yet.";
    FunnelMonth => "Beitrittsmonat", "Joined in";
    FunnelJoined => "Beigetreten", "Joined";
    FunnelLinked => "Verknüpft", "Linked";
    FunnelPlayed => "Gespielt", "Played";
    FunnelRegular => "Stammgast", "Regular";
    MyAccountsLead => "Alle Konten, die Guildhall dir zuordnet: Verknüpfte Spielkonten zählen in jeder Kennzahl als du, nicht als weitere Person.",
        "Every account Guildhall counts as you: linked game accounts count as you in every figure, not as someone else.";
    NoAccountsYet => "Noch kein Konto gesehen.", "No account seen yet.";
    ColPlatform => "Plattform", "Platform";
    ColAccount => "Konto", "Account";
    ColLinkedBy => "Verknüpft durch", "Linked by";
    ColSince => "Seit", "Since";
    VerifiedObserved => "gesehen", "seen";
    VerifiedOauth => "Discord-Verbindung", "Discord connection";
    VerifiedOpenid => "Steam-Anmeldung", "Steam sign-in";
    VerifiedCode => "Code im Spiel", "in-game code";
    VerifiedAdmin => "Admin", "an admin";
    SignInAccount => "dein Anmeldekonto", "your sign-in account";
    Unlink => "Trennen", "Unlink";
    LinkCodeButton => "Spielkonto verknüpfen", "Link a game account";
    LinkCodeHow => "Schreib das im Chat eines unserer Spielserver (Minecraft, CS2, …), mit dem Konto, das du verknüpfen willst:",
        "Type this in the chat of any of our game servers (Minecraft, CS2, …) with the account you want to link:";
    LinkCodeValid => "Gültig bis", "Valid until";
    SteamConnectionsTitle => "Steam-Konten aus deinen Discord-Verbindungen", "Steam accounts from your Discord connections";
    SteamConnectionsNone => "Discord zeigt keine bestätigte Steam-Verbindung (Stand: deine letzte Anmeldung). Verbinde Steam in Discord unter Einstellungen → Verbindungen und melde dich neu an.",
        "Discord shows no verified Steam connection (as of your last sign-in). Connect Steam in Discord under Settings → Connections and sign in again.";
    LinkThis => "Verknüpfen", "Link";
    Split => "Ausgewählte abtrennen", "Split off the chosen";
    SuggestionsTitle => "Vorschläge", "Suggestions";
    SuggestionsLead => "Spielkonten, die noch keinem Mitglied gehören, und wer es wahrscheinlich ist: nach Ähnlichkeit der Namen und gemeinsamen Stunden (im Sprachkanal, während das Konto spielte) in den letzten",
        "Game accounts no member owns yet, and who it probably is: by how alike the names are and the hours together (in voice while the account played) over the last";
    DaysWord => "Tagen.", "days.";
    NoSuggestions => "Keine Vorschläge: Jedes aktive Spielkonto gehört einem Mitglied, oder keines passt.", "No suggestions: every active game account belongs to a member, or none fits.";
    EvidenceNames => "Namen ähnlich zu", "names alike";
    EvidenceTogether => "gemeinsam", "together";
    SuspectsTitle => "Verdächtige Verknüpfungen", "Suspect links";
    SuspectsLead => "Verknüpfungen, denen die Daten widersprechen: ein Konto auf zwei Servern zugleich, oder ein Mitglied, das an keinem Spieltag des Kontos im Sprachkanal oder Chat war.",
        "Links the data contradicts: one account on two servers at once, or a member who was in neither voice nor chat on any day the account played.";
    NoSuspects => "Keine verdächtigen Verknüpfungen.", "No suspect links.";
    SuspectTwoServers => "auf zwei Servern zugleich, Mal", "on two servers at once, times";
    SuspectNeverOnline => "Spieltage ohne das Mitglied in Discord", "days played without the member on Discord";
    SplitChoose => "Zum Abtrennen auswählen", "Choose to split off";
    SplitDone => "Abgetrennt als Person", "Split off as person";
    SteamOpenIdButton => "Über Steam anmelden", "Sign in through Steam";
    SteamOpenIdLead => "Verknüpft das Steam-Konto, mit dem du dich bei Steam anmeldest. Guildhall erfährt dabei nur die SteamID, nie dein Passwort.",
        "Links the Steam account you sign in with on Steam. Guildhall learns only its SteamID, never your password.";
    SteamOpenIdLinked => "Dein Steam-Konto ist verknüpft: Seine Spielzeit zählt ab jetzt zu dir, auch rückwirkend.",
        "Your Steam account is linked: its play time counts as yours from now on, history included.";
    SteamOpenIdCancelled => "Du hast die Anmeldung bei Steam abgebrochen, es wurde nichts verknüpft.",
        "You cancelled the sign-in on Steam, so nothing was linked.";
    SteamOpenIdExpired => "Die Steam-Anmeldung ist abgelaufen oder wurde in einem anderen Fenster begonnen. Bitte fang noch einmal an.",
        "The Steam sign-in expired or was started in another window. Please start again.";
    SteamOpenIdReplayed => "Diese Antwort von Steam wurde schon einmal benutzt und gilt nicht noch einmal. Bitte melde dich neu bei Steam an.",
        "This answer from Steam was used before and does not count twice. Please sign in on Steam again.";
    SteamOpenIdRefused => "Steam hat die Anmeldung nicht bestätigt, es wurde nichts verknüpft. Bitte versuche es noch einmal.",
        "Steam did not confirm the sign-in, so nothing was linked. Please try again.";
    SteamOpenIdUnavailable => "Steam war gerade nicht erreichbar, es wurde nichts verknüpft. Bitte versuche es gleich noch einmal.",
        "Steam could not be reached, so nothing was linked. Please try again in a moment.";
    SteamOpenIdFailed => "Auf dem Server ist etwas schiefgelaufen, es wurde nichts verknüpft. Bitte versuche es noch einmal.",
        "Something went wrong on the server, so nothing was linked. Please try again.";
    AlreadyLinked => "verknüpft", "linked";
    MyDataTitle => "Meine Daten", "My data";
    MyDataLead => "Was Guildhall über dich weiß, gehört dir: herunterladen, ausblenden, widersprechen oder löschen. Alles wirkt sofort, die Kennzahlen werden ohne dich neu berechnet.",
        "What Guildhall knows about you is yours: download it, hide it, opt out or delete it. Everything applies at once; the figures are counted again without you.";
    HideMe => "Mich ausblenden", "Hide me";
    ShowMe => "Mich wieder zeigen", "Show me again";
    HideMeHow => "Ausgeblendet zählst du weiter in den Summen, wirst aber auf keiner Seite genannt oder einzeln gezeigt, auch nicht im Admin-Editor.",
        "Hidden, you still count in the totals but are never named or singled out on any page, the admin editor included.";
    HiddenNow => "Du bist ausgeblendet.", "You are hidden.";
    OptOut => "Widersprechen", "Opt out";
    OptOutHow => "Deine Daten werden gelöscht, und nichts von dir wird mehr erfasst: Deine Konten bleiben nur als anonyme Prüfsummen, damit die Erfassung sie verwirft. Du wirst abgemeldet.",
        "Your history is deleted and nothing of you is recorded any more: your accounts are kept only as anonymous hashes so the collectors drop them. You are signed out.";
    DeleteAccount => "Mein Konto löschen", "Delete my account";
    DeleteAccountHow => "Alles, was Guildhall über dich weiß, wird gelöscht, und du wirst abgemeldet. Was du später tust, zählt als unbekannte neue Person.",
        "Everything Guildhall holds about you is deleted and you are signed out. What you do later counts as an unknown new person.";
    ConfirmIrreversible => "Ja, ich weiß, dass das nicht rückgängig zu machen ist", "Yes, I understand this cannot be undone";
    ErasedDone => "Erledigt: Deine Daten sind gelöscht.", "Done: your data is deleted.";
    MyActivityLead => "Deine letzten 30 Tage über alle deine Konten: Sprachkanäle (ohne AFK), Nachrichten, Spielserver.",
        "Your last 30 days over all your accounts: voice channels (AFK excluded), messages, game servers.";
    VoiceHours => "Stunden in Sprachkanälen", "Hours in voice";
    VoiceMinutes => "Minuten", "minutes";
    ActiveDays => "Aktive Tage", "Active days";
    MessagesLabel => "Nachrichten", "Messages";
    LastThirtyDays => "in den letzten 30 Tagen", "in the last 30 days";
    GameHours => "Stunden auf Spielservern", "Hours on game servers";
    NoGameTimeYet => "noch keine (Spielkonto verknüpfen: unten)", "none yet (link a game account below)";
    OfThirty => "von 30", "of 30";

    AdminTitle => "Verwaltung", "Admin";
    BotTitle => "Discord-Bot", "Discord bot";
    BotOn => "Der Bot läuft.", "The bot is on.";
    BotOff => "Der Bot ist aus: setze DISCORD_BOT_TOKEN.", "The bot is off: set DISCORD_BOT_TOKEN.";
    CollectorsTitle => "Collectors", "Collectors";
    ColCollector => "Collector", "Collector";
    ColState => "Zustand", "State";
    ColRestarts => "Neustarts", "Restarts";
    ColLastSuccess => "Zuletzt in Betrieb", "Last seen running";
    ColLastError => "Letzter Fehler", "Last error";
    NoCollectors => "Keine Collectors gemeldet.", "No collectors reported.";
    GuildsTitle => "Discord-Server", "Discord guilds";
    NoGuilds => "Noch keine Guild erfasst.", "No guild tracked yet.";
    ColGuild => "Guild", "Guild";
    ColAfkDiscord => "AFK-Kanal (Discord)", "AFK channel (Discord)";
    ColAfkMarked => "Als AFK markiert", "Marked as AFK";
    ColAfkMark => "Kanal als AFK markieren", "Mark a channel as AFK";
    AfkWholeHistory => "auch rückwirkend", "for past time too";
    MarkAfk => "Markieren", "Mark";
    AfkSince => "seit", "since";
    AfkAlways => "immer", "always";
    UnmarkFromNow => "Ab jetzt nicht mehr", "Not from now on";
    UnmarkAlways => "Nie gewesen", "Never was";
    NotSet => "–", "–";
    ChannelId => "Kanal-ID", "Channel id";
    Save => "Speichern", "Save";
    Saved => "Gespeichert.", "Saved.";
    ChannelIdInvalid => "Eine Kanal-ID ist eine positive Zahl.", "A channel id is a positive number.";
    AfkHint => "Zeit in einem AFK-Kanal zählt nie als Aktivität: im AFK-Kanal von Discord (so, wie er jeweils eingestellt war) und in den hier markierten. Eine Markierung gilt ab jetzt, rückwirkend nur, wenn du es wählst. Die Pipeline berechnet die betroffenen Sitzungen beim nächsten Lauf (innerhalb einer Minute) neu.",
        "Time in an AFK channel is never activity: in Discord's AFK channel (as it was set at the time) and in the channels marked here. A mark applies from now on, to past time only when you say so. The pipeline recomputes the sessions it touches at its next run (within a minute).";
    RunsTitle => "Letzte Pipeline-Läufe", "Recent pipeline runs";
    NoRuns => "Noch keine Läufe.", "No runs yet.";
    ColJob => "Job", "Job";
    ColTrigger => "Auslöser", "Trigger";
    ColStarted => "Gestartet", "Started";
    ColSpan => "Neu berechnet", "Recomputed";
    ColDuration => "Dauer", "Duration";
    ColRows => "Zeilen", "Rows";
    ColResult => "Ergebnis", "Result";
    RunOk => "OK", "OK";
    NoBacklog => "Nichts wartet auf die Datenbank.", "Nothing waits for the database.";
    BacklogTitle => "Datensätze warten auf die Datenbank (im Spool, werden nachgeschrieben):", "Records waiting for the database (in the spool, written once it is back):";
    RejectedTitle => "Abgelehnte Datensätze", "Refused records";
    RejectedLead => "Datensätze, die die Datenbank abgelehnt hat. Sie sind mit ihrem Fehler in bronze.rejected_records aufbewahrt, nicht verloren.",
        "Records the database refused. They are kept with their error in bronze.rejected_records, not lost.";
    NoRejected => "Keine: die Datenbank hat jeden Datensatz angenommen.", "None: the database took every record.";
    ColSource => "Quelle", "Source";
    ColRecords => "Datensätze", "Records";
    ColLast => "Zuletzt", "Last";
    UsersTitle => "Personen und Rollen", "People and roles";
    UsersLead => "Wer sich angemeldet hat. Leitung sieht die Kennzahlen, Administration zusätzlich diese Seite. Jede Änderung steht im Änderungsprotokoll.",
        "Everyone who has signed in. Leaders see the KPI pages, admins this page too. Every change goes into the audit log.";
    NoUsers => "Noch niemand angemeldet.", "Nobody has signed in yet.";
    ColPerson => "Person", "Person";
    ColDiscordId => "Discord-ID", "Discord id";
    ColRole => "Rolle", "Role";
    ColLastLogin => "Letzte Anmeldung", "Last sign-in";
    ConfiguredBy => "festgelegt in", "set by";
    AuditTitle => "Änderungsprotokoll", "Audit log";
    NoAudit => "Noch keine Änderungen.", "No changes yet.";
    ColWhen => "Wann", "When";
    ColWho => "Wer", "Who";
    ColWhat => "Was", "What";
    ColSubject => "Betrifft", "Subject";
    ColBefore => "Vorher", "Before";
    ColAfter => "Nachher", "After";
    AuditRoleChanged => "Rolle geändert", "Role changed";
    AuditAfkMarked => "AFK-Kanal markiert", "AFK channel marked";
    AuditAfkUnmarked => "AFK-Markierung entfernt", "AFK mark removed";
    AuditChannelExcluded => "Kanal ausgeschlossen", "Channel excluded";
    AuditChannelIncluded => "Kanal wieder erfasst", "Channel recorded again";
    AuditRoleMapped => "Discord-Rolle zugeordnet", "Discord role mapped";
    AuditInviteLabelled => "Einladung benannt", "Invite labelled";
    AuditGuildTracking => "Erfassung eines Servers geändert", "Guild recording changed";
    AuditIdentityLinked => "Konto verknüpft", "Account linked";
    AuditIdentityUnlinked => "Konto getrennt", "Account unlinked";
    AuditPersonsMerged => "Personen zusammengeführt", "Persons merged";
    AuditPersonSplit => "Person aufgeteilt", "Person split";
    AuditMemberHidden => "Mitglied ausgeblendet oder wieder gezeigt", "Member hidden or shown again";
    AuditMemberOptedOut => "Mitglied hat widersprochen", "Member opted out";
    AuditMemberDeleted => "Mitglied hat sein Konto gelöscht", "Member deleted their account";
    IdentitiesTitle => "Personen und Konten", "Persons and accounts";
    IdentitiesLead => "Suche nach Name, Konto-ID oder Personennummer. Verknüpfen, Trennen und Zusammenführen rechnen genau die betroffenen Tage neu und stehen im Protokoll.",
        "Search by name, account id or person number. Linking, unlinking and merging recompute exactly the affected days and are logged below.";
    IdentitySearch => "Name, Konto-ID oder #Person", "Name, account id or person number";
    NoPersonsFound => "Keine Person gefunden (mindestens zwei Zeichen eingeben).", "No person found (type at least two characters).";
    MergeFrom => "Person hierher übernehmen:", "Merge person into this one:";
    Merge => "Zusammenführen", "Merge";
    LinkAccount => "Konto verknüpfen", "Link account";
    AccountIdPlaceholder => "SteamID64 oder Minecraft-UUID", "SteamID64 or Minecraft UUID";
    ExcludedTitle => "Ausgeschlossene Kanäle", "Excluded channels";
    ColExcluded => "Ausgeschlossen", "Excluded";
    ColExclude => "Ausschließen", "Exclude";
    ChannelOrCategoryId => "Kanal- oder Kategorie-ID", "Channel or category id";
    Exclude => "Ausschließen", "Exclude";
    RecordAgain => "Wieder erfassen", "Record again";
    ExcludedHint => "In ausgeschlossenen Kanälen (oder allen Kanälen einer ausgeschlossenen Kategorie) wird ab sofort nichts erfasst: keine Sprachzeit, keine Nachrichten. Laufende Collectors übernehmen die Änderung innerhalb von 15 Sekunden; was vorher erfasst wurde, bleibt.",
        "Nothing that happens in an excluded channel (or any channel of an excluded category) is recorded from now on: no voice time, no messages. Running collectors pick the change up within 15 seconds; what was recorded before stays.";

    // Privacy and identity correctness (issue 16): what became of a member's in-game codes.
    LinkAttemptsTitle => "Deine Codes, die nichts verknüpft haben", "Your codes that linked nothing";
    LinkAttemptVerified => "{kind}-Konto {account}: Es ist per Steam-Anmeldung oder Discord-Verbindung als Konto eines anderen Mitglieds bestätigt und bleibt dort. Ist es deins, kann eine Administratorin oder ein Administrator es dir zuordnen.",
        "{kind} account {account}: it is verified as another member's (by Steam sign-in or a Discord connection) and stays theirs. If it is yours, an admin can move it to you.";
    LinkAttemptExpired => "{kind}-Konto {account}: Der Code war abgelaufen.", "{kind} account {account}: the code had expired.";
    LinkAttemptUsed => "{kind}-Konto {account}: Der Code war schon benutzt.", "{kind} account {account}: the code had been used already.";

    ErrUnauthorized => "Bitte melde dich an.", "Please sign in.";
    ErrForbidden => "Das darfst du nicht.", "You are not allowed to do this.";
    ErrInternal => "Auf dem Server ist etwas schiefgegangen.", "Something went wrong on the server.";
    ErrRequest => "Die Anfrage ist fehlgeschlagen.", "The request failed.";
    ErrLastAdmin => "Das geht nicht: Danach gäbe es keine Administration mehr.", "Not possible: there would be no admin left.";
    ErrConfiguredAdmin => "Diese Person ist über GUILDHALL_ADMIN_IDS Administrator; ändere es dort.", "This person is an admin through GUILDHALL_ADMIN_IDS; change it there.";
    ErrConfiguredLeader => "Diese Person ist über GUILDHALL_LEADER_IDS Leitung; ändere es dort.", "This person is a leader through GUILDHALL_LEADER_IDS; change it there.";
    ErrUnknownUser => "Diese Person gibt es nicht (mehr).", "This person does not exist (any more).";
    ProblemDaysOutOfRange => "Wähle zwischen {min} und {max} Tagen.", "Choose between {min} and {max} days.";
    ProblemWeeksOutOfRange => "Wähle zwischen {min} und {max} Wochen.", "Choose between {min} and {max} weeks.";
    ProblemPastEventsOutOfRange => "Wähle zwischen {min} und {max} vergangenen Events.", "Choose between {min} and {max} past events.";
    ProblemRangeTooLong => "Der Zeitraum ist länger als {max} Tage.", "The range is longer than {max} days.";
    ProblemGuildNotTracked => "Dieser Discord-Server wird nicht erfasst.", "This guild is not recorded.";
    ProblemGuildUnknown => "Der Bot ist nicht auf diesem Discord-Server.", "The bot is not in this guild.";
    ProblemChannelNotExcluded => "Dieser Kanal ist nicht ausgeschlossen.", "This channel is not excluded.";
    ProblemAfkMarkUnknown => "Diese AFK-Markierung gibt es nicht (mehr).", "This AFK mark does not exist (any more).";
    ProblemAppRoleUnknown => "Wähle Administration, Leitung, Mitglied oder keine.", "Choose admin, leader, member or none.";
    ProblemDiscordRoleUnknown => "Diese Rolle gehört zu keinem erfassten Discord-Server.", "This role is not a role of a recorded guild.";
    ProblemLabelTooLong => "Ein Name hat höchstens {max} Zeichen.", "A label has at most {max} characters.";
    ProblemInviteUnknown => "Diese Einladung ist auf dem Discord-Server nicht bekannt.", "This invite is not known for the guild.";
    ProblemTooManyLinkCodes => "Du hast in der letzten Stunde schon {count} Codes bekommen. Warte ein wenig, bevor du den nächsten anforderst.",
        "{count} link codes in the last hour: wait a little before asking for another.";
    ProblemAccountNotYours => "Dieses Konto ist nicht mit dir verknüpft.", "This account is not linked to you.";
    ProblemSignInAccountStays => "Das Discord-Konto, mit dem du dich anmeldest, lässt sich nicht trennen.", "The Discord account you sign in with cannot be unlinked.";
    ProblemSteamNotConnected => "Dieses Steam-Konto gehört nicht zu deinen bestätigten Discord-Verbindungen.", "This Steam account is not among your verified Discord connections.";
    ProblemNotConfirmed => "Bitte bestätige zuerst: Das lässt sich nicht rückgängig machen.", "Confirm first: this cannot be undone.";
    ProblemSearchTooShort => "Gib mindestens {min} Zeichen ein.", "Type at least {min} characters.";
    ProblemKindNotLinkable => "Nur Steam- und Minecraft-Konten lassen sich verknüpfen oder trennen, {kind}-Konten nicht.",
        "Only Steam and Minecraft accounts can be linked or unlinked, not {kind} accounts.";
    ProblemAccountUnknown => "Guildhall kennt noch kein {kind}-Konto „{account}“.", "Guildhall does not know a {kind} account '{account}' yet.";
    ProblemPersonUnknown => "Person {person} gibt es nicht.", "Person {person} does not exist.";
    ProblemPersonHasNoAccounts => "Person {person} hat keine Konten.", "Person {person} has no accounts.";
    ProblemMergeIntoItself => "Eine Person kann nicht mit sich selbst zusammengeführt werden.", "A person cannot be merged into themselves.";
    ProblemSplitNothingChosen => "Wähle die Konten aus, die abgetrennt werden sollen.", "Choose the accounts to split off.";
    ProblemSplitForeignAccount => "Wähle nur Konten von Person {person} zum Abtrennen aus.", "Choose only accounts of person {person} to split off.";
    ProblemSplitKeepsOne => "Mindestens ein Konto muss bei Person {person} bleiben.", "Keep at least one account with person {person}.";
    ProblemChangeRefused => "Diese Änderung ist nicht möglich.", "This change is not possible.";

    AuthTitleSignInFailed => "Anmeldung fehlgeschlagen", "Sign-in failed";
    AuthTitleSignIn => "Bitte melde dich an", "Please sign in";
    AuthTitleDenied => "Zugriff verweigert", "Access denied";
    AuthTitleNotFound => "Nicht gefunden", "Not found";
    AuthTitleDiscordSilent => "Discord hat nicht geantwortet", "Discord did not answer";
    AuthTitleUnavailable => "Anmeldung nicht möglich", "Sign-in unavailable";
    AuthTitleFailed => "Etwas ist schiefgelaufen", "Something went wrong";
    AuthBackHome => "Zurück zu Guildhall", "Back to Guildhall";
    AuthSignInAgain => "Erneut anmelden", "Sign in again";
    AuthDemoOn => "Der Demo-Modus ist an:", "Demo mode is on:";
    AuthNotConfigured => "Die Anmeldung mit Discord ist nicht eingerichtet: Der Server braucht DISCORD_CLIENT_ID und DISCORD_CLIENT_SECRET.",
        "Discord sign-in is not configured: the server needs DISCORD_CLIENT_ID and DISCORD_CLIENT_SECRET.";
    AuthNotConfiguredDemo => "Die Anmeldung mit Discord ist nicht eingerichtet: Der Server braucht DISCORD_CLIENT_ID und DISCORD_CLIENT_SECRET. Der Demo-Modus ist an, du kannst dich unten als Demo-Benutzer anmelden.",
        "Discord sign-in is not configured: the server needs DISCORD_CLIENT_ID and DISCORD_CLIENT_SECRET. Demo mode is on, so you can sign in as a demo user below.";
    AuthProvider => "Discord konnte dich nicht anmelden. Bitte versuche es noch einmal.", "Discord could not sign you in. Please try again.";
    AuthDenied => "Du hast die Anmeldung bei Discord abgebrochen, daher bist du nicht angemeldet.", "You cancelled the sign-in on Discord, so you are not signed in.";
    AuthBadState => "Dieser Anmeldelink ist ungültig oder abgelaufen. Bitte fang noch einmal an.", "This sign-in link is invalid or has expired. Please start again.";
    AuthMissingCode => "Discord hat keinen Anmeldecode geschickt. Bitte versuche es noch einmal.", "Discord did not send a sign-in code. Please try again.";
    AuthUpstream => "Discord hat deine Anmeldung nicht bestätigt. Bitte versuche es gleich noch einmal.", "Discord did not confirm your sign-in. Please try again in a moment.";
    AuthUnknownRole => "Wähle für die Demo-Anmeldung die Rolle admin, leader oder member.", "Choose the role admin, leader or member for the demo login.";
    AuthNotAMember => "Anmelden können nur Mitglieder des Discord-Servers der Community, und dein Discord-Konto ist dort kein Mitglied. Tritt dem Server bei und melde dich dann noch einmal an.",
        "Only members of the community's Discord server can sign in, and your Discord account is not a member of it. Join the server, then sign in again.";
    AuthMembersUnknown => "Guildhall kennt die Mitglieder des Discord-Servers noch nicht: Der Bot liest die Mitgliederliste, sobald er verbunden ist (er braucht DISCORD_BOT_TOKEN und Discords Server-Members-Intent). Bitte versuche es in ein paar Minuten noch einmal.",
        "Guildhall does not know the members of the community's Discord server yet: the bot reads the member list when it connects (it needs DISCORD_BOT_TOKEN and Discord's Server Members intent). Please try again in a few minutes.";
    AuthOptedOut => "Du hast Guildhall widersprochen: Deine Daten wurden gelöscht und nichts, was du tust, wird erfasst, daher gibt es nichts, wofür du dich anmelden könntest. Deine Konten sind nur noch als anonyme Prüfsummen gespeichert, die die Erfassung verhindern.",
        "You opted out of Guildhall: your history was deleted and nothing you do is recorded, so there is nothing to sign in to. Your accounts are kept only as anonymous hashes, which is what stops the recording.";
    AuthInternal => "Auf dem Server ist etwas schiefgelaufen. Bitte versuche es noch einmal.", "Something went wrong on the server. Please try again.";
    AuthCrossSite => "Diese Anfrage kam von einer anderen Website und wurde abgelehnt.", "This request came from another website and was refused.";
    AuthUnknownLanguage => "Unbekannte Sprache: Wähle de oder en.", "Unknown language: choose de or en.";
    ExportFailed => "Der Export ist fehlgeschlagen. Bitte versuche es noch einmal.", "The export failed. Please try again.";
    Retry => "Erneut versuchen", "Try again";

    // Issue 16, the console part: the admin console's menu and sections, the community
    // settings, and the public privacy page.
    ConsoleMenu => "Verwaltungsbereiche", "Console sections";
    ConsoleStatus => "Status", "Status";
    ConsoleDiscord => "Discord", "Discord";
    ConsoleServers => "Spieleserver", "Game servers";
    ConsoleIdentities => "Identitäten", "Identities";
    ConsolePeople => "Personen und Rollen", "People and roles";
    ConsolePrivacy => "Datenschutz und Aufbewahrung", "Privacy and retention";
    ConsoleAudit => "Änderungsprotokoll", "Audit log";
    TimesIn => "Zeiten in", "Times in";
    AuditNewer => "Neuere", "Newer";
    AuditOlder => "Ältere", "Older";
    AuditPageOf => "Seite {page} von {pages} ({total} Einträge)", "Page {page} of {pages} ({total} entries)";
    AuditSettingsChanged => "Einstellungen geändert", "Settings changed";
    AuditBackfillStarted => "Backfill gestartet", "Backfill started";
    AuditBackfillCancelled => "Backfill abgebrochen", "Backfill cancelled";
    ChannelsTitle => "AFK- und ausgeschlossene Kanäle", "AFK and excluded channels";
    AfkPick => "Sprachkanal als AFK markieren", "Mark a voice channel as AFK";
    ExcludePick => "Kanal oder Kategorie ausschließen", "Exclude a channel or category";
    PickChannel => "Kanal wählen …", "Choose a channel …";
    CommunitySettingsTitle => "Einstellungen der Community", "Community settings";
    CommunitySettingsLead => "Leer gelassen gilt der konfigurierte Wert (Umgebung oder guildhall.toml). Änderungen gelten ohne Neustart und stehen im Änderungsprotokoll.",
        "Left empty, the configured value applies (environment or guildhall.toml). Changes apply without a restart and are in the audit log.";
    SettingTimezone => "Zeitzone", "Time zone";
    SettingTimezoneHint => "Alle Tage der Kennzahlen sind Tage in dieser Zeitzone. Nach einer Änderung rechnet die Pipeline die ganze Geschichte neu.",
        "Every KPI day is a day in this time zone. After a change the pipeline recomputes the whole history.";
    SettingRetention => "Rohdaten aufbewahren (Tage)", "Keep raw events (days)";
    SettingRetentionHint => "Rohdaten (bronze) werden so viele Tage nach ihrer Verarbeitung gelöscht; 0 behält alles. Sitzungen und Kennzahlen bleiben.",
        "Raw (bronze) events are deleted this many days after they were processed; 0 keeps everything. Sessions and KPIs stay.";
    AsConfigured => "wie konfiguriert ({value})", "as configured ({value})";
    SettingsUpdated => "Zuletzt geändert", "Last changed";
    SettingMessageLengths => "Nachrichtenlängen", "Message lengths";
    LengthsCounted => "Die Länge jeder Nachricht (Zeichen) wird gezählt; der Inhalt wird sofort verworfen.", "Each message's length (characters) is counted; the content is dropped at once.";
    LengthsNotCounted => "Nachrichtenlängen werden nicht gezählt: Nur dass eine Nachricht geschrieben wurde, wird erfasst.", "Message lengths are not counted: only that a message was written is recorded.";
    SettingMessageLengthsHint => "Eine Einstellung der Konfiguration (GUILDHALL_DISCORD__MESSAGE_CONTENT): Der Bot fragt Discord beim Verbinden danach, daher gilt eine Änderung nach einem Neustart.",
        "A configuration setting (GUILDHALL_DISCORD__MESSAGE_CONTENT): the bot asks Discord for it when it connects, so a change applies after a restart.";
    PrivacyPageTitle => "Öffentliche Datenschutzseite", "Public privacy page";
    PrivacyPageLead => "Was Guildhall erfasst, steht aus diesen Einstellungen erzeugt für alle lesbar auf", "What Guildhall collects, generated from these settings, is readable by anyone on";
    PrivacyLink => "Datenschutz", "Privacy";
    PrivacyTitle => "Datenschutz: was Guildhall erfasst", "Privacy: what Guildhall collects";
    PrivacyLead => "Guildhall zählt die Aktivität dieser Community, damit ihre Leitung nach Zahlen entscheiden kann. Diese Seite entsteht aus den Einstellungen, die gerade gelten.",
        "Guildhall counts this community's activity so that its leaders can decide from figures. This page is generated from the settings in force now.";
    PrivacyCollectsTitle => "Was erfasst wird", "What is collected";
    PrivacyDiscordVoice => "Discord-Sprachkanäle: wann jemand einen Kanal betritt, wechselt und verlässt, und ob stummgeschaltet.", "Discord voice: when someone joins, switches and leaves a channel, and whether muted.";
    PrivacyMessagesWithLength => "Discord-Nachrichten: wann, in welchem Kanal, ob Antwort, wie viele Anhänge, und die Länge in Zeichen. Nie der Inhalt.", "Discord messages: when, in which channel, whether a reply, how many attachments, and the length in characters. Never the content.";
    PrivacyMessagesWithoutLength => "Discord-Nachrichten: wann, in welchem Kanal, ob Antwort und wie viele Anhänge. Weder Inhalt noch Länge.", "Discord messages: when, in which channel, whether a reply and how many attachments. Neither content nor length.";
    PrivacyDiscordMembers => "Discord-Mitglieder: Beitritt, Austritt, Rollen und Einladung, sowie Interesse an geplanten Events.", "Discord members: joining, leaving, roles and invite, and interest in scheduled events.";
    PrivacyNoDiscord => "Kein Discord-Bot läuft: Aus Discord wird nichts erfasst.", "No Discord bot is running: nothing is recorded from Discord.";
    PrivacyRcon => "{count} Spieleserver werden abgefragt: Spielernamen, Verbindungsdauer und Ping.", "{count} game servers are polled: player names, time connected and ping.";
    PrivacyLogs => "Die Logs von {count} Spieleservern: Verbinden und Trennen mit Steam- oder Minecraft-Konto, Chat nur als Länge.", "The logs of {count} game servers: connects and disconnects with Steam or Minecraft account, chat as its length only.";
    PrivacyMetrics => "Messwerte von {count} Spieleservern: Spieler online und Serverleistung.", "Metrics of {count} game servers: players online and server performance.";
    PrivacyNoGames => "Keine Spieleserver sind eingerichtet.", "No game servers are configured.";
    PrivacySignIn => "Beim Anmelden: dein Discord-Name und deine Discord-ID, und die Spielkonten, die du verknüpfst.", "When you sign in: your Discord name and id, and the game accounts you link.";
    PrivacyNeverTitle => "Was nie erfasst wird", "What is never collected";
    PrivacyNeverContent => "Der Inhalt von Nachrichten: nie gespeichert, nie protokolliert, nie weitergegeben.", "The content of messages: never stored, logged or passed on.";
    PrivacyNeverGameChat => "Chattext in Spielen: nur seine Länge (ein Verknüpfungscode nur als Prüfsumme).", "Chat text in games: only its length (a link code only as a hash).";
    PrivacyNeverIp => "IP-Adressen: höchstens als Prüfsumme mit einem täglichen Salz, das nach zwei Tagen gelöscht wird.", "IP addresses: at most as a hash with a daily salt that is deleted after two days.";
    PrivacyNeverBots => "Bots und Mitglieder, die widersprochen haben, werden nie gezählt.", "Bots and members who opted out are never counted.";
    PrivacyKeptTitle => "Wie lange", "How long";
    PrivacyRetention => "Rohdaten werden {days} Tage nach ihrer Verarbeitung gelöscht; Sitzungen und Kennzahlen bleiben.", "Raw events are deleted {days} days after they were processed; sessions and KPIs stay.";
    PrivacyRetentionOff => "Rohdaten werden ohne Frist aufbewahrt.", "Raw events are kept without a time limit.";
    PrivacyZone => "Tage werden in der Zeitzone {zone} gezählt.", "Days are counted in the time zone {zone}.";
    PrivacyRightsTitle => "Deine Rechte", "Your rights";
    PrivacyRights => "Du kannst deine Daten exportieren, dich verbergen, widersprechen oder alles löschen, jederzeit, auf deiner Seite:", "You can export your data, hide, opt out or delete everything, at any time, on your page:";
    ProblemPagesOutOfRange => "Wähle eine Seite von {min} bis {max}.", "Choose a page from {min} to {max}.";
    ProblemTimezoneUnknown => "„{zone}“ ist keine Zeitzone: Wähle eine aus der Liste (z. B. Europe/Berlin).", "'{zone}' is not a time zone: choose one from the list (e.g. Europe/Berlin).";
    ProblemChannelUnknown => "Der Bot kennt diesen Kanal in diesem Server nicht.", "The bot does not know this channel in this server.";
    // Hardening of the web layer (issue 16, harden-web): rate limits and demo sign-in.
    AuthTitleTooManyRequests => "Zu viele Anfragen", "Too many requests";
    TooManyRequests => "Von deiner Adresse kamen gerade zu viele Anfragen. Bitte warte einen Moment und versuche es dann noch einmal.",
        "Too many requests came from your address just now. Please wait a moment, then try again.";
    AuthDemoRealUsers => "Die Demo-Anmeldung ist aus, weil sich in dieser Datenbank schon echte Benutzer angemeldet haben: Melde dich mit Discord an.",
        "Demo sign-in is off because real users have signed in to this database: sign in with Discord.";
    AuthDemoOutsider => "Demo: ein Discord-Konto, das kein Mitglied ist", "Demo: a Discord account that is not a member";
    // Collectors and pipeline status, backfills from the browser (/admin/status).
    StatusTitle => "Status", "Status";
    StatusLink => "Collectors, Pipeline und Backfills", "Collectors, pipeline and backfills";
    ColEventsHour => "Ereignisse (letzte Stunde)", "Events (last hour)";
    SpoolTotals => "{files} Dateien, {records} Datensätze, {bytes}", "{files} files, {records} records, {bytes}";
    JobsTitle => "Pipeline-Jobs", "Pipeline jobs";
    JobsLead => "Wie weit jeder Job gelesen hat (Wasserstand: letzte Bronze-ID), was noch auf ihn wartet, sein letzter Lauf und seine Wiederholungen nach einem Fehler (nach 30 s, 1 min, 2 min … höchstens 30 min).",
        "How far each job has read (watermark: the last bronze id), what waits for it, its last run and its retries after a failure (after 30 s, 1 min, 2 min … at most 30 min).";
    ColWatermark => "Wasserstand", "Watermark";
    ColBacklog => "Wartet", "Backlog";
    ColLastRun => "Letzter Lauf", "Last run";
    ColRetries => "Wiederholungen", "Retries";
    RetryLine => "{attempts}. Fehlschlag in Folge, nächster Versuch {next}", "failed {attempts} times in a row, next attempt {next}";
    BackfillTitle => "Backfill", "Backfill";
    BackfillLead => "Berechnet die gewählten Tage für die gewählten Jobs neu, Tag für Tag (ab einem Monat Woche für Woche). Läuft auf dem Server weiter, auch wenn du die Seite schließt; Abbrechen hält nach dem laufenden Abschnitt an, Fertiges bleibt.",
        "Recomputes the chosen days for the chosen jobs, day by day (week by week beyond a month). It goes on on the server when you close the page; cancel stops after the current chunk and keeps what is done.";
    BackfillFrom => "Von", "From";
    BackfillTo => "Bis", "To";
    BackfillJobs => "Jobs", "Jobs";
    BackfillStart => "Backfill starten", "Start backfill";
    BackfillCancel => "Abbrechen", "Cancel";
    BackfillCancelling => "Wird nach dem laufenden Abschnitt abgebrochen …", "Cancelling after the current chunk …";
    BackfillQueued => "Wartet auf den Start:", "Waiting to start:";
    BackfillRunning => "Läuft:", "Running:";
    BackfillFinished => "Fertig:", "Finished:";
    BackfillFailed => "Fehlgeschlagen:", "Failed:";
    BackfillCancelled => "Abgebrochen:", "Cancelled:";
    BackfillInterrupted => "Unterbrochen (der Server wurde beendet):", "Interrupted (the server stopped):";
    BackfillNumbers => "{done} von {total} Tagen, {rows} Zeilen geschrieben", "{done} of {total} days, {rows} rows written";
    BackfillLeft => "noch etwa {time}", "about {time} left";
    BackfillEnded => "Ende", "ended";
    ErrBackfillActive => "Es wartet oder läuft schon ein Backfill: warte, bis er fertig ist, oder brich ihn ab.", "A backfill is already waiting or running: wait for it to finish or cancel it.";
    ProblemDayInFuture => "Dieser Tag liegt in der Zukunft.", "This day is in the future.";
    ProblemNoJobChosen => "Wähle mindestens einen Job.", "Choose at least one job.";
    ProblemJobUnknown => "Einen Job „{job}“ gibt es nicht.", "There is no job \"{job}\".";
    // Game servers in the browser (/admin/servers, servers-ui).
    ServersAdminLead => "Spielserver hinzufügen, bearbeiten, pausieren und löschen, und ihre Verbindungen testen. Passwörter werden nie angezeigt; jede Änderung steht im Änderungsprotokoll.",
        "Add, edit, pause and delete game servers, and test their connections. Passwords are never shown; every change goes into the audit log.";
    AuditGameServerAdded => "Spielserver hinzugefügt", "Game server added";
    AuditGameServerChanged => "Spielserver geändert", "Game server changed";
    AuditGameServerEnabled => "Spielserver aktiviert oder pausiert", "Game server enabled or disabled";
    AuditGameServerDeleted => "Spielserver gelöscht", "Game server deleted";
    AuditGameServerLogToken => "Neue Log-Adresse eines Spielservers", "Game server log address replaced";
    AuditGameServerHostKey => "SFTP-Hostschlüssel bestätigt", "SFTP host key confirmed";
    ServersAdd => "Server hinzufügen", "Add a server";
    ServersAddTitle => "Neuer Spielserver", "New game server";
    ServersNone => "Noch keine Spielserver.", "No game servers yet.";
    ServersLogAddressOnce => "Diese Log-Adresse wird nur jetzt angezeigt: Trage sie in die Konfiguration des Servers ein.", "This log address is shown only now: put it into the server's config.";
    ServersLogUrl => "HTTP-Log-URL", "HTTP log URL";
    ServersLogCommand => "Zeile für die Serverkonfiguration", "Line for the server's config";
    ServersDeletedKept => "{name} wurde gelöscht; sein Verlauf bleibt.", "{name} was deleted; its history stays.";
    ServersDeletedErased => "{name} wurde gelöscht und {rows} Zeilen seines Verlaufs wurden entfernt.", "{name} was deleted and {rows} rows of its history were erased.";
    ServersEnabled => "aktiv", "enabled";
    ServersDisabled => "pausiert", "disabled";
    ServersTest => "Verbindung testen", "Test connection";
    ServersTesting => "Teste …", "Testing …";
    ServersEdit => "Bearbeiten", "Edit";
    ServersDisable => "Pausieren", "Disable";
    ServersEnable => "Aktivieren", "Enable";
    ServersNewToken => "Neue Log-Adresse", "New log address";
    ServersDelete => "Löschen", "Delete";
    ServersDeleteAndErase => "Löschen und Verlauf entfernen", "Delete and erase history";
    ServersDeleteTitle => "Server löschen", "Delete the server";
    ServersDeleteKeep => "Verlauf behalten (Auswertungen zeigen ihn weiter)", "Keep its history (the reports still show it)";
    ServersDeleteErase => "Auch den ganzen Verlauf entfernen (nicht rückgängig zu machen)", "Also erase its whole history (cannot be undone)";
    ServersEraseType => "Tippe zur Bestätigung den Namen „{name}“", "Type the name “{name}” to confirm";
    ServersSecretSet => "gesetzt", "set";
    ServersSecretNotSet => "nicht gesetzt", "not set";
    ServersSecretReplace => "ersetzen", "replace";
    ServersSecretRemove => "entfernen", "remove";
    ServersSecretKeep => "behalten", "keep";
    ServersSecretWillGo => "wird beim Speichern entfernt", "will be removed when saved";
    ServersSources => "Quellen", "Sources";
    ServersGroupServer => "Server", "Server";
    ServersGroupRcon => "RCON", "RCON";
    ServersGroupLogs => "Logs", "Logs";
    ServersGroupMetrics => "Prometheus-Exporter", "Prometheus exporter";
    ServersFieldName => "Name", "Name";
    ServersFieldGame => "Spiel", "Game";
    ServersFieldHost => "Host", "Host";
    ServersFieldCapacity => "Plätze", "Player slots";
    ServersFieldRcon => "RCON", "RCON";
    ServersFieldRconPort => "RCON-Port", "RCON port";
    ServersFieldRconPassword => "RCON-Passwort", "RCON password";
    ServersFieldPollInterval => "Abfrage alle … Sekunden", "Poll every … seconds";
    ServersFieldLogSource => "Log-Quelle", "Log source";
    ServersFieldLogPath => "Log-Ordner", "Log folder";
    ServersFieldLogTimezone => "Zeitzone der Logs", "Log time zone";
    ServersFieldSftpPort => "SFTP-Port", "SFTP port";
    ServersFieldSftpUser => "SFTP-Benutzer", "SFTP user";
    ServersFieldSftpPassword => "SFTP-Passwort", "SFTP password";
    ServersFieldSftpHostKey => "SFTP-Hostschlüssel", "SFTP host key";
    ServersFieldPrometheusUrl => "Metrik-URL", "Metrics URL";
    ServersFieldMetricsInterval => "Abruf alle … Sekunden", "Scrape every … seconds";
    ServersHintHost => "Name oder Adresse des Spielservers", "Name or address of the game server";
    ServersHintCapacity => "leer: die Maximalzahl des Servers", "empty: the server's own maximum";
    ServersHintRconPort => "leer: 27015 (Source) bzw. 25575 (Minecraft)", "empty: 27015 (Source) or 25575 (Minecraft)";
    ServersHintLogPath => "Ordner auf diesem Rechner (Datei) oder auf dem SFTP-Server", "Folder on this machine (file) or on the SFTP server";
    ServersHintLogTimezone => "leer: die Zeitzone der Community", "empty: the community's time zone";
    ServersHintSftpHostKey => "„Verbindung testen“ zeigt den Schlüssel des Servers zum Bestätigen", "“Test connection” shows the server's key to confirm";
    ServersLogsNone => "keine", "none";
    ServersLogsHttp => "HTTP (CS2 logaddress_add_http)", "HTTP (CS2 logaddress_add_http)";
    ServersLogsFile => "Ordner auf diesem Rechner", "Folder on this machine";
    ServersLogsSftp => "SFTP", "SFTP";
    ServersRconAnswered => "{command} beantwortet: Karte {map}, {humans} Spieler, {bots} Bots, {max} Plätze.", "{command} answered: map {map}, {humans} players, {bots} bots, {max} slots.";
    ServersRconRefused => "Verbindung abgelehnt: Auf {address} lauscht kein RCON.", "Connection refused: nothing listens for RCON on {address}.";
    ServersRconUnreachable => "{address} ist nicht erreichbar (Name unbekannt oder keine Route).", "{address} cannot be reached (unknown name or no route).";
    ServersRconTimeout => "Zeitüberschreitung: {address} hat nicht rechtzeitig geantwortet.", "Timeout: {address} did not answer in time.";
    ServersRconWrongPassword => "Falsches Passwort: {address} hat das RCON-Passwort abgelehnt.", "Wrong password: {address} refused the RCON password.";
    ServersRconNotRcon => "Auf {address} antwortet etwas, aber kein RCON-Server.", "Something answers on {address}, but it is not an RCON server.";
    ServersRconClosed => "{address} hat die Verbindung geschlossen.", "{address} closed the connection.";
    ServersRconUnreadable => "{address} hat geantwortet, aber die Antwort ist nicht lesbar.", "{address} answered, but the answer could not be read.";
    ServersRconNotConfigured => "Kein RCON-Passwort gesetzt: RCON wird nicht benutzt.", "No RCON password set: RCON is not used.";
    ServersRconOther => "RCON zu {address} ist fehlgeschlagen.", "RCON to {address} failed.";
    ServersLogsHttpNote => "HTTP-Logs kommen an, sobald der Server sie schickt; von hier gibt es nichts zu testen.", "HTTP logs arrive when the server sends them; there is nothing to test from here.";
    ServersLogsListed => "{count} Log-Dateien in {folder}; die neuesten:", "{count} log files in {folder}; the newest:";
    ServersUnknownHostKey => "Der SFTP-Server zeigt einen Hostschlüssel, der noch nicht bestätigt ist:", "The SFTP server presents a host key that is not confirmed yet:";
    ServersUnknownHostKeyHint => "Vergleiche ihn mit `ssh-keygen -lf` auf dem Server, bevor du ihm vertraust.", "Compare it with `ssh-keygen -lf` on the server before you trust it.";
    ServersTrustKey => "Diesem Schlüssel vertrauen", "Trust this key";
    ServersLogsKeyChanged => "Der SFTP-Server zeigt den Schlüssel {presented}, bestätigt ist {pinned}: Verbindung verweigert.", "The SFTP server presents the key {presented}, but {pinned} is confirmed: refused to connect.";
    ServersLogsRefused => "Verbindung zum SFTP-Server abgelehnt.", "The SFTP server refused the connection.";
    ServersLogsUnreachable => "Der SFTP-Server ist nicht erreichbar.", "The SFTP server cannot be reached.";
    ServersLogsTimeout => "Der SFTP-Server hat nicht rechtzeitig geantwortet.", "The SFTP server did not answer in time.";
    ServersLogsLoginRefused => "Der SFTP-Server hat Benutzer oder Passwort abgelehnt.", "The SFTP server refused the user or password.";
    ServersLogsNoPassword => "Der SFTP-Server nimmt keine Passwort-Anmeldung an.", "The SFTP server does not take password logins.";
    ServersLogsNoFolder => "Den Log-Ordner gibt es nicht.", "The log folder does not exist.";
    ServersLogsNotAFolder => "Der Log-Pfad ist kein Ordner.", "The log path is not a folder.";
    ServersLogsDenied => "Kein Zugriff auf den Log-Ordner.", "No access to the log folder.";
    ServersLogsOther => "Die Logs konnten nicht gelesen werden.", "The logs could not be read.";
    ServersMetricsScraped => "{players} Spieler online, TPS {tps} ({bad} unlesbare Zeilen).", "{players} players online, TPS {tps} ({bad} unreadable lines).";
    ServersMetricsStatus => "Der Exporter antwortete mit HTTP {status}.", "The exporter answered with HTTP {status}.";
    ServersMetricsUnreachable => "Der Exporter ist nicht erreichbar.", "The exporter cannot be reached.";
    ServersMetricsTimeout => "Der Exporter hat nicht rechtzeitig geantwortet.", "The exporter did not answer in time.";
    ServersMetricsOther => "Der Exporter konnte nicht abgefragt werden.", "The exporter could not be scraped.";
    Cancel => "Abbrechen", "Cancel";
    ProblemSecondsOutOfRange => "Wähle zwischen {min} und {max} Sekunden.", "Choose between {min} and {max} seconds.";
    ProblemPortOutOfRange => "Ein Port liegt zwischen {min} und {max}.", "A port is between {min} and {max}.";
    ProblemSlotsOutOfRange => "Wähle zwischen {min} und {max} Plätzen.", "Choose between {min} and {max} slots.";
    ProblemRequired => "Bitte ausfüllen.", "Please fill this in.";
    ProblemNameTooLong => "Der Name ist länger als {max} Zeichen.", "The name is longer than {max} characters.";
    ProblemNotANumber => "Bitte eine ganze Zahl eingeben.", "Please enter a whole number.";
    ProblemGameUnknown => "Wähle cs2, csgo, tf2, source oder minecraft.", "Choose cs2, csgo, tf2, source or minecraft.";
    ProblemLogSourceUnknown => "Wähle keine, HTTP, Ordner oder SFTP.", "Choose none, HTTP, folder or SFTP.";
    ProblemMinecraftNoHttpLogs => "Minecraft kann Logs nicht per HTTP schicken: Wähle einen Ordner oder SFTP.", "Minecraft cannot send logs over HTTP: choose a folder or SFTP.";
    ProblemFolderMissing => "{path} ist kein Ordner auf diesem Rechner.", "{path} is not a folder on this machine.";
    ProblemUrlNotHttp => "Das ist keine http(s)-URL.", "This is not an http(s) URL.";
    ProblemServerNameTaken => "Es gibt schon einen Server namens {name}.", "There is a server named {name} already.";
    ProblemGameServerUnknown => "Diesen Spielserver gibt es nicht (mehr).", "This game server does not exist (any more).";
    ProblemFingerprintInvalid => "Das ist kein Schlüssel-Fingerabdruck (SHA256:…).", "This is not a key fingerprint (SHA256:…).";
    ProblemHostKeyNotConfirmed => "Teste zuerst die Verbindung und bestätige den Hostschlüssel des SFTP-Servers.", "Test the connection first and confirm the SFTP server's host key.";
    ProblemConfirmationMismatch => "Tippe genau „{expected}“ ein.", "Type exactly “{expected}”.";
    // Sealed secrets in the form: the SFTP login key, and the secret key they need.
    ServersFieldSftpKey => "SFTP-Schlüssel (privat, OpenSSH)", "SFTP key (private, OpenSSH)";
    ServersFieldSftpKeyPassphrase => "Passphrase des Schlüssels", "Key passphrase";
    ServersHintSftpKey => "Statt eines Passworts: den privaten Schlüssel hier einfügen (-----BEGIN OPENSSH PRIVATE KEY-----). Er wird verschlüsselt gespeichert und nie wieder angezeigt.",
        "Instead of a password: paste the private key here (-----BEGIN OPENSSH PRIVATE KEY-----). It is stored encrypted and never shown again.";
    ServersHintSftpKeyPassphrase => "Nur wenn der Schlüssel eine hat: öffnet ihn einmal, wird nicht gespeichert.", "Only if the key has one: opens it once, is not stored.";
    ServersLogsKeyRefused => "Der SFTP-Server hat Benutzer oder Schlüssel abgelehnt.", "The SFTP server refused the user or key.";
    ServersLogsNoKeyLogin => "Der SFTP-Server nimmt keine Anmeldung mit Schlüssel an.", "The SFTP server does not take key logins.";
    ProblemSftpKeyNotAKey => "Das ist kein privater Schlüssel im OpenSSH-Format (-----BEGIN OPENSSH PRIVATE KEY-----).", "This is not a private key in OpenSSH format (-----BEGIN OPENSSH PRIVATE KEY-----).";
    ProblemSftpKeyNeedsPassphrase => "Dieser Schlüssel ist mit einer Passphrase geschützt: Gib sie auch an.", "This private key is protected by a passphrase: give the passphrase too.";
    ProblemSftpKeyWrongPassphrase => "Die Passphrase öffnet diesen Schlüssel nicht.", "The passphrase does not open this private key.";
    ProblemSftpKeyRsa => "RSA-Schlüssel werden nicht angenommen: Erzeuge einen Ed25519-Schlüssel (ssh-keygen -t ed25519) und trage seinen öffentlichen Schlüssel auf dem Server ein.", "RSA keys are not accepted: make an Ed25519 key (ssh-keygen -t ed25519) and add its public key to the server.";
    ProblemSecretKeyMissing => "Passwörter und Schlüssel werden verschlüsselt gespeichert, und GUILDHALL_SECRET_KEY ist nicht gesetzt: Erzeuge einen Schlüssel mit `guildhall secrets new-key`, setze ihn als GUILDHALL_SECRET_KEY überall, wo Guildhall läuft (und bewahre eine Kopie auf: ohne ihn sind die gespeicherten Passwörter nicht lesbar), dann versuche es noch einmal.",
        "Passwords and keys are stored encrypted, and GUILDHALL_SECRET_KEY is not set: create a key with `guildhall secrets new-key`, set it as GUILDHALL_SECRET_KEY wherever Guildhall runs (and keep a copy: without it the stored passwords cannot be read), then try again.";
}

#[cfg(test)]
mod tests;
