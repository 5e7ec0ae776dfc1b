//! The kernel-facing code through the library, in throwaway mount namespaces: binfmt
//! registration that the kernel refuses puts the previous entry back, and namespaces
//! are made safely from a process whose other threads allocate.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use archbuild::binfmt::{self, Entry, Flags, Matcher};

/// Removes the binfmt entries this test process made, also when the test fails.
struct RemoveEntries;

impl Drop for RemoveEntries {
    fn drop(&mut self) {
        common::remove_test_binfmt_entries();
    }
}

fn private_installation(dir: &Path) {
    std::env::set_var("ARCHBUILD_STATE_DIR", dir.join("state"));
    std::env::set_var("ARCHBUILD_PIN_DIR", dir.join("pins"));
    std::env::set_var("ARCHBUILD_BINFMT_PREFIX", common::unique_binfmt_prefix());
    std::env::set_var("ARCHBUILD_BINFMT_OWN_ONLY", "1");
}

#[test]
fn a_refused_registration_puts_the_previous_entry_back() {
    isolated!();
    if !common::have_qemu_tools() {
        return;
    }
    let _cleanup = RemoveEntries;
    let dir = tempfile::tempdir().unwrap();
    private_installation(dir.path());
    let arch = archbuild::arch::lookup("riscv64").unwrap();
    let good = Entry::for_arch(
        arch,
        Path::new("/usr/bin/qemu-riscv64-static"),
        Flags::parse("FP").unwrap(),
    );
    binfmt::register(&good).unwrap();
    // A well-formed line the kernel refuses: magic beyond the 256 bytes it reads.
    let refused = Entry {
        matcher: Matcher::Magic {
            offset: 250,
            magic: vec![0x7f; 16],
            mask: None,
        },
        interpreter: "/usr/bin/qemu-aarch64-static".into(),
        ..good.clone()
    };
    let err = binfmt::register(&refused).unwrap_err();
    let msg = archbuild::error::one_line(&err);
    assert!(msg.contains("the kernel refused"), "{msg}");
    assert!(msg.contains("is back in force"), "{msg}");
    let table = binfmt::read_table().unwrap();
    let live = table
        .iter()
        .find(|e| e.entry.name == good.name)
        .expect("the previous entry is registered again");
    assert!(live.enabled);
    assert_eq!(live.entry, good);
}

#[test]
fn namespaces_are_made_safely_while_other_threads_allocate() {
    isolated!();
    if !common::have_qemu_tools() {
        return;
    }
    let _cleanup = RemoveEntries;
    let dir = tempfile::tempdir().unwrap();
    private_installation(dir.path());
    let root = common::busybox_root(dir.path(), "arm64");
    let record = archbuild::state::Record {
        name: "threads".into(),
        arch: "aarch64".into(),
        location: root,
        binds: vec![],
        emulator: None,
        origin: archbuild::state::Origin::Existing,
        accel: false,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..3)
        .map(|i| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    kept.push(vec![i as u8; 4096]);
                    if kept.len() > 256 {
                        kept.clear();
                    }
                }
            })
        })
        .collect();
    // A hang (a child stuck on the allocator's lock) fails the test instead of CI.
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(180));
        eprintln!("namespace creation hung");
        std::process::abort();
    });
    assert!(archbuild::sys::process::thread_count().unwrap() >= 5);
    for _ in 0..20 {
        assert_eq!(
            archbuild::container::start(&record).unwrap(),
            archbuild::container::Started::Now
        );
        let pin = archbuild::container::pin_path(&record.name);
        // Joining needs a single-threaded process: refused here, with the reason.
        let err = archbuild::sys::namespace::join(&pin)
            .unwrap_err()
            .to_string();
        assert!(err.contains("threads"), "{err}");
        archbuild::container::stop(&record.name, Duration::ZERO).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
}
