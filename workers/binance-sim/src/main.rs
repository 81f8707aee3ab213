//! `binance-sim`: serve the simulated exchange on a port, for manual runs and benchmarks.

use clap::Parser;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9400")]
    addr: std::net::SocketAddr,
    #[arg(long, default_value = "BTCUSDT,ETHUSDT", value_delimiter = ',')]
    symbols: Vec<String>,
    #[arg(long, default_value_t = binance_sim::limits::WEIGHT_LIMIT_1M)]
    weight_limit: u32,
    #[arg(long, default_value_t = 250)]
    trade_step_ms: i64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().init();
    let a = Args::parse();
    let config = binance_sim::Config {
        symbols: a.symbols,
        weight_limit: a.weight_limit,
        trade_step_ms: a.trade_step_ms,
        ..binance_sim::Config::default()
    };
    let (addr, _state, task) = binance_sim::serve(a.addr, config).await?;
    tracing::info!(%addr, "binance-sim serving");
    task.await?;
    Ok(())
}
