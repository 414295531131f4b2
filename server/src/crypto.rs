//! Keys and sealing for sensitive fields (`x-sensitive`).
//!
//! A **master key** (16 bytes, SM4) comes from `FORMWORK_MASTER_KEY`, a key file, or — for a
//! development server — a file generated in the data directory. It never enters the
//! database: it only wraps each tenant's **data key** (SM4-GCM) and **blind-index key**
//! (HMAC-SM3), which live in `tenant_keys` and are cached in memory once unwrapped.
//!
//! The invariant: a sealed value opens only under the same tenant's key *and* the same
//! associated data — tenant, form, record and the value's JSON pointer. A ciphertext copied to
//! another field, record or tenant fails to open; it never opens to wrong data. Losing the
//! master key loses every sensitive value.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::AesGcm;
use anyhow::Context;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sm3::Sm3;
use sm4::Sm4;

use crate::store::keys::{self, WrappedKeys};
use crate::store::Db;

/// SM4 in Galois/Counter Mode with a 96-bit nonce and a 128-bit tag (RFC 8998).
type Sm4Gcm = AesGcm<Sm4, U12>;

/// Prefix of every sealed value: the format, so a later one can be told apart.
const SEALED_V1: &str = "v1:";
const NONCE_LEN: usize = 12;
const KEY_LEN: usize = 16;

/// Where the master key comes from.
#[derive(Clone)]
pub enum KeySource {
    /// The key itself, as 32 hex digits (`FORMWORK_MASTER_KEY`).
    Hex(String),
    /// A file holding the key as 32 hex digits (`--key-file`, `FORMWORK_KEY_FILE`).
    File(PathBuf),
    /// A file holding the key, created with a new random key when missing: the default of a
    /// development server (`DATA_DIR/master.key`).
    Generate(PathBuf),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Hex(_) => f.write_str("Hex(***)"),
            KeySource::File(p) => f.debug_tuple("File").field(p).finish(),
            KeySource::Generate(p) => f.debug_tuple("Generate").field(p).finish(),
        }
    }
}

/// Why a sealed value did not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Not a sealed value of a format this server knows.
    #[error("not a sealed value")]
    Malformed,
    /// Wrong key or associated data, or the bytes were changed: tampering or a misplaced copy.
    #[error("sealed value failed authentication")]
    Forged,
}

/// The master key: wraps and unwraps tenant keys, nothing else.
pub struct MasterKey(Sm4Gcm);

impl MasterKey {
    /// Reads (or, for [`KeySource::Generate`], creates) the master key.
    pub fn load(source: &KeySource) -> anyhow::Result<MasterKey> {
        let key = match source {
            KeySource::Hex(hex) => parse_key(hex).context("FORMWORK_MASTER_KEY")?,
            KeySource::File(path) => read_key_file(path)?,
            KeySource::Generate(path) => match read_key_file(path) {
                Ok(k) => k,
                Err(_) if !path.exists() => generate_key_file(path)?,
                Err(e) => return Err(e),
            },
        };
        Ok(MasterKey(cipher(&key)))
    }

    /// A master key from raw bytes (tests).
    pub fn from_bytes(key: [u8; KEY_LEN]) -> MasterKey {
        MasterKey(cipher(&key))
    }

    fn wrap(&self, tenant: &str, role: &str, key: &[u8; KEY_LEN]) -> String {
        seal_bytes(
            &self.0,
            &aad(&["formwork/tenant-key/v1", tenant, role]),
            key,
        )
    }

    fn unwrap(&self, tenant: &str, role: &str, wrapped: &str) -> anyhow::Result<[u8; KEY_LEN]> {
        let bytes = open_bytes(
            &self.0,
            &aad(&["formwork/tenant-key/v1", tenant, role]),
            wrapped,
        )
        .with_context(|| {
            format!(
                "the master key does not open the {role} key of tenant {tenant}: is this the \
                     master key this database was started with (FORMWORK_MASTER_KEY, --key-file)?"
            )
        })?;
        bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("the {role} key of tenant {tenant} has the wrong length"))
    }
}

