//! Where the bytes of attachments live, behind [`Storage`] so that an S3-compatible object
//! store can take the place of the local filesystem without touching the handlers.
//!
//! The one invariant: a file is readable under its final name only once it is complete.
//! [`LocalStorage`] writes to a temporary name beside it, syncs, and renames — a crash leaves
//! at worst a `.part` file, never a half file under a name the database points at.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use tokio::io::AsyncWriteExt;

/// The id of an attachment: a UUID, parsed at the edge so it is safe as a file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AttachmentId(uuid::Uuid);

impl AttachmentId {
    /// A new, time-ordered id.
    pub fn new() -> Self {
        AttachmentId(uuid::Uuid::now_v7())
    }

    /// Reads an id; None for anything that is not a UUID.
    pub fn parse(s: &str) -> Option<Self> {
        uuid::Uuid::try_parse(s).ok().map(AttachmentId)
    }
}

impl Default for AttachmentId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for AttachmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// Keeps attachment bytes by tenant and id. Implementations must make [`Storage::put`]
/// atomic: `get` sees the whole file or none of it.
#[async_trait::async_trait]
pub trait Storage: Send + Sync {
    /// Stores a complete file.
    async fn put(&self, tenant: &str, id: AttachmentId, bytes: &[u8]) -> anyhow::Result<()>;
    /// The file, or None when there is none.
    async fn get(&self, tenant: &str, id: AttachmentId) -> anyhow::Result<Option<Vec<u8>>>;
    /// Removes the file; removing a missing file is not an error.
    async fn delete(&self, tenant: &str, id: AttachmentId) -> anyhow::Result<()>;
}

/// Files under `ROOT/<tenant>/<shard>/<id>`, where ROOT is `DATA_DIR/attachments` and the
/// shard is the id's last two hex digits (random in a UUID v7, whose first digits are a
/// timestamp and would put years of files in one folder).
pub struct LocalStorage {
    root: PathBuf,
}

impl LocalStorage {
    /// Storage under `data_dir/attachments`, created if missing.
    pub fn new(data_dir: &Path) -> anyhow::Result<LocalStorage> {
        let root = data_dir.join("attachments");
        std::fs::create_dir_all(&root).with_context(|| {
            format!("cannot create the attachment directory {}", root.display())
        })?;
        Ok(LocalStorage { root })
    }

    /// The final path of a file.
    fn path(&self, tenant: &str, id: AttachmentId) -> anyhow::Result<PathBuf> {
        // Tenant keys are codes already; refusing anything else keeps paths inside the root.
        anyhow::ensure!(
            form_runtime::key::is_code(tenant),
            "tenant key {tenant:?} is not a code"
        );
        let id = id.to_string();
        let shard = &id[id.len() - 2..];
        Ok(self.root.join(tenant).join(shard).join(id))
    }
}

#[async_trait::async_trait]
impl Storage for LocalStorage {
    async fn put(&self, tenant: &str, id: AttachmentId, bytes: &[u8]) -> anyhow::Result<()> {
        let path = self.path(tenant, id)?;
        let dir = path.parent().context("attachment path has a folder")?;
        tokio::fs::create_dir_all(dir)
            .await
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let part = dir.join(format!(".{id}.part"));
        let written = async {
            let mut f = tokio::fs::File::create(&part).await?;
            f.write_all(bytes).await?;
            f.sync_all().await?;
            drop(f);
            tokio::fs::rename(&part, &path).await
        }
        .await;
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(e).with_context(|| format!("cannot write {}", path.display()));
        }
        Ok(())
    }

    async fn get(&self, tenant: &str, id: AttachmentId) -> anyhow::Result<Option<Vec<u8>>> {
        let path = self.path(tenant, id)?;
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    async fn delete(&self, tenant: &str, id: AttachmentId) -> anyhow::Result<()> {
        let path = self.path(tenant, id)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_round_trip_and_leave_no_part_file() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStorage::new(dir.path()).unwrap();
        let id = AttachmentId::new();
        s.put("redcross", id, b"%PDF-1.4").await.unwrap();
        assert_eq!(
            s.get("redcross", id).await.unwrap().as_deref(),
            Some(&b"%PDF-1.4"[..])
        );
        assert_eq!(
            s.get("volunteer", id).await.unwrap(),
            None,
            "tenants do not share files"
        );
        let folder = s.path("redcross", id).unwrap();
        let names: Vec<_> = std::fs::read_dir(folder.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from(id.to_string())]);
        s.delete("redcross", id).await.unwrap();
        s.delete("redcross", id).await.unwrap();
        assert_eq!(s.get("redcross", id).await.unwrap(), None);
        assert!(
            s.get("../etc", id).await.is_err(),
            "no path outside the root"
        );
        assert!(AttachmentId::parse("../../passwd").is_none());
    }
}
