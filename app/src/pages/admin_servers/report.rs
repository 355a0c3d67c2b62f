//! What a connection test found: RCON's answer, the newest log files, the exporter's
//! figures, or exactly what failed.

use crate::i18n::{Key, Lang, t, use_i18n};
use crate::model::{
    ConnectionReport, LogsCheck, LogsProblem, MetricsCheck, MetricsProblem, RconCheck, RconProblem,
};
use leptos::prelude::*;

/// What a connection test found. `trust` confirms an unknown SFTP host key.
#[component]
pub(super) fn Report(report: ConnectionReport, trust: Option<Callback<String>>) -> impl IntoView {
    let lang = use_i18n().lang;
    let rcon = match report.rcon {
        RconCheck::Answered {
            command,
            map,
            humans,
            bots,
            max_players,
            players,
        } => {
            let summary = move || {
                let l = lang.get();
                Key::ServersRconAnswered.fill(
                    l,
                    &[
                        ("command", &command),
                        ("map", map.as_deref().unwrap_or("-")),
                        ("humans", &l.int(i64::from(humans))),
                        ("bots", &l.int(i64::from(bots))),
                        (
                            "max",
                            &max_players.map_or_else(|| "-".to_owned(), |m| l.int(i64::from(m))),
                        ),
                    ],
                )
            };
            let names = (!players.is_empty()).then(|| {
                view! { <p class="small" data-testid="rcon-players">{players.join(", ")}</p> }
            });
            view! {
                <div class="check check-ok" data-testid="rcon-result" data-outcome="ok">
                    <strong>"RCON"</strong>
                    <p>{summary}</p>
                    {names}
                </div>
            }
            .into_any()
        }
        RconCheck::Failed { problem, address } => {
            let key = rcon_problem_key(problem);
            let text = move || key.fill(lang.get(), &[("address", &address)]);
            view! {
                <div
                    class="check check-failed"
                    data-testid="rcon-result"
                    data-outcome="failed"
                    data-problem=format!("{problem:?}")
                >
                    <strong>"RCON"</strong>
                    <p>{text}</p>
                </div>
            }
            .into_any()
        }
    };
    let logs = report.logs.map(|logs| logs_view(logs, trust, lang));
    let metrics = report.metrics.map(|metrics| match metrics {
        MetricsCheck::Scraped {
            players,
            tps,
            bad_lines,
        } => {
            let text = move || {
                let l = lang.get();
                Key::ServersMetricsScraped.fill(
                    l,
                    &[
                        (
                            "players",
                            &players.map_or_else(|| "-".into(), |p| decimal(l, p, 0)),
                        ),
                        ("tps", &tps.map_or_else(|| "-".into(), |v| decimal(l, v, 1))),
                        ("bad", &l.int(i64::from(bad_lines))),
                    ],
                )
            };
            view! {
                <div class="check check-ok" data-testid="metrics-result" data-outcome="ok">
                    <strong>"Prometheus"</strong>
                    <p>{text}</p>
                </div>
            }
            .into_any()
        }
        MetricsCheck::Failed { problem } => {
            let text = move || match problem {
                MetricsProblem::Status(code) => {
                    Key::ServersMetricsStatus.fill(lang.get(), &[("status", &code.to_string())])
                }
                MetricsProblem::Unreachable => {
                    Key::ServersMetricsUnreachable.text(lang.get()).to_owned()
                }
                MetricsProblem::Timeout => Key::ServersMetricsTimeout.text(lang.get()).to_owned(),
                MetricsProblem::Other => Key::ServersMetricsOther.text(lang.get()).to_owned(),
            };
            view! {
                <div class="check check-failed" data-testid="metrics-result" data-outcome="failed">
                    <strong>"Prometheus"</strong>
                    <p>{text}</p>
                </div>
            }
            .into_any()
        }
    });
    view! {
        <div class="connection-report" data-testid="connection-report" aria-live="polite">
            {rcon}
            {logs}
            {metrics}
        </div>
    }
}

fn rcon_problem_key(problem: RconProblem) -> Key {
    match problem {
        RconProblem::Refused => Key::ServersRconRefused,
        RconProblem::Unreachable => Key::ServersRconUnreachable,
        RconProblem::Timeout => Key::ServersRconTimeout,
        RconProblem::WrongPassword => Key::ServersRconWrongPassword,
        RconProblem::NotRcon => Key::ServersRconNotRcon,
        RconProblem::Closed => Key::ServersRconClosed,
        RconProblem::Unreadable => Key::ServersRconUnreadable,
        RconProblem::NotConfigured => Key::ServersRconNotConfigured,
        RconProblem::Other => Key::ServersRconOther,
    }
}

