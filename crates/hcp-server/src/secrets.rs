//! The instance's master secrets: from `HCP_MASTER_KEY` (64 hex digits; after rotations several, comma-separated,
//! newest first) or a key file created on first use with owner-only permissions (one master per line, newest
//! first). Every purpose key (personal data, blind index, rating tokens) derives from them.

use std::path::Path;

use anyhow::Context;
use hcp_storage::pii::Secrets;

pub fn load(key_file: &Path) -> anyhow::Result<Secrets> {
    if let Ok(hexkey) = std::env::var("HCP_MASTER_KEY") {
        return Ok(Secrets::from_masters(&parse(&hexkey.replace(',', "\n")).context("HCP_MASTER_KEY 必须是十六进制")?)?);
    }
    if key_file.exists() {
        return Ok(Secrets::from_masters(&read(key_file)?)?);
    }
    let mut master = [0u8; 32];
    rand::fill(&mut master);
    write_private(key_file, &hex::encode(master))?;
    tracing::warn!(path = %key_file.display(), "created a new master key file: back it up, personal data cannot be read without it");
    Ok(Secrets::from_master(&master)?)
}

fn parse(text: &str) -> anyhow::Result<Vec<Vec<u8>>> {
    let masters: Vec<Vec<u8>> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(hex::decode).collect::<Result<_, _>>()?;
    anyhow::ensure!(!masters.is_empty(), "没有主密钥");
    Ok(masters)
}

fn read(key_file: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let text = std::fs::read_to_string(key_file).with_context(|| format!("无法读取密钥文件 {}", key_file.display()))?;
    parse(&text).context("密钥文件每行须为一个十六进制主密钥")
}

/// Puts a new master key first in the key file (keeping the earlier ones, which still decrypt what is not yet
/// rewritten and from which the blind index and token keys come) and returns the secrets with it. The file is
/// replaced atomically; the previous version is kept beside it as `.previous`.
pub fn rotate(key_file: &Path) -> anyhow::Result<Secrets> {
    anyhow::ensure!(std::env::var("HCP_MASTER_KEY").is_err(), "密钥来自环境变量 HCP_MASTER_KEY：请在密钥文件上轮换，或自行更新该变量");
    let mut masters = read(key_file)?;
    let mut new = [0u8; 32];
    rand::fill(&mut new);
    masters.insert(0, new.to_vec());
    let text = masters.iter().map(hex::encode).collect::<Vec<_>>().join("\n");
    let tmp = key_file.with_extension("rotating");
    let _ = std::fs::remove_file(&tmp);
    write_private(&tmp, &text)?;
    let previous = key_file.with_extension("previous");
    let _ = std::fs::remove_file(&previous);
    std::fs::copy(key_file, &previous).with_context(|| format!("无法备份密钥文件 {}", key_file.display()))?;
    std::fs::rename(&tmp, key_file).with_context(|| format!("无法替换密钥文件 {}", key_file.display()))?;
    Ok(Secrets::from_masters(&masters)?)
}

/// Held while a rotation runs: a second `keys rotate` at the same time is refused instead of racing for the file.
pub struct RotationLock(std::path::PathBuf);

impl RotationLock {
    pub fn take(key_file: &Path) -> anyhow::Result<Self> {
        let path = key_file.with_extension("rotation-lock");
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("另一个密钥轮换正在进行（{} 存在；若确认没有，删除它后重试）", path.display()))?;
        Ok(RotationLock(path))
    }
}

impl Drop for RotationLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).with_context(|| format!("无法创建密钥文件 {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}
