//! The only code that calls the kernel: mount namespaces (create, pin, join, unpin, their
//! processes), mounts and mount identities, binfmt_misc I/O, process control (spawn,
//! wait, user switch, personality, exec) and signal dispositions. Decisions are made
//! elsewhere as plain data; the functions here apply them.

pub mod binfmt_misc;
pub mod lock;
pub mod mounts;
pub mod namespace;
pub mod process;
pub mod shield;
pub mod signals;
pub mod syscalls;
