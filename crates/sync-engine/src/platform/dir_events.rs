//! Folder events: the kernel's reports of what changed in the folders a pair watches.
//!
//! On Linux this is `inotify`, spoken to directly: one watch per folder, added by whichever
//! thread lists that folder (the scanner's walk threads add them in parallel, each one a
//! single system call). A portable watcher library would serialise every watch through one
//! event thread and walk the folder again on its own — on a large tree that took longer than
//! the scan it was waiting for. A port provides the same four calls (`open`, `add`,
//! `remove`, `read`) or answers [`open`] with "not supported": a pair then finds changes by
//! its periodic rescans, as it does on a network file system.

use std::ffi::OsStr;
use std::io;
use std::mem::MaybeUninit;
use std::path::Path;

/// One report of the kernel.
#[derive(Debug, PartialEq, Eq)]
pub enum DirEvent<'a> {
    /// Events were dropped (the kernel's queue overflowed): anything may have changed.
    Overflow,
    /// The watch is gone (its folder was deleted, or the watch removed).
    Dropped(i32),
    /// Something changed in a watched folder.
    Changed {
        /// The folder's watch.
        watch: i32,
        /// The entry that changed, or `None`: the folder itself.
        name: Option<&'a OsStr>,
        /// The entry is a folder that was moved out of here (the watches of it and of its
        /// folders follow it to wherever it went).
        dir_moved_away: bool,
    },
}

/// Whether an error of [`Watcher::add`] says the system's limit of watches is reached.
pub fn is_watch_limit(e: &io::Error) -> bool {
    imp::is_watch_limit(e)
}

/// The kernel's folder-event source of one pair.
pub struct Watcher(imp::Watcher);

/// Wakes a [`Watcher::read`] that waits, for good (the reader then returns `Ok(false)`).
pub struct Stopper(imp::Stopper);

impl Watcher {
    /// A new event source, and what stops its reader.
    pub fn open() -> io::Result<(Watcher, Stopper)> {
        let (w, s) = imp::open()?;
        Ok((Watcher(w), Stopper(s)))
    }

    /// Watch the folder `dir` (never through a link; only a folder): its entries' creation,
    /// deletion, change, renames, and the folder's own deletion or move. Watching a folder
    /// already watched gives its watch again. Safe to call from many threads at once.
    pub fn add(&self, dir: &Path) -> io::Result<i32> {
        self.0.add(dir)
    }

    /// Stop watching (what is already gone is no error).
    pub fn remove(&self, watch: i32) {
        self.0.remove(watch)
    }

    /// Wait for events and hand each to `each`, until `stop` is called (then `Ok(false)`).
    /// `Ok(true)`: a batch was handed over; call again.
    pub fn read(
        &self,
        buf: &mut Vec<MaybeUninit<u8>>,
        each: &mut dyn FnMut(DirEvent<'_>),
    ) -> io::Result<bool> {
        self.0.read(buf, each)
    }
}

impl Stopper {
    /// Make the reader return.
    pub fn stop(&self) {
        self.0.stop()
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use super::DirEvent;
    use rustix::event::{EventfdFlags, PollFd, PollFlags, eventfd, poll};
    use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
    use std::ffi::OsStr;
    use std::io;
    use std::mem::MaybeUninit;
    use std::os::fd::OwnedFd;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::sync::Arc;

    pub struct Watcher {
        fd: OwnedFd,
        stop: Arc<OwnedFd>,
    }

    pub struct Stopper(Arc<OwnedFd>);

    pub fn open() -> io::Result<(Watcher, Stopper)> {
        let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)?;
        let stop = Arc::new(eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?);
        Ok((
            Watcher {
                fd,
                stop: stop.clone(),
            },
            Stopper(stop),
        ))
    }

    pub fn is_watch_limit(e: &io::Error) -> bool {
        // `ENOSPC`: `fs.inotify.max_user_watches` is reached.
        e.raw_os_error() == Some(rustix::io::Errno::NOSPC.raw_os_error())
    }

    /// What a folder's watch reports. Opening and reading are left out (the engine's own
    /// scans and uploads open everything they look at: each would set off the next scan);
    /// `IN_EXCL_UNLINK`: nothing about entries already unlinked.
    fn mask() -> WatchFlags {
        WatchFlags::CREATE
            | WatchFlags::DELETE
            | WatchFlags::MODIFY
            | WatchFlags::CLOSE_WRITE
            | WatchFlags::ATTRIB
            | WatchFlags::MOVED_FROM
            | WatchFlags::MOVED_TO
            | WatchFlags::DELETE_SELF
            | WatchFlags::MOVE_SELF
            | WatchFlags::ONLYDIR
            | WatchFlags::DONT_FOLLOW
            | WatchFlags::EXCL_UNLINK
    }

    impl Watcher {
        pub fn add(&self, dir: &Path) -> io::Result<i32> {
            Ok(inotify::add_watch(&self.fd, dir, mask())?)
        }

        pub fn remove(&self, watch: i32) {
            let _ = inotify::remove_watch(&self.fd, watch);
        }

