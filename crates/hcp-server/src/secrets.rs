//! The instance's master secret: from `HCP_MASTER_KEY` (64 hex digits) or a key file created on first use
//! with owner-only permissions. Every purpose key (personal data, blind index, rating tokens) derives from it.

use std::path::Path;

use anyhow::Context;
use hcp_storage::pii::Secrets;

pub fn load(key_file: &Path) -> anyhow::Result<Secrets> {
    if let Ok(hexkey) = std::env::var("HCP_MASTER_KEY") {
        let bytes = hex::decode(hexkey.trim()).context("HCP_MASTER_KEY 必须是十六进制")?;
        return Ok(Secrets::from_master(&bytes)?);
    }
    if key_file.exists() {
        let text = std::fs::read_to_string(key_file).with_context(|| format!("无法读取密钥文件 {}", key_file.display()))?;
        let bytes = hex::decode(text.trim()).context("密钥文件内容必须是十六进制")?;
        return Ok(Secrets::from_master(&bytes)?);
    }
    let mut master = [0u8; 32];
    rand::fill(&mut master);
    write_private(key_file, &hex::encode(master))?;
    tracing::warn!(path = %key_file.display(), "created a new master key file: back it up, personal data cannot be read without it");
    Ok(Secrets::from_master(&master)?)
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
