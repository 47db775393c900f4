//! The naive yardstick: lambda_http answering "hello", with a DynamoDB client on rustls/ring
//! and the SDK's default trust store (the machine's roots, loaded at init), and nothing else.
//! The keygate functions must start well below it and near `hello-pure`.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::tls;
use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("a", "b", None, None, "static"))
        .http_client(http_client)
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let client = &client;
    lambda_http::run(service_fn(move |_: Request| async move {
        let _ = client;
        Ok::<_, Error>(Response::new(Body::from("hello")))
    }))
    .await
}