/// `value` with `digits` decimals, in the language's notation.
fn decimal(lang: Lang, value: f64, digits: usize) -> String {
    let text = format!("{value:.digits$}");
    match lang {
        Lang::De => text.replace('.', ","),
        Lang::En => text,
    }
}

fn logs_view(logs: LogsCheck, trust: Option<Callback<String>>, lang: RwSignal<Lang>) -> AnyView {
    match logs {
        LogsCheck::Http => view! {
            <div class="check" data-testid="logs-result" data-outcome="http">
                <strong>{t(Key::ServersGroupLogs)}</strong>
                <p>{t(Key::ServersLogsHttpNote)}</p>
            </div>
        }
        .into_any(),
        LogsCheck::Listed {
            folder,
            files,
            total,
        } => {
            let summary = move || {
                Key::ServersLogsListed.fill(
                    lang.get(),
                    &[
                        ("folder", &folder),
                        ("count", &lang.get().int(i64::from(total))),
                    ],
                )
            };
            let rows = files
                .into_iter()
                .map(|file| {
                    let modified = file
                        .modified
                        .map(|m| m.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_default();
                    view! {
                        <li>
                            <span class="mono">{file.name}</span>
                            <span class="muted small">{move || lang.get().int(file.bytes as i64)} " B · " {modified}</span>
                        </li>
                    }
                })
                .collect_view();
            view! {
                <div class="check check-ok" data-testid="logs-result" data-outcome="ok">
                    <strong>{t(Key::ServersGroupLogs)}</strong>
                    <p>{summary}</p>
                    <ul class="files" data-testid="log-files">{rows}</ul>
                </div>
            }
            .into_any()
        }
        LogsCheck::Failed {
            problem: LogsProblem::UnknownHostKey { fingerprint },
        } => {
            let confirm = trust.map(|trust| {
                let key = fingerprint.clone();
                view! {
                    <button type="button" data-testid="trust-host-key" on:click=move |_| trust.run(key.clone())>
                        {t(Key::ServersTrustKey)}
                    </button>
                }
            });
            view! {
                <div class="check check-warn" data-testid="logs-result" data-outcome="unknown-key">
                    <strong>{t(Key::ServersGroupLogs)}</strong>
                    <p>{t(Key::ServersUnknownHostKey)}</p>
                    <code class="copyable" data-testid="host-key-fingerprint">{fingerprint}</code>
                    <p class="small muted">{t(Key::ServersUnknownHostKeyHint)}</p>
                    {confirm}
                </div>
            }
            .into_any()
        }
        LogsCheck::Failed { problem } => {
            let text = move || match &problem {
                LogsProblem::HostKeyChanged { presented, pinned } => Key::ServersLogsKeyChanged
                    .fill(lang.get(), &[("presented", presented), ("pinned", pinned)]),
                other => logs_problem_key(other).text(lang.get()).to_owned(),
            };
            view! {
                <div class="check check-failed" data-testid="logs-result" data-outcome="failed">
                    <strong>{t(Key::ServersGroupLogs)}</strong>
                    <p>{text}</p>
                </div>
            }
            .into_any()
        }
    }
}

fn logs_problem_key(problem: &LogsProblem) -> Key {
    match problem {
        LogsProblem::Refused => Key::ServersLogsRefused,
        LogsProblem::Unreachable => Key::ServersLogsUnreachable,
        LogsProblem::Timeout => Key::ServersLogsTimeout,
        LogsProblem::LoginRefused => Key::ServersLogsLoginRefused,
        LogsProblem::NoPasswordLogin => Key::ServersLogsNoPassword,
        LogsProblem::KeyRefused => Key::ServersLogsKeyRefused,
        LogsProblem::NoKeyLogin => Key::ServersLogsNoKeyLogin,
        LogsProblem::NoSuchFolder => Key::ServersLogsNoFolder,
        LogsProblem::NotAFolder => Key::ServersLogsNotAFolder,
        LogsProblem::PermissionDenied => Key::ServersLogsDenied,
        LogsProblem::UnknownHostKey { .. }
        | LogsProblem::HostKeyChanged { .. }
        | LogsProblem::Other => Key::ServersLogsOther,
    }
}
