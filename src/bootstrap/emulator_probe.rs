//! The emulator a bootstrap plan names for its arch: none when this host runs the arch
//! natively, else the qemu-user emulator found on this host, else the name it would have
//! (`qemu-<target>`), so that a plan made on a host without it still says what is missing.

use crate::arch::{self, Arch};

/// The emulator for `arch` as a plan records it.
pub fn planned_emulator(arch: &Arch) -> Option<String> {
    let native = arch::host().is_ok_and(|host| arch.is_native_on(host));
    (!native).then(|| {
        crate::emulator::probe(arch)
            .map(|(p, _)| p.display().to_string())
            .unwrap_or_else(|| arch.emulator_name())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_arch_has_none_and_foreign_ones_a_name() {
        let host = arch::host().unwrap();
        assert_eq!(planned_emulator(host), None);
        let foreign = arch::ARCHES.iter().find(|a| !a.is_native_on(host)).unwrap();
        let e = planned_emulator(foreign).unwrap();
        assert!(e.contains(&format!("qemu-{}", foreign.qemu)), "{e}");
    }
}
