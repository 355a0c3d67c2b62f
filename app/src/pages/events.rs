//! `/events`: upcoming and past scheduled events, interested against attended, for leaders
//! and admins.

use crate::api::get_events;
use crate::components::{ErrorNotice, Loading};
use crate::i18n::{Key, t, use_i18n};
use crate::model::EventAttendance;
use leptos::prelude::*;
use leptos_meta::Title;

/// Past events shown.
const PAST: i32 = 50;

fn status_key(status: &str) -> Key {
    match status {
        "active" => Key::EventActive,
        "completed" => Key::EventCompleted,
        "canceled" => Key::EventCanceled,
        _ => Key::EventScheduled,
    }
}

fn kind_key(kind: &str) -> Key {
    match kind {
        "stage" => Key::EventStage,
        "voice" => Key::EventVoice,
        _ => Key::EventExternal,
    }
}

#[component]
pub fn EventsPage() -> impl IntoView {
    let events = Resource::new_blocking(|| (), |_| get_events(PAST));
    view! {
        <Title text=t(Key::EventsTitle) />
        <section class="page">
            <h1>{t(Key::EventsTitle)}</h1>
            <p class="lead">{t(Key::EventsLead)}</p>
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    match events.await {
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                        Ok(events) => {
                            let upcoming = view! {
                                <EventTable
                                    caption=Key::UpcomingEvents
                                    testid="upcoming-events"
                                    events=events.upcoming
                                />
                            }
                            .into_any();
                            let past = view! {
                                <EventTable caption=Key::PastEvents testid="past-events" events=events.past />
                            }
                            .into_any();
                            view! {
                                {upcoming}
                                {past}
                                <p class="actions">
                                    <a class="button" href="/export/event_attendance.csv" download="event_attendance.csv">
                                        {t(Key::DownloadCsv)}
                                    </a>
                                </p>
                            }
                            .into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn EventTable(caption: Key, testid: &'static str, events: Vec<EventAttendance>) -> impl IntoView {
    let lang = use_i18n().lang;
    if events.is_empty() {
        return view! {
            <div class="card" data-testid=testid>
                <h2>{t(caption)}</h2>
                <p class="muted">{t(Key::NoEvents)}</p>
            </div>
        }
        .into_any();
    }
    let rows = events
        .into_iter()
        .map(|event| {
            let EventAttendance {
                id,
                name,
                kind,
                status,
                starts_local,
                interested,
                attended,
                interested_attended,
                no_shows,
                walk_ins,
                attendance_rate,
            } = event;
            let rate = move || {
                attendance_rate.map_or_else(
                    || "–".to_owned(),
                    |rate| format!("{} %", lang.get().decimal(rate)),
                )
            };
            view! {
                <tr data-event=id>
                    <th scope="row">
                        {name}
                        <span class="muted small">" · " {t(kind_key(&kind))}</span>
                    </th>
                    <td data-label=t(Key::ColStarts)>{move || lang.get().local_datetime(starts_local)}</td>
                    <td data-label=t(Key::ColStatus)>{t(status_key(&status))}</td>
                    <td class="num" data-label=t(Key::ColInterested) data-interested=interested>
                        {move || lang.get().int(i64::from(interested))}
                    </td>
                    <td class="num" data-label=t(Key::ColAttended) data-attended=attended>
                        {move || lang.get().int(i64::from(attended))}
                    </td>
                    <td class="num" data-label=t(Key::ColBoth) data-both=interested_attended>
                        {move || lang.get().int(i64::from(interested_attended))}
                    </td>
                    <td class="num" data-label=t(Key::ColNoShows) data-no-shows=no_shows>
                        {move || lang.get().int(i64::from(no_shows))}
                    </td>
                    <td class="num" data-label=t(Key::ColWalkIns) data-walk-ins=walk_ins>
                        {move || lang.get().int(i64::from(walk_ins))}
                    </td>
                    <td class="num" data-label=t(Key::ColAttendanceRate) data-rate=attendance_rate.map(|r| format!("{r:.2}"))>
                        {rate}
                    </td>
                </tr>
            }
            .into_any()
        })
        .collect_view();
    view! {
        <div class="card table-wrap">
            <table class="data events cards-on-mobile" data-testid=testid>
                <caption>{t(caption)}</caption>
                <thead>
                    <tr>
                        <th scope="col">{t(Key::ColEvent)}</th>
                        <th scope="col">{t(Key::ColStarts)}</th>
                        <th scope="col">{t(Key::ColStatus)}</th>
                        <th scope="col" class="num">{t(Key::ColInterested)}</th>
                        <th scope="col" class="num">{t(Key::ColAttended)}</th>
                        <th scope="col" class="num">{t(Key::ColBoth)}</th>
                        <th scope="col" class="num">{t(Key::ColNoShows)}</th>
                        <th scope="col" class="num">{t(Key::ColWalkIns)}</th>
                        <th scope="col" class="num">{t(Key::ColAttendanceRate)}</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
