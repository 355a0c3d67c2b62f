//! The pipeline: a registry of SQL transforms (bronze → silver → gold), each run in one
//! transaction, incremental from a stored watermark, backfillable for any range of local
//! days, and recorded in `app.pipeline_runs`. Running a job twice changes nothing.
//!
//! [`names`] names the jobs and the tables, [`registry`] says what each job reads and writes,
//! [`runner`] runs them, [`retention`] thins bronze and [`scheduler`] runs both from `serve`.

pub mod names;
pub mod registry;
pub mod retention;
pub mod runner;
pub mod scheduler;

pub use names::{JobName, Table, UnknownJob};
pub use registry::{JOBS, Job, Progress, downstream, job, plan};
pub use retention::RetentionReport;
pub use runner::{DEFAULT_PROFILE_WEEKS, Pipeline, RunReport, Trigger};
pub use scheduler::{WAKE_CHANNEL, run_scheduler};
