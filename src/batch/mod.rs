//! `archbuild batch` and `archbuild check`: the build matrix of one or more package
//! checkouts, built cell by cell with the single build (`oscbuild`), in parallel.
//!
//! What is decided (pure):
//! - [`outcome`]: a cell's result code and record
//! - [`work`]: which cells are built, settled or resumed, and in which order
//! - [`phase`]: a running cell's phase from its log, and its result code at the end
//! - [`jobs`]: the default `-j` and the cap for emulated builds
//! - [`history`]: earlier runs, for `--resume` and the order of work
//! - [`verdict`], [`results_table`], [`report_json`], [`junit`], [`lint`]: what a batch
//!   says at the end
//! - [`obs_result`]: OBS's `_result`, compared with the local cells
//!
//! What does it: [`inputs`] (fetches a checkout's plan inputs), [`runner`] (the builds
//! as processes), [`display`] (progress), [`execute`] (one batch from start to end).

pub mod display;
pub mod execute;
pub mod history;
pub mod inputs;
pub mod jobs;
pub mod junit;
pub mod lint;
pub mod obs_result;
pub mod outcome;
pub mod phase;
pub mod report_json;
pub mod results_table;
pub mod runner;
pub mod verdict;
pub mod work;
