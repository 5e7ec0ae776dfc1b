//! archbuild: architecture emulation containers for building packages for foreign
//! architectures with qemu-user, binfmt_misc and mount namespaces.

pub mod accel;
pub mod arch;
pub mod atomic_file;
pub mod batch;
pub mod binfmt;
pub mod bootstrap;
pub mod cli;
pub mod commands;
pub mod container;
pub mod disk_space;
pub mod elf;
pub mod emulator;
pub mod error;
pub mod locks;
pub mod matrix;
pub mod mountinfo;
pub mod names;
pub mod obs;
pub mod oscbuild;
pub mod progress;
pub mod safe_delete;
pub mod settings;
pub mod state;
pub mod sys;
pub mod text_table;
pub mod user;
