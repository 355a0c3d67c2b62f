//! `/members`: joins, leaves and net growth per week, and how long the members who left had
//! stayed, for leaders and admins.

use crate::api::{get_funnel, get_member_growth};
use crate::components::{ErrorNotice, Figure, Loading};
use crate::i18n::{Key, t, use_i18n};
use crate::model::{MemberGrowth, MemberSource};
use leptos::prelude::*;
use leptos_meta::Title;

/// Weeks shown.
const WEEKS: i32 = 26;

/// The label of a tenure bucket (see `get_member_growth`).
fn tenure_key(bucket: i32) -> Key {
    match bucket {
        0 => Key::TenureDay,
        1 => Key::TenureWeek,
        2 => Key::TenureMonth,
        3 => Key::TenureQuarter,
        4 => Key::TenureYear,
        _ => Key::TenureLonger,
    }
}

#[component]
pub fn MembersPage() -> impl IntoView {
    let growth = Resource::new_blocking(|| (), |_| get_member_growth(WEEKS));
    view! {
        <Title text=t(Key::MembersTitle) />
        <section class="page">
            <h1>{t(Key::MembersTitle)}</h1>
            <p class="lead">{t(Key::MembersLead)}</p>
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    match growth.await {
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                        Ok(growth) => view! { <Growth growth /> }.into_any(),
                    }
                })}
            </Suspense>
            <Funnel />
        </section>
    }
}

#[component]
fn Growth(growth: MemberGrowth) -> impl IntoView {
    let lang = use_i18n().lang;
    let joins: i64 = growth.weeks.iter().map(|w| w.joins).sum();
    let leaves: i64 = growth.weeks.iter().map(|w| w.leaves).sum();
    let now = growth.weeks.last().map_or(0, |w| w.members);
    let max = growth
        .weeks
        .iter()
        .map(|w| w.joins.max(w.leaves))
        .max()
        .unwrap_or(0)
        .max(1);
    let weeks = growth
        .weeks
        .iter()
        .rev()
        .map(|w| {
            let (week, joins, leaves, members) = (w.week, w.joins, w.leaves, w.members);
            let net = joins - leaves;
            let bar = |n: i64| format!("width: {:.1}%", 100.0 * n as f64 / max as f64);
            view! {
                <tr data-week=week.to_string()>
                    <th scope="row">{move || lang.get().date(week)}</th>
                    <td class="num" data-joins=joins>
                        <span class="bar join" style=bar(joins)></span>
                        {move || lang.get().int(joins)}
                    </td>
                    <td class="num" data-leaves=leaves>
                        <span class="bar leave" style=bar(leaves)></span>
                        {move || lang.get().int(leaves)}
                    </td>
                    <td class="num" data-net=net>
                        {move || format!("{}{}", if net > 0 { "+" } else { "" }, lang.get().int(net))}
                    </td>
                    <td class="num" data-members=members>{move || lang.get().int(members)}</td>
                </tr>
            }
            .into_any()
        })
        .collect_view();
    let tenure = growth
        .tenure
        .iter()
        .map(|b| {
            let (bucket, leavers, active) = (b.bucket, b.leavers, b.active_before);
            view! {
                <tr data-bucket=bucket>
                    <th scope="row">{t(tenure_key(bucket))}</th>
                    <td class="num" data-leavers=leavers>{move || lang.get().int(leavers)}</td>
                    <td class="num" data-active-before=active>{move || lang.get().int(active)}</td>
                </tr>
            }
            .into_any()
        })
        .collect_view();
    let figures = view! {
        <div class="figures">
            <Figure
                label=Key::MembersNow
                testid="members-now"
                value=Signal::derive(move || lang.get().int(now))
            />
            <Figure
                label=Key::JoinsInRange
                testid="joins"
                value=Signal::derive(move || lang.get().int(joins))
            />
            <Figure
                label=Key::LeavesInRange
                testid="leaves"
                value=Signal::derive(move || lang.get().int(leaves))
            />
        </div>
    }
    .into_any();
    let weekly = view! {
        <div class="card table-wrap">
            <table class="data growth" data-testid="growth-table">
                <caption>{t(Key::GrowthCaption)}</caption>
                <thead>
                    <tr>
                        <th scope="col">{t(Key::ColWeek)}</th>
                        <th scope="col" class="num">{t(Key::ColJoins)}</th>
                        <th scope="col" class="num">{t(Key::ColLeaves)}</th>
                        <th scope="col" class="num">{t(Key::ColNet)}</th>
                        <th scope="col" class="num">{t(Key::ColMembers)}</th>
                    </tr>
                </thead>
                <tbody>{weeks}</tbody>
            </table>
        </div>
    }
    .into_any();
    let leavers = view! {
        <div class="card table-wrap">
            <table class="data" data-testid="tenure-table">
                <caption>{t(Key::TenureCaption)}</caption>
                <thead>
                    <tr>
                        <th scope="col">{t(Key::ColStayed)}</th>
                        <th scope="col" class="num">{t(Key::ColLeavers)}</th>
                        <th scope="col" class="num">{t(Key::ColActiveBefore)}</th>
                    </tr>
                </thead>
                <tbody>{tenure}</tbody>
            </table>
        </div>
    }
    .into_any();
    let comparable = growth.comparable.clone();
    let percent = move |value: Option<f64>| {
        value.map_or_else(
            || "–".to_owned(),
            |v| format!("{} %", lang.get().decimal(v)),
        )
    };
    let discord = view! {
        <div class="card">
            <h2>{t(Key::ComparableTitle)}</h2>
            <div class="figures">
                <Figure
                    label=Key::CommunicatorsWeek
                    testid="communicators-week"
                    value=Signal::derive(move || lang.get().int(comparable.communicators_week))
                />
                <Figure
                    label=Key::ActivationRate
                    testid="activation-rate"
                    value=Signal::derive(move || percent(comparable.activation_rate))
                    note=Signal::derive(move || {
                        format!("{} {}", lang.get().int(comparable.new_members), Key::NewMembersNote.text(lang.get()))
                    })
                />
                <Figure
                    label=Key::Week1Retention
                    testid="week1-retention"
                    value=Signal::derive(move || percent(comparable.week1_retention))
                    note=Signal::derive(move || {
                        format!("{} {}", lang.get().int(comparable.retention_base), Key::NewMembersNote.text(lang.get()))
                    })
                />
            </div>
            <p class="muted small">{t(Key::ComparableHint)}</p>
            <p class="actions">
                <a class="button" href="/export/discord_comparable_daily.csv" download="discord_comparable_daily.csv">
                    {t(Key::DownloadCsvAllDays)}
                </a>
            </p>
        </div>
    }
    .into_any();
    let downloads = view! {
        <p class="actions">
            <a class="button" href="/export/member_growth_weekly.csv" download="member_growth_weekly.csv">
                {t(Key::DownloadWeeksCsv)}
            </a>
            " "
            <a class="button" href="/export/leavers.csv" download="leavers.csv">
                {t(Key::DownloadLeaversCsv)}
            </a>
        </p>
    }
    .into_any();
    let sources =
        view! { <Sources sources=growth.sources.clone() readable=growth.invites_readable /> }
            .into_any();
    view! { {figures} {discord} {sources} {downloads} {weekly} {leavers} }
}

