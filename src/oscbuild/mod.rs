//! `archbuild build`: `osc build` for the checkout in the current directory, run inside
//! the architecture emulation container of the target arch.
//!
//! The decisions are plain data and pure functions, each in its own module, so that unit
//! tests cover them without root: `checkout` (what the current directory is), `reach`
//! (whether a host path shows at the same path inside a container), `command` (the
//! `osc build` command line and its environment), `oscrc` (which osc configuration the
//! build uses and whether it has credentials), `ownership` (giving files the build made
//! back to the user). `run` puts them together with the container.

pub mod checkout;
pub mod command;
pub mod oscrc;
pub mod ownership;
pub mod reach;
pub mod run;
