//! Instances kept for the next connection (serial reuse, as `wasmtime serve` reuses a
//! WASIp3 handler's): an instance whose connection ended cleanly answers a later one instead
//! of a new instance being made, its store, preopen and exports kept.
//!
//! What one connection leaves is not visible to the next: every piece of a connection's state
//! lives in the guest's `handler`, dropped when the connection ends, and the guest (safe Rust,
//! no globals but its preopens, its stderr stream and the machine's MIME types it was told)
//! cannot read memory it freed. An instance is kept only when nothing went wrong in it: no
//! trap, no limit hit (the memory cap, the CPU limit, a cancelled session), no handler
//! component or CGI script beside it, its memory small, and fewer than [`MAX_INSTANCE_USES`]
//! connections behind it. tests/tests/embed/instance_reuse.rs tries to see one connection from
//! the next.

use crate::runtime::ServedExports;
use crate::view::HttplibView;
use std::sync::Mutex;
use wasmtime::Store;

/// Connections one instance answers before it is dropped (wasmtime serve's default for a
/// WASIp3 handler, `DEFAULT_WASIP3_MAX_INSTANCE_REUSE_COUNT`, 128): whatever a guest leaks a
/// connection is bounded by it.
pub const MAX_INSTANCE_USES: u32 = 128;
/// Instances kept waiting for a connection (ours): each holds its pool slot and the memory
/// it touched, so a burst's instances mostly go when it ends.
pub const MAX_IDLE_INSTANCES: usize = 16;
/// An instance whose linear memory grew past this is dropped, not kept (ours): the pool then
/// decommits what it grew by, where a kept instance would hold it resident while it waits. A
/// small file's connection leaves the guest's memory at 448 KiB, a 3,000-entry listing's at
/// 1.1 MiB.
pub const REUSE_MEMORY_MAX: usize = 4 * 1024 * 1024;

/// Whether an instance answers more than one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceReuse {
    /// A new instance for every connection: the strictest isolation, and a new connection's
    /// cost doubled.
    Never,
    /// One connection after another (never two at once), up to [`MAX_INSTANCE_USES`]; the
    /// store's data is made for the first of them (`StoreParts::peer` is its client's; the
    /// guest is told each connection's own). `ServerConfig::default()`'s; an embedder's own
    /// store type asks for it (its data may be a connection's).
    Serial,
}

/// An instance between connections.
pub(super) struct Kept<T: 'static> {
    pub store: Store<T>,
    pub guest: ServedExports,
    /// Connections it has answered.
    pub uses: u32,
    /// The served directory its preopen holds.
    pub directory: DirectoryId,
}

/// Which directory a path names (device and inode): a served directory replaced under its
/// name (`rm -rf public && build`) is another, and an instance whose preopen holds the old
/// one is not used again (a new instance preopens the path afresh, as every connection did).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct DirectoryId(Option<(u64, u64)>);

impl DirectoryId {
    /// What `path` names now (nothing, when it cannot be read: then no instance is kept).
    pub fn of(path: &std::path::Path) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self(std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino())))
    }
}

/// The instances waiting for a connection.
pub(super) struct IdleInstances<T: 'static> {
    /// Kept instances; `None` once the server stops (none is kept then).
    idle: Mutex<Option<Vec<Kept<T>>>>,
}

impl<T: 'static> Default for IdleInstances<T> {
    fn default() -> Self {
        Self {
            idle: Mutex::new(Some(Vec::new())),
        }
    }
}

impl<T: HttplibView + 'static> IdleInstances<T> {
    /// The instance that waited least (its memory the warmest) whose preopen holds
    /// `directory`, made ready for a connection; those holding another are dropped.
    pub fn take(&self, directory: DirectoryId) -> Option<Kept<T>> {
        let mut stale = Vec::new();
        let found = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            let idle = idle.as_mut()?;
            loop {
                match idle.pop() {
                    Some(kept) if kept.directory == directory && directory.0.is_some() => break Some(kept),
                    Some(kept) => stale.push(kept),
                    None => break None,
                }
            }
        };
        // Dropped after the lock is let go (a store's drop hands its slot back to the pool).
        drop(stale);
        let mut kept = found?;
        kept.store.data_mut().httplib().ctx.returned_from_host();
        // Its epoch deadline passed while it waited: a new one from now.
        kept.store.set_epoch_deadline(1);
        Some(kept)
    }

    /// Keep `kept` for a later connection, if there is room (else it is dropped).
    pub fn give(&self, kept: Kept<T>) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(idle) = idle.as_mut().filter(|idle| idle.len() < MAX_IDLE_INSTANCES) {
            idle.push(kept);
            return;
        }
        // Dropped after the lock is let go (a store's drop hands its slot back to the pool).
        drop(idle);
        drop(kept);
    }

    /// Drop every kept instance and keep none from now (the server stops: their pool slots
    /// go back).
    pub fn close(&self) {
        let dropped = self.idle.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(dropped);
    }
}

/// Whether an instance whose connection ended without a trap may answer another: none of
/// its limits hit, its memory small, its uses not spent.
pub(super) fn reusable<T: HttplibView + 'static>(store: &mut Store<T>, uses: u32) -> bool {
    let ctx = store.data_mut().httplib().ctx;
    uses < MAX_INSTANCE_USES && !ctx.memory_cap_refused() && !ctx.cancelled() && ctx.memory_size() <= REUSE_MEMORY_MAX
}
