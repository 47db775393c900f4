//! `keygate-local`: serves the whole API on 127.0.0.1 (PORT, default 3000).

use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    keygate::init_tracing();
    let state = keygate::app::authorizer_state_from_env_or_exit().await;
    let port: u16 = match std::env::var("PORT") {
        Ok(raw) => raw
            .parse()
            .map_err(|_| format!("PORT must be a port number, got {raw:?}"))?,
        Err(_) => 3000,
    };
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("keygate listening on http://{}", listener.local_addr()?);
    keygate_cli::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
