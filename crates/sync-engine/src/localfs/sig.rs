//! The signature of a file-system entry (kind, inode, size, modification and status-change
//! times): what the scanner stores for each entry and what the executor checks again before
//! it reads, replaces or trashes one.

use crate::index::Sig;
pub use crate::platform::{ctime_ns, mtime_ns};
use sync_core::{LocalKind, LocalNode};

/// The signature of a file-system entry.
pub fn sig_of(md: &std::fs::Metadata) -> Sig {
    // A folder is the same folder while its inode is: its size and times change with its
    // entries, which are looked at one by one (and the index keeps neither for a folder).
    let folder = md.is_dir();
    Sig {
        folder,
        inode: crate::platform::file_id(md),
        size: if folder { 0 } else { md.len() },
        mtime_ns: if folder { 0 } else { mtime_ns(md) },
        ctime_ns: if folder { 0 } else { ctime_ns(md) },
    }
}

/// The signature matches the node (kind, inode, size, time).
pub fn sig_matches(sig: &Sig, node: &LocalNode) -> bool {
    match &node.kind {
        LocalKind::Folder => sig.folder && sig.inode == node.inode,
        LocalKind::File { size, mtime_ns, .. } => {
            !sig.folder && sig.inode == node.inode && sig.size == *size && sig.mtime_ns == *mtime_ns
        }
    }
}
