//! The pipeline: a registry of SQL transforms (bronze → silver → gold), each run in one
//! transaction, incremental from a stored watermark, backfillable for any range of local
//! days, and recorded in `app.pipeline_runs`. Running a job twice changes nothing.
//!
//! [`names`] names the jobs and the tables, [`registry`] says what each job reads and writes,
//! [`runner`] runs them, [`retention`] thins bronze and [`scheduler`] runs both from `serve`;
//! [`backfills`] runs the backfills started from the browser.

pub mod backfills;
pub mod names;
pub mod registry;
pub mod retention;
pub mod runner;
pub mod scheduler;

pub use backfills::{BackfillEnd, run_backfills, run_next_backfill};
pub use names::{JobName, Table, UnknownJob};
pub use registry::{JOBS, Job, Progress, downstream, job, plan};
pub use retention::RetentionReport;
pub use runner::{
    BackfillProgress, DEFAULT_PROFILE_WEEKS, Pipeline, RETRY_FIRST, RETRY_MAX, RunReport, Trigger,
    backfill_chunk_days, retry_delay,
};
pub use scheduler::{WAKE_CHANNEL, run_scheduler};