        pub fn read(
            &self,
            buf: &mut Vec<MaybeUninit<u8>>,
            each: &mut dyn FnMut(DirEvent<'_>),
        ) -> io::Result<bool> {
            loop {
                let mut fds = [
                    PollFd::new(&self.fd, PollFlags::IN),
                    PollFd::new(&*self.stop, PollFlags::IN),
                ];
                match poll(&mut fds, None) {
                    Ok(_) => {}
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => return Err(e.into()),
                }
                if !fds[1].revents().is_empty() {
                    return Ok(false);
                }
                if fds[0].revents().is_empty() {
                    continue;
                }
                // Room for many events per read (each is 16 bytes and its name).
                buf.resize(64 * 1024, MaybeUninit::uninit());
                let mut reader = inotify::Reader::new(&self.fd, buf);
                let mut got = false;
                loop {
                    match reader.next() {
                        Ok(ev) => {
                            got = true;
                            let flags = ev.events();
                            if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                                each(DirEvent::Overflow);
                            } else if flags.contains(ReadFlags::IGNORED) {
                                each(DirEvent::Dropped(ev.wd()));
                            } else {
                                let name = ev
                                    .file_name()
                                    .map(|n| OsStr::from_bytes(n.to_bytes()))
                                    .filter(|n| !n.is_empty());
                                each(DirEvent::Changed {
                                    watch: ev.wd(),
                                    name,
                                    dir_moved_away: flags
                                        .contains(ReadFlags::MOVED_FROM | ReadFlags::ISDIR),
                                });
                            }
                            if reader.is_buffer_empty() {
                                break;
                            }
                        }
                        Err(rustix::io::Errno::AGAIN) => break,
                        Err(rustix::io::Errno::INTR) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
                if got {
                    return Ok(true);
                }
            }
        }
    }

    impl Stopper {
        pub fn stop(&self) {
            let _ = rustix::io::write(&*self.0, &1u64.to_ne_bytes());
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::DirEvent;
    use std::io;
    use std::mem::MaybeUninit;
    use std::path::Path;

    pub struct Watcher;
    pub struct Stopper;

    pub fn open() -> io::Result<(Watcher, Stopper)> {
        Err(super::super::unsupported("watching folders for changes"))
    }

    pub fn is_watch_limit(_: &io::Error) -> bool {
        false
    }

    impl Watcher {
        pub fn add(&self, _: &Path) -> io::Result<i32> {
            Err(super::super::unsupported("watching folders for changes"))
        }
        pub fn remove(&self, _: i32) {}
        pub fn read(
            &self,
            _: &mut Vec<MaybeUninit<u8>>,
            _: &mut dyn FnMut(DirEvent<'_>),
        ) -> io::Result<bool> {
            Ok(false)
        }
    }

    impl Stopper {
        pub fn stop(&self) {}
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// What the kernel reports for a folder's own changes, a new entry, a folder moved away,
    /// and the end of a watch; the reader stops when told.
    #[test]
    fn events_of_a_watched_folder_are_read_and_the_reader_stops() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("sub")).unwrap();
        let (w, stop) = Watcher::open().unwrap();
        let root = w.add(t.path()).unwrap();
        let sub = w.add(&t.path().join("sub")).unwrap();
        assert_ne!(root, sub);
        assert_eq!(
            w.add(t.path()).unwrap(),
            root,
            "the same folder, the same watch"
        );
        // A link to a folder is not followed, and a file is not watched.
        std::os::unix::fs::symlink(t.path().join("sub"), t.path().join("link")).unwrap();
        assert!(w.add(&t.path().join("link")).is_err());
        std::fs::write(t.path().join("f.txt"), b"x").unwrap();
        assert!(w.add(&t.path().join("f.txt")).is_err());
        std::fs::rename(t.path().join("sub"), t.path().join("moved")).unwrap();
        w.remove(sub);

        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut buf = Vec::new();
        let mut dropped = false;
        while !(dropped && seen.contains("moved away: sub")) {
            assert!(
                w.read(&mut buf, &mut |e| match e {
                    DirEvent::Changed {
                        watch,
                        name,
                        dir_moved_away,
                    } => {
                        assert!(watch == root || watch == sub, "{name:?}");
                        let name = name.map(|n| n.to_string_lossy().into_owned());
                        seen.insert(match (name, dir_moved_away) {
                            (Some(n), true) => format!("moved away: {n}"),
                            (Some(n), false) => n,
                            // The folder of the watch `sub` itself was moved.
                            (None, _) => format!("itself: {}", watch == sub),
                        });
                    }
                    DirEvent::Dropped(wd) => {
                        assert_eq!(wd, sub);
                        dropped = true;
                    }
                    DirEvent::Overflow => panic!("no overflow here"),
                })
                .unwrap()
            );
        }
        for n in ["link", "f.txt", "moved", "itself: true"] {
            assert!(seen.contains(n), "{n} in {seen:?}");
        }
        stop.stop();
        assert!(!w.read(&mut buf, &mut |_| {}).unwrap(), "stopped");
    }

    #[test]
    fn the_watch_limit_is_told_apart() {
        assert!(is_watch_limit(&io::Error::from_raw_os_error(
            rustix::io::Errno::NOSPC.raw_os_error()
        )));
        assert!(!is_watch_limit(&io::Error::from_raw_os_error(
            rustix::io::Errno::ACCESS.raw_os_error()
        )));
    }
}
