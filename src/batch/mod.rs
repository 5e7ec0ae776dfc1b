//! `archbuild batch` and `archbuild check`: the build matrix of one or more package
//! checkouts, built cell by cell with the single build (`oscbuild`), in parallel.
//!
//! - [`outcome`]: a cell's result code and record

pub mod junit;
pub mod lint;
pub mod obs_result;
pub mod outcome;
pub mod report_json;
pub mod results_table;
pub mod verdict;