/// Where members came from: one row per invite (and unknown), with how many stayed.
#[component]
fn Sources(sources: Vec<MemberSource>, readable: Option<bool>) -> impl IntoView {
    let lang = use_i18n().lang;
    let rows = sources
        .into_iter()
        .map(|source| {
            let MemberSource {
                source,
                code,
                label,
                inviter,
                joined,
                young_accounts,
                still_members,
                active_after_1d,
                active_after_7d,
                active_after_30d,
                month1_retention,
            } = source;
            let name = if source == "invite" {
                let shown = match &label {
                    Some(label) => format!("{label} ({code})"),
                    None => code.clone(),
                };
                view! { <span>{shown}</span> }.into_any()
            } else {
                view! { <span>{t(Key::SourceUnknown)}</span> }.into_any()
            };
            let int = move |n: i64| move || lang.get().int(n);
            let month1 = move || {
                month1_retention.map_or_else(
                    || "–".to_owned(),
                    |v| format!("{} %", lang.get().decimal(v)),
                )
            };
            view! {
                <tr data-source=source data-code=code>
                    <th scope="row">{name}</th>
                    <td class="wide" data-label=t(Key::ColInviter)>{inviter.unwrap_or_default()}</td>
                    <td class="num" data-label=t(Key::ColJoins) data-joined=joined>{int(joined)}</td>
                    <td class="num" data-label=t(Key::ColYoung) data-young=young_accounts>{int(young_accounts)}</td>
                    <td class="num" data-label=t(Key::ColStill) data-still=still_members>{int(still_members)}</td>
                    <td class="num" data-label=t(Key::ColAfter1) data-after1=active_after_1d>{int(active_after_1d)}</td>
                    <td class="num" data-label=t(Key::ColAfter7) data-after7=active_after_7d>{int(active_after_7d)}</td>
                    <td class="num" data-label=t(Key::ColAfter30) data-after30=active_after_30d>{int(active_after_30d)}</td>
                    <td class="num" data-label=t(Key::ColMonth1)>{month1}</td>
                </tr>
            }
            .into_any()
        })
        .collect_view();
    view! {
        <div class="card table-wrap">
            <h2>{t(Key::SourcesTitle)}</h2>
            {(readable == Some(false))
                .then(|| view! { <p class="notice" data-testid="invites-unreadable">{t(Key::SourcesNoPermission)}</p> })}
            <table class="data cards-on-mobile" data-testid="sources-table">
                <thead>
                    <tr>
                        <th scope="col">{t(Key::ColInvite)}</th>
                        <th scope="col">{t(Key::ColInviter)}</th>
                        <th scope="col" class="num">{t(Key::ColJoins)}</th>
                        <th scope="col" class="num">{t(Key::ColYoung)}</th>
                        <th scope="col" class="num">{t(Key::ColStill)}</th>
                        <th scope="col" class="num">{t(Key::ColAfter1)}</th>
                        <th scope="col" class="num">{t(Key::ColAfter7)}</th>
                        <th scope="col" class="num">{t(Key::ColAfter30)}</th>
                        <th scope="col" class="num">{t(Key::ColMonth1)}</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
            <p class="muted small">{t(Key::SourcesHint)}</p>
            <p class="actions">
                <a class="button" href="/export/member_sources.csv" download="member_sources.csv">
                    {t(Key::DownloadSourcesCsv)}
                </a>
            </p>
        </div>
    }
}