/// One tenant's keys, unwrapped.
pub struct TenantKeys {
    data: Sm4Gcm,
    index: [u8; KEY_LEN],
}

impl TenantKeys {
    /// Encrypts `plain` bound to `aad`: `v1:` and base64 of nonce, ciphertext and tag.
    pub fn seal(&self, aad: &[u8], plain: &str) -> String {
        seal_bytes(&self.data, aad, plain.as_bytes())
    }

    /// Decrypts what [`TenantKeys::seal`] made with the same `aad`.
    pub fn open(&self, aad: &[u8], sealed: &str) -> Result<String, OpenError> {
        let bytes = open_bytes(&self.data, aad, sealed)?;
        String::from_utf8(bytes).map_err(|_| OpenError::Malformed)
    }

    /// The blind index of `value` (already normalised) in the field `path`: HMAC-SM3 under the
    /// tenant's index key, hex. Equal values of one field give equal indexes; without the key
    /// an index tells nothing about the value.
    pub fn blind_index(&self, path: &str, value: &str) -> String {
        // `new_from_slice` accepts any key length for HMAC; 16 bytes always fit.
        let mut mac = match <Hmac<Sm3> as Mac>::new_from_slice(&self.index) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(&aad(&["formwork/blind-index/v1", path, value]));
        hex::encode(mac.finalize().into_bytes())
    }
}

/// The signature header of a webhook delivery: `t=<unix seconds>,sha256=<hex>,sm3=<hex>`,
/// HMAC-SHA256 and HMAC-SM3 under the webhook's secret over `<t>.<body>`. A receiver checks
/// either one and rejects an old `t` (a replay).
pub fn webhook_signature(secret: &str, timestamp: i64, body: &str) -> String {
    let signed = format!("{timestamp}.{body}");
    let sha = {
        let mut mac = match <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(signed.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    };
    let sm3 = {
        let mut mac = match <Hmac<Sm3> as Mac>::new_from_slice(secret.as_bytes()) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(signed.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    };
    format!("t={timestamp},sha256={sha},sm3={sm3}")
}

/// The associated data of a webhook's sealed secret.
pub fn webhook_aad(tenant: &str, id: &str) -> Vec<u8> {
    aad(&["formwork/webhook-secret/v1", tenant, id])
}

/// The associated data of an import's error workbook (which may hold sensitive values).
pub fn import_aad(tenant: &str, id: &str) -> Vec<u8> {
    aad(&["formwork/import-errors/v1", tenant, id])
}

/// The associated data of a record's sensitive value: binds it to its place.
pub fn value_aad(tenant: &str, form: &str, record: &str, pointer: &str) -> Vec<u8> {
    aad(&["formwork/value/v1", tenant, form, record, pointer])
}

/// The master key and every tenant's keys met so far.
pub struct Keyring {
    master: MasterKey,
    tenants: RwLock<HashMap<String, Arc<TenantKeys>>>,
}

impl Keyring {
    /// A keyring around the master key.
    pub fn new(master: MasterKey) -> Keyring {
        Keyring {
            master,
            tenants: RwLock::new(HashMap::new()),
        }
    }

    /// Fails when the database holds tenant keys that the master key cannot open: started
    /// with the wrong key, the server would otherwise fail on every sensitive value.
    pub async fn check(&self, db: &Db) -> anyhow::Result<()> {
        if let Some(w) = keys::any(db).await? {
            self.unwrap(&w)?;
        }
        Ok(())
    }

    /// The tenant's keys, created on first use. Never call it while holding a write
    /// transaction: creating keys takes one (and on SQLite there is one writer at a time).
    pub async fn tenant(&self, db: &Db, tenant: &str) -> anyhow::Result<Arc<TenantKeys>> {
        if let Some(k) = self.cached(tenant) {
            return Ok(k);
        }
        let wrapped = match keys::fetch(db, tenant).await? {
            Some(w) => w,
            None => {
                let fresh = WrappedKeys {
                    tenant: tenant.to_string(),
                    data_key: self.master.wrap(tenant, "data", &random_key()),
                    index_key: self.master.wrap(tenant, "index", &random_key()),
                };
                let mut tx = db.begin().await?;
                keys::insert_if_absent(&mut tx, &fresh).await?;
                tx.commit().await?;
                // Another server may have won the race: read what is stored.
                keys::fetch(db, tenant)
                    .await?
                    .with_context(|| format!("keys of tenant {tenant} were not stored"))?
            }
        };
        let k = Arc::new(self.unwrap(&wrapped)?);
        self.tenants
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tenant.to_string(), k.clone());
        Ok(k)
    }

    fn cached(&self, tenant: &str) -> Option<Arc<TenantKeys>> {
        self.tenants
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(tenant)
            .cloned()
    }

    fn unwrap(&self, w: &WrappedKeys) -> anyhow::Result<TenantKeys> {
        Ok(TenantKeys {
            data: cipher(&self.master.unwrap(&w.tenant, "data", &w.data_key)?),
            index: self.master.unwrap(&w.tenant, "index", &w.index_key)?,
        })
    }
}

fn cipher(key: &[u8; KEY_LEN]) -> Sm4Gcm {
    Sm4Gcm::new(key.into())
}

fn random_key() -> [u8; KEY_LEN] {
    let mut k = [0u8; KEY_LEN];
    OsRng.fill_bytes(&mut k);
    k
}

/// Length-prefixed parts, so that no two different lists give the same bytes.
fn aad(parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(&(p.len() as u32).to_be_bytes());
        out.extend_from_slice(p.as_bytes());
    }
    out
}

