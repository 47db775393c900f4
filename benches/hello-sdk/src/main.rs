//! The floor with the AWS SDK: lambda_http answering "hello" after building the DynamoDB
//! client exactly as every keygate function does (embedded Amazon roots, no machine scan),
//! and nothing else. What a function costs above this row is keygate's own init.

use std::time::Duration;

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let client = keygate::store::dynamodb_client("us-east-1", None, None, Duration::from_secs(2))?;
    let client = &client;
    lambda_http::run(service_fn(move |_: Request| async move {
        let _ = client;
        Ok::<_, Error>(Response::new(Body::from("hello")))
    }))
    .await
}
