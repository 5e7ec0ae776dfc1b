//! Bootstrapping foreign-architecture roots.

pub mod plan;
