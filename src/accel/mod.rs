//! Accelerated roots: native x86_64 tools run instead of emulated ones where that is
//! safe. `manifest` is the document the handler reads, `plan` makes one from a root's
//! files, `decision` is the handler's choice at each exec (shared with the handler
//! binary in accel-handler/).

pub mod debian_bundle;
pub mod debian_index;
pub mod debian_perl;
pub mod decision;
pub mod host;
pub mod make_debian;
pub mod manifest;
pub mod plan;
pub mod status;

#[cfg(test)]
mod tests {
    /// The handler's own small ELF table agrees with archbuild's arch table.
    #[test]
    fn the_handlers_targets_are_archbuilds_emulators() {
        for arch in crate::arch::ARCHES {
            let header = crate::binfmt::sample_header(arch);
            assert_eq!(
                super::decision::qemu_target(&header),
                Some(arch.qemu),
                "{}",
                arch.obs
            );
        }
    }
}
