//! `/admin/status`: is everything collecting and computing? The bot, every collector and
//! game server source (last success, last error, rows in the last hour), the spool, refused
//! records, the pipeline's jobs (watermark, backlog, last run, retries) and recent runs, and
//! backfills started here with live progress. Times are in the community's time zone.

use crate::api::{CancelBackfill, StartBackfill, get_admin_status, get_backfill};
use crate::components::{ErrorNotice, Loading, ZoneNote, error_key, error_problem, problem_detail};
use crate::error::{AppError, Field};
use crate::i18n::{Key, Lang, t, use_i18n};
use crate::model::{
    AdminStatus, BACKLOG_CAP, BackfillState, BackfillStatus, JobStatus, PipelineRun,
    RejectedRecords, SourceHealth, SpoolFile, WallTime,
};
use leptos::prelude::*;

/// How often the page asks for a running backfill's progress.
const POLL_MS: u64 = 1500;

/// A wall-clock time of the community's zone, as the language writes it.
fn local(lang: Lang, at: WallTime) -> String {
    match lang {
        Lang::De => at.format("%d.%m.%Y %H:%M:%S").to_string(),
        Lang::En => at.format("%Y-%m-%d %H:%M:%S").to_string(),
    }
}

fn local_or_dash(lang: Lang, at: Option<WallTime>) -> String {
    at.map(|at| local(lang, at)).unwrap_or_else(|| "–".into())
}

/// A number of bytes, in the largest unit that keeps it above 1.
fn bytes_text(lang: Lang, bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{} B", lang.int(bytes as i64))
    } else {
        let text = format!("{value:.1}");
        let text = match lang {
            Lang::De => text.replace('.', ","),
            Lang::En => text,
        };
        format!("{text} {}", UNITS[unit])
    }
}

