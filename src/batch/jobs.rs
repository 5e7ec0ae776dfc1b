//! How many cells build at once: the default of `-j` from the machine's cores and
//! memory, and the cap for emulated builds.

/// Memory one build is given room for: obs-build's build root, osc, and (emulated) qemu
/// with its translation cache.
pub const MEMORY_PER_BUILD: u64 = 2 << 30;

/// `-j` when not given: one build per core, as many as memory allows, at least one.
pub fn default_jobs(cores: usize, memory: u64) -> usize {
    let by_memory = (memory / MEMORY_PER_BUILD) as usize;
    cores.min(by_memory).max(1)
}

/// Emulated builds at once: qemu-user keeps a core busy per build (translation is
/// single-threaded per guest thread), so never more than the cores, whatever `-j`.
pub fn emulated_cap(jobs: usize, cores: usize, explicit: Option<usize>) -> usize {
    explicit.unwrap_or_else(|| jobs.min(cores)).max(1)
}

/// The machine's cores and memory (MemTotal), for the defaults.
pub fn machine() -> (usize, u64) {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| mem_total(&t))
        .unwrap_or(MEMORY_PER_BUILD);
    (cores, memory)
}

fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_from_cores_and_memory() {
        const GIB: u64 = 1 << 30;
        assert_eq!(default_jobs(2, 24 * GIB), 2);
        assert_eq!(default_jobs(16, 8 * GIB), 4);
        assert_eq!(default_jobs(4, GIB), 1);
        assert_eq!(default_jobs(0, 0), 1);
        assert_eq!(emulated_cap(8, 2, None), 2);
        assert_eq!(emulated_cap(1, 2, None), 1);
        assert_eq!(emulated_cap(8, 2, Some(3)), 3);
        assert_eq!(emulated_cap(8, 2, Some(0)), 1);
        assert_eq!(
            mem_total("MemTotal:       24576000 kB\nMemFree: 1 kB\n"),
            Some(24576000 * 1024)
        );
        assert_eq!(mem_total("nothing"), None);
    }
}
