//! The cold-start floor: lambda_http answering "hello" and nothing else (no AWS SDK), built
//! with the workspace's release profile. Every function's init is measured against it.

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_: Request| async {
        Ok::<_, Error>(Response::new(Body::from("hello")))
    }))
    .await
}
