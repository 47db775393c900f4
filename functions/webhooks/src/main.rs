#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    keygate::app::run_function(keygate::routes::webhooks).await
}