fn seal_bytes(c: &Sm4Gcm, aad: &[u8], plain: &[u8]) -> String {
    // A random 96-bit nonce per value: safe for far more values than one tenant writes
    // (the GCM bound for random nonces is 2^32 encryptions per key).
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let ct = match c.encrypt(&nonce.into(), Payload { msg: plain, aad }) {
        Ok(ct) => ct,
        // GCM refuses only messages beyond 64 GiB.
        Err(_) => unreachable!("SM4-GCM encrypts any record value"),
    };
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    format!("{SEALED_V1}{}", BASE64.encode(out))
}

fn open_bytes(c: &Sm4Gcm, aad: &[u8], sealed: &str) -> Result<Vec<u8>, OpenError> {
    let b64 = sealed.strip_prefix(SEALED_V1).ok_or(OpenError::Malformed)?;
    let bytes = BASE64.decode(b64).map_err(|_| OpenError::Malformed)?;
    if bytes.len() < NONCE_LEN + 16 {
        return Err(OpenError::Malformed);
    }
    let (nonce, ct) = bytes.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| OpenError::Malformed)?;
    c.decrypt(&nonce.into(), Payload { msg: ct, aad })
        .map_err(|_| OpenError::Forged)
}

fn parse_key(hex_text: &str) -> anyhow::Result<[u8; KEY_LEN]> {
    let bytes = hex::decode(hex_text.trim())
        .map_err(|_| anyhow::anyhow!("the master key must be {} hex digits", KEY_LEN * 2))?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("the master key must be {} hex digits", KEY_LEN * 2))
}

fn read_key_file(path: &Path) -> anyhow::Result<[u8; KEY_LEN]> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the master key file {}", path.display()))?;
    warn_if_readable_by_others(path);
    parse_key(&text).with_context(|| format!("master key file {}", path.display()))
}

