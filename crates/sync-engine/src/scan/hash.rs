//! Hashing a file as the scanner reads it: checked against its signature after the last
//! byte, read ahead on big files.

use super::faults;
use crate::index::Sig;
use crate::localfs::sig_of;
use std::path::Path;
use sync_core::{ContentHash, ContentHasher};

/// Hash a file, checking it did not change while being read (its whole signature, ctime
/// included, is the same after the last byte). `None` if it changed — or if what is there
/// now is not the regular file that was seen (it is opened without following a link, and
/// without waiting on a pipe swapped in).
pub fn hash_file(path: &Path, expect: &Sig) -> std::io::Result<Option<ContentHash>> {
    use std::os::unix::fs::OpenOptionsExt;
    faults::check(path, faults::Op::Read)?;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let h = if expect.size >= READ_AHEAD_FROM {
        hash_read_ahead(&mut f)?
    } else {
        hash_reading(&mut f)?
    };
    let after = sig_of(&f.metadata()?);
    if after != *expect || h.len() != expect.size {
        return Ok(None);
    }
    Ok(Some(h.finish()))
}

/// Reads of this size stay in the core's L2 cache between the copy and the hash.
pub(super) const READ_BUF: usize = 256 * 1024;

/// Files from this size on are read by a second thread while the first one hashes.
pub(super) const READ_AHEAD_FROM: u64 = 8 * 1024 * 1024;

pub(super) fn hash_reading(f: &mut std::fs::File) -> std::io::Result<ContentHasher> {
    use std::io::Read;
    let mut h = ContentHasher::new();
    let mut buf = vec![0u8; READ_BUF];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(h);
        }
        h.update(&buf[..n]);
    }
}

/// Hash while a second thread reads ahead: copying a file out of the page cache costs about
/// a quarter of what SHA-256 does, and overlapping the two leaves the hash as the only
/// limit. Four buffers go round between the threads.
pub(super) fn hash_read_ahead(f: &mut std::fs::File) -> std::io::Result<ContentHasher> {
    use std::io::Read;
    use std::sync::mpsc::sync_channel;
    const BUFFERS: usize = 4;
    let (full_tx, full_rx) = sync_channel::<(Vec<u8>, usize)>(BUFFERS);
    let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(BUFFERS);
    for _ in 0..BUFFERS {
        let _ = empty_tx.send(vec![0u8; READ_BUF]);
    }
    std::thread::scope(|s| {
        let reader = s.spawn(move || -> std::io::Result<()> {
            while let Ok(mut buf) = empty_rx.recv() {
                let n = f.read(&mut buf)?;
                if n == 0 || full_tx.send((buf, n)).is_err() {
                    return Ok(());
                }
            }
            Ok(())
        });
        let mut h = ContentHasher::new();
        while let Ok((buf, n)) = full_rx.recv() {
            h.update(&buf[..n]);
            let _ = empty_tx.send(buf);
        }
        drop(empty_tx);
        reader
            .join()
            .map_err(|_| std::io::Error::other("the read-ahead thread panicked"))??;
        Ok(h)
    })
}