/// A duration in seconds as `1 h 5 min`, `3 min 20 s` or `12 s`.
fn duration_text(seconds: i64) -> String {
    let seconds = seconds.max(0);
    match (seconds / 3600, (seconds % 3600) / 60, seconds % 60) {
        (0, 0, s) => format!("{s} s"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

/// The console's status section (`/admin` and `/admin/status`, inside `Console`).
#[component]
pub fn StatusSection() -> impl IntoView {
    let status = Resource::new(|| (), |_| get_admin_status());
    provide_context(StatusRefresh(status));
    view! {
        <div class="admin-status" data-testid="admin-status">
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    match status.await {
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                        Ok(status) => view! { <StatusSections status /> }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}

/// The page's data, fetched again when a backfill ends (its runs, the jobs' last runs).
#[derive(Clone, Copy)]
struct StatusRefresh(Resource<Result<AdminStatus, AppError>>);

#[component]
fn StatusSections(status: AdminStatus) -> impl IntoView {
    let AdminStatus {
        timezone,
        bot_enabled,
        sources,
        spool_dir,
        spool,
        rejected,
        jobs,
        recent_runs,
        backfill,
        today,
    } = status;
    let job_names: Vec<String> = jobs.iter().map(|job| job.job.clone()).collect();
    let bot = if bot_enabled {
        view! {
            <p class="status status-ok" data-testid="bot-status" data-bot="on">
                {t(Key::BotOn)}
            </p>
        }
    } else {
        view! {
            <p class="status status-off" data-testid="bot-status" data-bot="off">
                {t(Key::BotOff)}
            </p>
        }
    };
    view! {
        <ZoneNote zone=timezone />
        <div class="card">
            <h2>{t(Key::BotTitle)}</h2>
            {bot}
        </div>
        <div class="card">
            <h2>{t(Key::CollectorsTitle)}</h2>
            <Sources sources />
            <Spool dir=spool_dir files=spool />
        </div>
        <div class="card">
            <h2>{t(Key::RejectedTitle)}</h2>
            <Rejected rejected />
        </div>
        <div class="card">
            <h2>{t(Key::JobsTitle)}</h2>
            <Jobs jobs />
        </div>
        <div class="card" id="backfill">
            <h2>{t(Key::BackfillTitle)}</h2>
            <Backfill initial=backfill job_names today />
        </div>
        <div class="card">
            <h2>{t(Key::RunsTitle)}</h2>
            <Runs runs=recent_runs />
        </div>
    }
}

/// Every collector and game server source: state, last success and error, rows in the last
/// hour.
#[component]
fn Sources(sources: Vec<SourceHealth>) -> impl IntoView {
    let lang = use_i18n().lang;
    if sources.is_empty() {
        return view! { <p class="muted">{t(Key::NoCollectors)}</p> }.into_any();
    }
    let rows = sources
        .into_iter()
        .map(|source| {
            let state = source.state.map(|state| {
                view! {
                    <span class="state" data-state=state.as_str()>
                        {state.as_str()}
                    </span>
                }
            });
            let error_at = source.last_error_at;
            let success_at = source.last_success_at;
            let events = source.events_last_hour;
            let (collector_key, source_key) = (source.collector.clone(), source.source.clone());
            view! {
                <tr data-collector=collector_key data-source=source_key>
                    <th scope="row">
                        {source.collector} " " <span class="muted mono">{source.source}</span>
                    </th>
                    <td data-label=t(Key::ColState)>{state}</td>
                    <td data-label=t(Key::ColLastSuccess)>
                        {move || local_or_dash(lang.get(), success_at)}
                    </td>
                    <td class="num" data-label=t(Key::ColEventsHour) data-testid="events-hour">
                        {move || lang.get().int(events)}
                    </td>
                    <td class="num" data-label=t(Key::ColRestarts)>
                        {source.restarts.map(|n| n.to_string()).unwrap_or_else(|| "–".into())}
                    </td>
                    <td class="error-text" data-label=t(Key::ColLastError)>
                        {source.last_error.unwrap_or_default()}
                        {move || {
                            error_at
                                .map(|at| format!(" ({})", local(lang.get(), at)))
                                .unwrap_or_default()
                        }}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="data stack-on-mobile" data-testid="sources-table">
                <thead>
                    <tr>
                        <th scope="col">{t(Key::ColCollector)}</th>
                        <th scope="col">{t(Key::ColState)}</th>
                        <th scope="col">{t(Key::ColLastSuccess)}</th>
                        <th scope="col" class="num">{t(Key::ColEventsHour)}</th>
                        <th scope="col" class="num">{t(Key::ColRestarts)}</th>
                        <th scope="col">{t(Key::ColLastError)}</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// Records waiting in the spool while the database is (or was) unreachable.
#[component]
fn Spool(dir: String, files: Vec<SpoolFile>) -> impl IntoView {
    let lang = use_i18n().lang;
    if files.is_empty() {
        return view! {
            <p class="muted small" data-testid="backlog">
                {t(Key::NoBacklog)}
                " "
                <span class="mono">{dir}</span>
            </p>
        }
        .into_any();
    }
    let total_records: u64 = files.iter().map(|file| file.records).sum();
    let total_bytes: u64 = files.iter().map(|file| file.bytes).sum();
    let count = files.len() as i64;
    let items = files
        .into_iter()
        .map(|file| {
            let key = file.source.clone();
            view! {
                <li data-source=key data-records=file.records.to_string()>
                    <span class="mono">{file.source}</span>
                    ": "
                    {move || {
                        format!(
                            "{} {} ({})",
                            lang.get().int(file.records as i64),
                            Key::ColRecords.text(lang.get()),
                            bytes_text(lang.get(), file.bytes),
                        )
                    }}
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="notice notice-error" data-testid="backlog">
            <strong>{t(Key::BacklogTitle)}</strong>
            <p class="small">
                <span class="mono">{dir}</span>
                ": "
                {move || {
                    let lang = lang.get();
                    Key::SpoolTotals
                        .fill(
                            lang,
                            &[
                                ("files", &lang.int(count)),
                                ("records", &lang.int(total_records as i64)),
                                ("bytes", &bytes_text(lang, total_bytes)),
                            ],
                        )
                }}
            </p>
            <ul class="plain-list">{items}</ul>
        </div>
    }
    .into_any()
}

/// Records the database refused, per source: kept, never lost, shown here.
#[component]
fn Rejected(rejected: Vec<RejectedRecords>) -> impl IntoView {
    let lang = use_i18n().lang;
    if rejected.is_empty() {
        return view! {
            <p class="muted" data-testid="rejected-none">
                {t(Key::NoRejected)}
            </p>
        }
        .into_any();
    }
    let rows = rejected
        .into_iter()
        .map(|source| {
            let at = source.last_at;
            let count = source.count;
            let name = source.source;
            let key = name.clone();
            view! {
                <tr data-source=key>
                    <th scope="row">{name}</th>
                    <td class="num" data-label=t(Key::ColRecords)>
                        {move || lang.get().int(count)}
                    </td>
                    <td data-label=t(Key::ColLast)>{move || local(lang.get(), at)}</td>
                    <td class="error-text" data-label=t(Key::ColLastError)>
                        {source.last_error}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="muted small">{t(Key::RejectedLead)}</p>
        <div class="table-wrap">
            <table class="data stack-on-mobile" data-testid="rejected-table">
                <thead>
                    <tr>
                        <th scope="col">{t(Key::ColSource)}</th>
                        <th scope="col" class="num">{t(Key::ColRecords)}</th>
                        <th scope="col">{t(Key::ColLast)}</th>
                        <th scope="col">{t(Key::ColLastError)}</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// A run's span, rows and duration in one line.
fn run_summary(lang: Lang, run: &PipelineRun) -> String {
    let span = match (run.range_from, run.range_to) {
        (Some(from), Some(to)) => format!("{} – {}", local(lang, from), local(lang, to)),
        _ => "–".to_owned(),
    };
    let rows = run
        .rows_affected
        .map(|n| lang.int(n))
        .unwrap_or_else(|| "–".into());
    let ms = run
        .duration_ms
        .map(|ms| format!("{} ms", lang.int(ms)))
        .unwrap_or_else(|| "–".into());
    format!(
        "{} · {span} · {rows} {} · {ms}",
        local(lang, run.started_at),
        Key::ColRows.text(lang)
    )
}

/// The pipeline's jobs: watermark and backlog, last success, last run and retries.
#[component]
fn Jobs(jobs: Vec<JobStatus>) -> impl IntoView {
    let lang = use_i18n().lang;
    let rows = jobs
        .into_iter()
        .map(|job| {
            let backlog = job.backlog;
            let watermark = job.watermark;
            let last_success = job.last_success_at;
            let last_run = job.last_run.clone();
            let run_failed = job.last_run.as_ref().is_some_and(|run| run.error.is_some());
            let retry = (job.attempts > 0).then(|| {
                let attempts = job.attempts;
                let next = job.next_attempt_at;
                let error = job.last_error.clone().unwrap_or_default();
                let error_at = job.last_error_at;
                view! {
                    <div class="error-text" data-testid="job-retry" data-attempts=attempts>
                        {move || {
                            let lang = lang.get();
                            Key::RetryLine
                                .fill(
                                    lang,
                                    &[
                                        ("attempts", &attempts.to_string()),
                                        ("next", &local_or_dash(lang, next)),
                                    ],
                                )
                        }}
                        <br />
                        <span class="small">
                            {move || local_or_dash(lang.get(), error_at)} ": " {error}
                        </span>
                    </div>
                }
            });
            let key = job.job.clone();
            view! {
                <tr data-job=key class:failed=run_failed>
                    <th scope="row" class="mono">{job.job}</th>
                    <td class="num" data-label=t(Key::ColWatermark)>
                        {move || watermark.map(|w| lang.get().int(w)).unwrap_or_else(|| "–".into())}
                    </td>
                    <td class="num" data-label=t(Key::ColBacklog) data-testid="job-backlog">
                        {move || match backlog {
                            Some(n) if n >= BACKLOG_CAP => format!("≥ {}", lang.get().int(n)),
                            Some(n) => lang.get().int(n),
                            None => "–".into(),
                        }}
                    </td>
                    <td data-label=t(Key::ColLastSuccess)>
                        {move || local_or_dash(lang.get(), last_success)}
                    </td>
                    <td class="small" data-label=t(Key::ColLastRun)>
                        {move || {
                            last_run
                                .as_ref()
                                .map(|run| run_summary(lang.get(), run))
                                .unwrap_or_else(|| "–".into())
                        }}
                    </td>
                    <td data-label=t(Key::ColRetries)>
                        {retry.map(|retry| retry.into_any()).unwrap_or_else(|| "–".into_any())}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="muted small">{t(Key::JobsLead)}</p>
        <div class="table-wrap">
            <table class="data stack-on-mobile" data-testid="jobs-table">
                <thead>
                    <tr>
                        <th scope="col">{t(Key::ColJob)}</th>
                        <th scope="col" class="num">{t(Key::ColWatermark)}</th>
                        <th scope="col" class="num">{t(Key::ColBacklog)}</th>
                        <th scope="col">{t(Key::ColLastSuccess)}</th>
                        <th scope="col">{t(Key::ColLastRun)}</th>
                        <th scope="col">{t(Key::ColRetries)}</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

/// The problem of `error` if it concerns `field`.
fn field_error(error: &Option<AppError>, field: Field) -> Option<AnyView> {
    match error {
        Some(AppError::Invalid {
            field: Some(f),
            problem,
        }) if *f == field => {
            let detail = problem_detail(problem.clone());
            Some(view! { <span class="form-error" role="alert">{detail}</span> }.into_any())
        }
        _ => None,
    }
}

/// The backfill form and the latest backfill's progress, polled while it waits or runs.
#[component]
fn Backfill(
    initial: Option<BackfillStatus>,
    job_names: Vec<String>,
    today: chrono::NaiveDate,
) -> impl IntoView {
    let start = ServerAction::<StartBackfill>::new();
    let cancel = ServerAction::<CancelBackfill>::new();
    let tick = RwSignal::new(0_u32);
    // Fetched anew after each start, cancel and poll tick; the page's first answer stands
    // until then (no second request on load).
    let fetched = Resource::new(
        move || (tick.get(), start.version().get(), cancel.version().get()),
        |(tick, started, cancelled)| async move {
            if tick + started as u32 + cancelled as u32 == 0 {
                None
            } else {
                Some(get_backfill().await)
            }
        },
    );
    let latest = RwSignal::new(initial);
    let refresh = use_context::<StatusRefresh>();
    Effect::new(move |_| {
        if let Some(Some(Ok(backfill))) = fetched.get() {
            let was_active = latest
                .get_untracked()
                .is_some_and(|backfill| backfill.state.is_active());
            let ended = !backfill
                .as_ref()
                .is_some_and(|backfill| backfill.state.is_active());
            latest.set(backfill);
            // Its runs are in the tables above now.
            if was_active
                && ended
                && let Some(StatusRefresh(status)) = refresh
            {
                status.refetch();
            }
        }
    });
    let active = move || {
        latest
            .get()
            .is_some_and(|backfill| backfill.state.is_active())
    };
    // Poll while one waits or runs (in the browser only).
    Effect::new(move |_| {
        let handle = set_interval_with_handle(
            move || {
                let running = latest
                    .get_untracked()
                    .is_some_and(|backfill| backfill.state.is_active());
                if running {
                    tick.update(|n| *n += 1);
                }
            },
            std::time::Duration::from_millis(POLL_MS),
        )
        .ok();
        on_cleanup(move || {
            if let Some(handle) = handle {
                handle.clear();
            }
        });
    });

    let from = RwSignal::new((today - chrono::Duration::days(6)).to_string());
    let to = RwSignal::new(today.to_string());
    let chosen = RwSignal::new(job_names.clone());
    let error = move || start.value().get().and_then(Result::err);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (Ok(from_day), Ok(to_day)) = (
            from.get_untracked().parse::<chrono::NaiveDate>(),
            to.get_untracked().parse::<chrono::NaiveDate>(),
        ) else {
            return;
        };
        start.dispatch(StartBackfill {
            from: from_day,
            to: to_day,
            jobs: chosen.get_untracked(),
        });
    };
    let checkboxes = job_names
        .into_iter()
        .map(|name| {
            let value = name.clone();
            let toggled = name.clone();
            let checked = name.clone();
            view! {
                <label class="check mono">
                    <input
                        type="checkbox"
                        name="jobs"
                        value=value
                        prop:checked=move || chosen.with(|jobs| jobs.contains(&checked))
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            chosen
                                .update(|jobs| {
                                    jobs.retain(|job| job != &toggled);
                                    if on {
                                        jobs.push(toggled.clone());
                                    }
                                });
                        }
                    />
                    {name}
                </label>
            }
        })
        .collect_view();
    let refusal = move || match error() {
        Some(error @ (AppError::Refused(_) | AppError::Internal | AppError::ServerFn(_))) => {
            let key = error_key(&error);
            let detail = error_problem(&error).map(problem_detail);
            Some(view! { <p class="form-error" role="alert">{t(key)} " " {detail}</p> })
        }
        _ => None,
    };
    view! {
        <p class="muted small">{t(Key::BackfillLead)}</p>
        <form class="backfill-form" on:submit=on_submit data-testid="backfill-form">
            <div class="field-row">
                <label>
                    {t(Key::BackfillFrom)}
                    <input
                        type="date"
                        name="from"
                        required
                        max=today.to_string()
                        prop:value=move || from.get()
                        on:input=move |ev| from.set(event_target_value(&ev))
                    />
                    {move || field_error(&error(), Field::From)}
                </label>
                <label>
                    {t(Key::BackfillTo)}
                    <input
                        type="date"
                        name="to"
                        required
                        max=today.to_string()
                        prop:value=move || to.get()
                        on:input=move |ev| to.set(event_target_value(&ev))
                    />
                    {move || field_error(&error(), Field::To)}
                </label>
            </div>
            <fieldset class="job-choice">
                <legend>{t(Key::BackfillJobs)}</legend>
                {checkboxes}
                {move || field_error(&error(), Field::Jobs)}
            </fieldset>
            <button
                type="submit"
                data-testid="backfill-start"
                disabled=move || start.pending().get() || active()
            >
                {t(Key::BackfillStart)}
            </button>
            {refusal}
        </form>
        {move || {
            latest
                .get()
                .map(|backfill| view! { <BackfillProgress backfill cancel /> })
        }}
    }
}

/// One backfill: its state, days done of the total, rows, time left, and a cancel button
/// while it waits or runs.
#[component]
fn BackfillProgress(
    backfill: BackfillStatus,
    cancel: ServerAction<CancelBackfill>,
) -> impl IntoView {
    let lang = use_i18n().lang;
    let state_key = match backfill.state {
        BackfillState::Queued => Key::BackfillQueued,
        BackfillState::Running => Key::BackfillRunning,
        BackfillState::Finished => Key::BackfillFinished,
        BackfillState::Failed => Key::BackfillFailed,
        BackfillState::Cancelled => Key::BackfillCancelled,
        BackfillState::Interrupted => Key::BackfillInterrupted,
    };
    let id = backfill.id;
    let (done, total, rows) = (
        backfill.days_done,
        backfill.days_total,
        backfill.rows_written,
    );
    let (from_day, to_day) = (backfill.from_day, backfill.to_day);
    let left = backfill.seconds_left;
    let started = backfill.started_at;
    let finished = backfill.finished_at;
    let cancel_button = (backfill.state.is_active() && !backfill.cancel_requested).then(|| {
        view! {
            <button
                type="button"
                class="button-secondary"
                data-testid="backfill-cancel"
                disabled=move || cancel.pending().get()
                on:click=move |_| {
                    cancel.dispatch(CancelBackfill { id });
                }
            >
                {t(Key::BackfillCancel)}
            </button>
        }
    });
    let cancelling = (backfill.state.is_active() && backfill.cancel_requested)
        .then(|| view! { <p class="muted small">{t(Key::BackfillCancelling)}</p> });
    view! {
        <div
            class="backfill-progress"
            data-testid="backfill-progress"
            data-state=backfill.state.as_str()
            data-days-done=done
            data-days-total=total
            aria-live="polite"
        >
            <p>
                <strong>{t(state_key)}</strong>
                " "
                {move || {
                    let lang = lang.get();
                    format!("{} – {}", lang.date(from_day), lang.date(to_day))
                }}
                <span class="muted small">" " {backfill.jobs.join(", ")}</span>
            </p>
            <progress max=total value=done></progress>
            <p data-testid="backfill-numbers">
                {move || {
                    let lang = lang.get();
                    Key::BackfillNumbers
                        .fill(
                            lang,
                            &[
                                ("done", &lang.int(i64::from(done))),
                                ("total", &lang.int(i64::from(total))),
                                ("rows", &lang.int(rows)),
                            ],
                        )
                }}
                {move || {
                    left.map(|seconds| {
                        format!(
                            " · {}",
                            Key::BackfillLeft.fill(lang.get(), &[("time", &duration_text(seconds))]),
                        )
                    })
                }}
            </p>
            <p class="muted small">
                {move || {
                    let lang = lang.get();
                    format!(
                        "{} {} · {} {}",
                        Key::ColStarted.text(lang),
                        local_or_dash(lang, started),
                        Key::BackfillEnded.text(lang),
                        local_or_dash(lang, finished),
                    )
                }}
            </p>
            {backfill
                .error
                .map(|error| view! { <p class="error-text" data-testid="backfill-error">{error}</p> })}
            {cancelling}
            {cancel_button}
        </div>
    }
}

/// The latest runs of every job, newest first.
#[component]
fn Runs(runs: Vec<PipelineRun>) -> impl IntoView {
    let lang = use_i18n().lang;
    if runs.is_empty() {
        return view! { <p class="muted">{t(Key::NoRuns)}</p> }.into_any();
    }
    let rows = runs
        .into_iter()
        .map(|run| {
            let started = run.started_at;
            let failed = run.error.is_some();
            let result = match run.error {
                Some(error) => view! { <span class="error-text">{error}</span> }.into_any(),
                None => view! { <span class="status-ok">{t(Key::RunOk)}</span> }.into_any(),
            };
            let job = run.job.clone();
            view! {
                <tr data-job=job class:failed=failed>
                    <th scope="row" class="mono">{run.job}</th>
                    <td data-label=t(Key::ColTrigger)>{run.trigger}</td>
                    <td data-label=t(Key::ColStarted)>{move || local(lang.get(), started)}</td>
                    <td data-label=t(Key::ColSpan)>
                        {move || match (run.range_from, run.range_to) {
                            (Some(from), Some(to)) => {
                                let lang = lang.get();
                                format!("{} – {}", local(lang, from), local(lang, to))
                            }
                            _ => "–".to_owned(),
                        }}
                    </td>
                    <td class="num" data-label=t(Key::ColDuration)>
                        {run.duration_ms.map(|ms| format!("{ms} ms")).unwrap_or_else(|| "–".into())}
                    </td>
                    <td class="num" data-label=t(Key::ColRows)>
                        {move || run.rows_affected.map(|n| lang.get().int(n)).unwrap_or_else(|| "–".into())}
                    </td>
                    <td data-label=t(Key::ColResult)>{result}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="data stack-on-mobile" data-testid="runs-table">
                <thead>
                    <tr>
                        <th scope="col">{t(Key::ColJob)}</th>
                        <th scope="col">{t(Key::ColTrigger)}</th>
                        <th scope="col">{t(Key::ColStarted)}</th>
                        <th scope="col">{t(Key::ColSpan)}</th>
                        <th scope="col" class="num">{t(Key::ColDuration)}</th>
                        <th scope="col" class="num">{t(Key::ColRows)}</th>
                        <th scope="col">{t(Key::ColResult)}</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