fn generate_key_file(path: &Path) -> anyhow::Result<[u8; KEY_LEN]> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let key = random_key();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(path) {
        Ok(mut f) => {
            use std::io::Write;
            writeln!(f, "{}", hex::encode(key))
                .and_then(|_| f.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))?;
            tracing::warn!(
                path = %path.display(),
                "generated a new master key for sensitive fields; a production server should be given its own \
                 (FORMWORK_MASTER_KEY or --key-file), and it must be backed up: without it the sensitive data is lost"
            );
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key_file(path),
        Err(e) => {
            Err(e).with_context(|| format!("cannot create the master key file {}", path.display()))
        }
    }
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(path = %path.display(), "the master key file is readable by other users; chmod 600 it");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TenantKeys {
        TenantKeys {
            data: cipher(&[7; KEY_LEN]),
            index: [9; KEY_LEN],
        }
    }

    #[test]
    fn sm4_gcm_matches_the_rfc_8998_test_vector() {
        let key: [u8; 16] = hex::decode("0123456789ABCDEFFEDCBA9876543210")
            .unwrap()
            .try_into()
            .unwrap();
        let nonce: [u8; 12] = hex::decode("00001234567800000000ABCD")
            .unwrap()
            .try_into()
            .unwrap();
        let aad = hex::decode("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2").unwrap();
        let plain = hex::decode(
            "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD\
             EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
        )
        .unwrap();
        let out = cipher(&key)
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: &plain,
                    aad: &aad,
                },
            )
            .unwrap();
        assert_eq!(
            hex::encode_upper(out),
            "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735\
             D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D\
             83DE3541E4C2B58177E065A9BF7B62EC"
        );
    }

    #[test]
    fn sealed_values_open_only_in_their_place() {
        let k = keys();
        let here = value_aad("t", "f", "r1", "/id_number");
        let sealed = k.seal(&here, "11010519491231002X");
        assert!(sealed.starts_with("v1:") && !sealed.contains("1101051949"));
        assert_eq!(k.open(&here, &sealed).unwrap(), "11010519491231002X");
        for elsewhere in [
            value_aad("t", "f", "r2", "/id_number"),
            value_aad("t", "f", "r1", "/phone"),
            value_aad("u", "f", "r1", "/id_number"),
        ] {
            assert!(matches!(
                k.open(&elsewhere, &sealed),
                Err(OpenError::Forged)
            ));
        }
        let mut bytes = BASE64.decode(&sealed[3..]).unwrap();
        bytes[14] ^= 1;
        let flipped = format!("v1:{}", BASE64.encode(bytes));
        assert!(matches!(k.open(&here, &flipped), Err(OpenError::Forged)));
        assert!(matches!(k.open(&here, "plain"), Err(OpenError::Malformed)));
        assert_ne!(
            sealed,
            k.seal(&here, "11010519491231002X"),
            "fresh nonce each time"
        );
    }

    #[test]
    fn blind_indexes_are_keyed_and_per_field() {
        let k = keys();
        let a = k.blind_index("id_number", "11010519491231002X");
        assert_eq!(a, k.blind_index("id_number", "11010519491231002X"));
        assert_eq!(a.len(), 64);
        assert_ne!(a, k.blind_index("phone", "11010519491231002X"));
        let other = TenantKeys {
            data: cipher(&[7; KEY_LEN]),
            index: [8; KEY_LEN],
        };
        assert_ne!(a, other.blind_index("id_number", "11010519491231002X"));
    }

    #[test]
    fn tenant_keys_are_wrapped_for_their_tenant_only() {
        let m = MasterKey::from_bytes([1; KEY_LEN]);
        let w = m.wrap("t1", "data", &[5; KEY_LEN]);
        assert_eq!(m.unwrap("t1", "data", &w).unwrap(), [5; KEY_LEN]);
        assert!(m.unwrap("t2", "data", &w).is_err());
        assert!(m.unwrap("t1", "index", &w).is_err());
        assert!(MasterKey::from_bytes([2; KEY_LEN])
            .unwrap("t1", "data", &w)
            .is_err());
    }

    #[test]
    fn a_generated_key_file_is_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/master.key");
        let a = generate_key_file(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(MasterKey::load(&KeySource::Generate(path.clone())).is_ok());
        assert_eq!(read_key_file(&path).unwrap(), a);
        assert!(parse_key("abc").is_err());
        assert!(parse_key(&"ab".repeat(16)).is_ok());
    }
}
