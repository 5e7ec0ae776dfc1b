//! binfmt_misc: entries as values (`entry`), the live table (`table`), and the policy
//! that decides which entry runs an arch's binaries in containers (`policy`).

pub mod entry;
pub mod policy;
pub mod table;

pub use entry::{
    binfmt_d_text, escape, sample_header, unescape, validate_name, Entry, Flags, LiveEntry, Matcher,
};
pub use policy::{decide, ensure, usability, winner, Action, Ensured, Usability};
pub use table::{ensure_mounted, read_table, register, remove};
