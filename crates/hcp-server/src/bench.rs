//! `haochaping bench`: ingestion through HTTP against a server in a child process, statistics latency over a
//! large store, and the server's peak memory.

#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// sqlite or postgres
    #[arg(long, default_value = "sqlite")]
    pub engine: String,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("bench for {} is written in the next step", args.engine)
}
