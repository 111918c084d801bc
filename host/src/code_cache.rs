//! The compiled-code cache: a component's machine code kept on disk between runs, so `httplib`
//! starts in milliseconds instead of compiling the guest (and each CGI script) every time.
//!
//! One file a component, `<sha256 of the wasm>-<engine settings>.cwasm`, in
//! `$HTTPLIB_CACHE_DIR`, else `$XDG_CACHE_HOME/httplib`, else `~/.cache/httplib`. A file is
//! written whole beside its final name and renamed into place, so a reader sees all of it or
//! nothing; a run that dies mid-write leaves a `.tmp-PID` file the next write removes. Nothing
//! else is ever left in the directory (wasmtime's own cache keeps lock and statistics files),
//! and it holds at most `MAX_CACHE_FILES`, the least recently used going first.
//! `HTTPLIB_NO_CACHE=1` turns it off.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Most compiled components kept (ours: the guest of a few httplib builds and some scripts).
pub const MAX_CACHE_FILES: usize = 32;
/// A temporary file older than this belongs to a run that died mid-write (a write takes
/// milliseconds).
pub const STALE_TEMP_AGE: Duration = Duration::from_secs(600);
const EXTENSION: &str = "cwasm";

/// Where compiled components are kept, or nowhere.
#[derive(Clone, Debug, Default)]
pub struct CodeCache {
    dir: Option<PathBuf>,
}

impl CodeCache {
    /// The directory the environment names (see the module docs), or no cache when
    /// `HTTPLIB_NO_CACHE` says so or no directory can be named.
    pub fn from_env() -> Self {
        if cache_disabled(std::env::var_os("HTTPLIB_NO_CACHE").as_deref()) {
            return Self::disabled();
        }
        let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let dir = non_empty("HTTPLIB_CACHE_DIR")
            .or_else(|| non_empty("XDG_CACHE_HOME").map(|d| d.join("httplib")))
            .or_else(|| non_empty("HOME").map(|d| d.join(".cache").join("httplib")));
        Self { dir }
    }

    /// Keep compiled components in `dir`.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        Self { dir: Some(dir.into()) }
    }

    /// Compile every time.
    pub fn disabled() -> Self {
        Self { dir: None }
    }

    /// The directory in use, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// `wasm` compiled for `engine`: loaded from the cache when it holds it, else compiled
    /// and stored. A cache that cannot be read or written costs compile time, never an error.
    pub fn component(&self, engine: &Engine, wasm: &[u8]) -> Result<Component> {
        let Some(dir) = &self.dir else {
            return Component::new(engine, wasm).map_err(anyhow::Error::from);
        };
        let path = dir.join(file_name(engine, wasm));
        if path.is_file() {
            // SAFETY: the file was written by `store` below from wasmtime's own output, whole
            // (renamed into place), and is checked by wasmtime against this engine's version and
            // settings; files are replaced by rename, never rewritten in place, so the mapping
            // stays valid.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => {
                    touch(&path);
                    return Ok(component);
                }
                Err(e) => tracing::debug!("compiled-code cache: {}: {e:#}; compiling", path.display()),
            }
        }
        let component = Component::new(engine, wasm).map_err(anyhow::Error::from)?;
        if let Err(e) = store(dir, &path, &component) {
            tracing::debug!("compiled-code cache: not kept: {e:#}");
        }
        Ok(component)
    }
}

/// The file for `wasm` on `engine`: its content hash and the engine's compatibility hash (the
/// wasmtime version and every setting that changes the code).
fn file_name(engine: &Engine, wasm: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let digest = ring::digest::digest(&ring::digest::SHA256, wasm);
    let mut settings = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut settings);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}-{:016x}.{EXTENSION}", settings.finish())
}

/// Write `component` to a temporary file beside `path`, then rename it into place; then keep
/// the directory within its bounds.
fn store(dir: &Path, path: &Path, component: &Component) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let bytes = component.serialize().map_err(anyhow::Error::from)?;
    let temp = path.with_extension(format!("{EXTENSION}.tmp-{}", std::process::id()));
    let written = std::fs::write(&temp, &bytes).and_then(|()| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.with_context(|| format!("writing {}", path.display()))?;
    prune(dir, path);
    Ok(())
}

/// Remove temporary files of runs that died mid-write, and all but the `MAX_CACHE_FILES`
/// most recently used components (never `keep`, just written).
fn prune(dir: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let now = SystemTime::now();
    let mut kept = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Ok(modified) = entry.metadata().and_then(|m| m.modified()) else {
            continue;
        };
        if name.contains(&format!(".{EXTENSION}.tmp-")) {
            if now.duration_since(modified).unwrap_or_default() > STALE_TEMP_AGE {
                let _ = std::fs::remove_file(&path);
            }
        } else if name.ends_with(&format!(".{EXTENSION}")) && path != keep {
            kept.push((modified, path));
        }
    }
    if kept.len() >= MAX_CACHE_FILES {
        kept.sort();
        for (_, path) in &kept[..kept.len() + 1 - MAX_CACHE_FILES] {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Mark a file used now (its modification time orders eviction).
fn touch(path: &Path) {
    if let Ok(file) = std::fs::File::options().append(true).open(path) {
        let _ = file.set_modified(SystemTime::now());
    }
}

/// `HTTPLIB_NO_CACHE` turns the compiled-code cache off when set to anything but "", "0",
/// "false" or "no" (so `HTTPLIB_NO_CACHE=0` leaves it on).
fn cache_disabled(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| {
        !matches!(
            v.to_str().map(str::to_ascii_lowercase).as_deref(),
            Some("" | "0" | "false" | "no")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_cache_means_yes_only_for_a_yes() {
        assert!(!cache_disabled(None));
        for off in ["", "0", "false", "No"] {
            assert!(!cache_disabled(Some(off.as_ref())), "{off:?}");
        }
        for on in ["1", "yes", "true"] {
            assert!(cache_disabled(Some(on.as_ref())), "{on:?}");
        }
    }

    #[test]
    fn prune_keeps_the_newest_and_clears_stale_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        let mut paths = Vec::new();
        for i in 0..MAX_CACHE_FILES + 3 {
            let path = dir.path().join(format!("{i:02}.{EXTENSION}"));
            std::fs::write(&path, b"x").unwrap();
            let file = std::fs::File::options().append(true).open(&path).unwrap();
            file.set_modified(old + Duration::from_secs(i as u64)).unwrap();
            paths.push(path);
        }
        let stale = dir.path().join(format!("a.{EXTENSION}.tmp-1"));
        let fresh = dir.path().join(format!("b.{EXTENSION}.tmp-2"));
        for (p, t) in [(&stale, old), (&fresh, SystemTime::now())] {
            std::fs::write(p, b"x").unwrap();
            std::fs::File::options()
                .append(true)
                .open(p)
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        prune(dir.path(), &paths[0]);
        let left: Vec<bool> = paths.iter().map(|p| p.exists()).collect();
        assert!(left[0], "the one just written stays");
        assert_eq!(left.iter().filter(|&&x| x).count(), MAX_CACHE_FILES);
        assert!(!left[1] && !left[2] && !left[3], "the oldest go first: {left:?}");
        assert!(!stale.exists() && fresh.exists());
    }
}
