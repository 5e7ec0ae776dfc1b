//! archbuild: architecture emulation containers for building packages for foreign
//! architectures with qemu-user, binfmt_misc and mount namespaces.

pub mod arch;
pub mod binfmt;
pub mod bootstrap;
pub mod cli;
pub mod commands;
pub mod container;
pub mod elf;
pub mod emulator;
pub mod error;
pub mod mountinfo;
pub mod names;
pub mod obs;
pub mod oscbuild;
pub mod paths;
pub mod progress;
pub mod state;