/// Joined → linked a game account → played → regular, per join month, newest first.
#[component]
fn Funnel() -> impl IntoView {
    let lang = use_i18n().lang;
    let funnel = Resource::new_blocking(|| (), |_| get_funnel());
    view! {
        <section class="card funnel" data-testid="funnel">
            <h2>{t(Key::FunnelTitle)}</h2>
            <p class="muted">{t(Key::FunnelLead)}</p>
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    match funnel.await {
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                        Ok(months) if months.is_empty() => {
                            view! { <p class="muted">{t(Key::FunnelEmpty)}</p> }.into_any()
                        }
                        Ok(months) => {
                            let share = move |n: i64, of: i64| {
                                if of == 0 {
                                    "–".to_owned()
                                } else {
                                    format!("{} %", lang.get().decimal(n as f64 * 100.0 / of as f64))
                                }
                            };
                            let rows = months
                                .into_iter()
                                .rev()
                                .map(|m| {
                                    let month = m.month;
                                    view! {
                                        <tr data-month=m.month.to_string() data-joined=m.joined data-linked=m.linked data-played=m.played data-regular=m.regular>
                                            <th scope="row">{move || lang.get().month(month)}</th>
                                            <td class="num" data-label=t(Key::FunnelJoined)>{move || lang.get().int(m.joined)}</td>
                                            <td class="num" data-label=t(Key::FunnelLinked)>{move || lang.get().int(m.linked)} <span class="muted small">" " {move || share(m.linked, m.joined)}</span></td>
                                            <td class="num" data-label=t(Key::FunnelPlayed)>{move || lang.get().int(m.played)} <span class="muted small">" " {move || share(m.played, m.joined)}</span></td>
                                            <td class="num" data-label=t(Key::FunnelRegular)>{move || lang.get().int(m.regular)} <span class="muted small">" " {move || share(m.regular, m.joined)}</span></td>
                                        </tr>
                                    }
                                })
                                .collect_view();
                            view! {
                                <div class="table-wrap">
                                    <table class="data cards-on-mobile" data-testid="funnel-table">
                                        <thead>
                                            <tr>
                                                <th scope="col">{t(Key::FunnelMonth)}</th>
                                                <th scope="col" class="num">{t(Key::FunnelJoined)}</th>
                                                <th scope="col" class="num">{t(Key::FunnelLinked)}</th>
                                                <th scope="col" class="num">{t(Key::FunnelPlayed)}</th>
                                                <th scope="col" class="num">{t(Key::FunnelRegular)}</th>
                                            </tr>
                                        </thead>
                                        <tbody>{rows}</tbody>
                                    </table>
                                </div>
                            }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}
