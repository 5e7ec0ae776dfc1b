//! The Open Build Service, read the way osc reads it: the oscrc, an HTTP client for the
//! OBS API, the project documents (meta, prjconf, `/configuration`, `_buildinfo`), path
//! chains, and the bootstrap [`Plan`](crate::bootstrap::plan::Plan) made from them.
//!
//! Each module has one job:
//! - [`oscrc`]: find and read the osc configuration, resolve the API URL and credentials
//! - [`client`]: the HTTP client (Basic auth, timeouts, retries, `<status>` errors)
//! - [`status`]: the `<status>` document OBS answers errors with
//! - [`meta`], [`configuration`], [`buildinfo`]: typed XML documents
//! - [`prjconf`]: the project configuration, macros and conditionals evaluated for an arch
//! - [`pathchain`]: a repository's expanded build path
//! - [`checkout`]: the osc package checkout in the current directory (`.osc/`)
//! - [`repositories`]: where a root of an OBS repository installs from
//! - [`bootstrap_plan`]: project/repository/arch -> bootstrap plan

pub mod bootstrap_plan;
pub mod buildinfo;
pub mod checkout;
pub mod client;
pub mod configuration;
pub mod meta;
pub mod oscrc;
pub mod pathchain;
pub mod prjconf;
pub mod repositories;
pub mod status;
pub mod xml;

pub use client::Client;
