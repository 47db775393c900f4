//! The local server's notifier: what DynamoDB Streams and the schedule do in AWS, done
//! against the emulator. It reads the table's stream (DynamoDB Streams' JSON API, which the
//! emulator serves on its one endpoint) and hands each batch to the same
//! [`Services::notify_from_stream`] the notifier function runs, then sends what is due.

use std::time::Duration;

use keygate::AppState;
use serde_json::{Value, json};

/// How often the stream is read and due deliveries are swept.
const POLL: Duration = Duration::from_millis(200);

/// Starts delivering in the background when the configuration asks for it
/// (`KEYGATE_LOCAL_DELIVERY=on`, which scripts/run-local sets).
pub fn spawn(services: AppState) {
    if !services.config.local_delivery {
        return;
    }
    let Some(endpoint) = services.config.dynamodb_endpoint.clone() else {
        tracing::warn!("KEYGATE_LOCAL_DELIVERY needs KEYGATE_DYNAMODB_ENDPOINT (the emulator)");
        return;
    };
    tokio::spawn(async move {
        let streams = Streams {
            http: reqwest::Client::new(),
            endpoint,
            region: services.config.region.clone(),
        };
        if let Err(error) = deliver(&services, &streams).await {
            tracing::error!(%error, "local webhook delivery stopped");
        }
    });
}

async fn deliver(services: &AppState, streams: &Streams) -> Result<(), String> {
    let table = services.store.table().to_owned();
    let described = streams
        .call(
            "DynamoDB_20120810.DescribeTable",
            json!({ "TableName": table }),
        )
        .await?;
    let arn = described["Table"]["LatestStreamArn"]
        .as_str()
        .ok_or("the table has no stream (create it with keygate-admin create-table)")?
        .to_owned();
    let stream = streams
        .call(
            "DynamoDBStreams_20120810.DescribeStream",
            json!({ "StreamArn": arn }),
        )
        .await?;
    let mut iterators = Vec::new();
    for shard in stream["StreamDescription"]["Shards"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let shard_id = shard["ShardId"].as_str().unwrap_or_default().to_owned();
        let iterator = streams
            .iterator(
                &arn,
                &shard_id,
                json!({ "ShardIteratorType": "TRIM_HORIZON" }),
            )
            .await?;
        iterators.push((shard_id, iterator));
    }
    loop {
        for (shard_id, iterator) in &mut iterators {
            let page = streams
                .call(
                    "DynamoDBStreams_20120810.GetRecords",
                    json!({ "ShardIterator": iterator, "Limit": 100 }),
                )
                .await?;
            let records = page["Records"].clone();
            let failed = match records.as_array() {
                Some(list) if !list.is_empty() => {
                    services
                        .notify_from_stream(&json!({ "Records": records }))
                        .await
                }
                _ => None,
            };
            *iterator = match failed {
                // As Lambda would: the batch again, from the record that failed.
                Some(sequence_number) => {
                    streams
                        .iterator(
                            &arn,
                            shard_id,
                            json!({ "ShardIteratorType": "AT_SEQUENCE_NUMBER",
                                    "SequenceNumber": sequence_number }),
                        )
                        .await?
                }
                None => page["NextShardIterator"]
                    .as_str()
                    .ok_or("the shard closed")?
                    .to_owned(),
            };
        }
        if let Err(error) = services.deliver_due().await {
            tracing::warn!(%error, "a sweep of due deliveries failed; the next one retries");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The emulator's DynamoDB and DynamoDB Streams JSON APIs.
struct Streams {
    http: reqwest::Client,
    endpoint: String,
    region: String,
}

impl Streams {
    async fn call(&self, target: &str, body: Value) -> Result<Value, String> {
        // The emulator reads the region from the credential scope and checks no signature.
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=local/20260101/{}/dynamodb/aws4_request, \
             SignedHeaders=host, Signature=local",
            self.region
        );
        let response = self
            .http
            .post(&self.endpoint)
            .header("x-amz-target", target)
            .header("content-type", "application/x-amz-json-1.0")
            .header("authorization", authorization)
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| format!("{target}: {e}"))?;
        let status = response.status();
        let answer: Value = response
            .json()
            .await
            .map_err(|e| format!("{target}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{target}: {status} {answer}"));
        }
        Ok(answer)
    }

    async fn iterator(&self, arn: &str, shard_id: &str, start: Value) -> Result<String, String> {
        let mut body = json!({ "StreamArn": arn, "ShardId": shard_id });
        body.as_object_mut()
            .expect("an object")
            .extend(start.as_object().expect("an object").clone());
        let answer = self
            .call("DynamoDBStreams_20120810.GetShardIterator", body)
            .await?;
        answer["ShardIterator"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "GetShardIterator gave no iterator".to_owned())
    }
}
