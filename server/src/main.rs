use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("FORMWORK_LOG")
                .unwrap_or_else(|_| EnvFilter::new("warn,formwork=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match formwork::cli::run(formwork::cli::Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
