//! The metering benchmark (run by scripts/bench-metering, never as a test): against the
//! emulator through the local server, the median latency of a metered request (a key with a
//! rate limit and credits) against an unmetered one on the same route, the DynamoDB
//! operations each makes (counted at a proxy in front of the emulator), and what the added
//! operations cost per million metered requests at DynamoDB on-demand prices.

use std::collections::HashMap;
use std::time::Instant;

use keygate_tests::{StatusCode, TestApp, spawn_app_with_faults};
use serde_json::json;

/// A route the shipped policy prices at 1 (its own work: one GetItem and one Query).
const ROUTE: &str = "/v1/chats";
/// DynamoDB on-demand, us-east-1 (2024-11 prices): per million write / read request units.
const WRITE_PRICE_PER_MILLION: f64 = 0.625;
const READ_PRICE_PER_MILLION: f64 = 0.125;

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    samples[samples.len() / 2]
}

async fn timed(app: &TestApp, key: &str) -> f64 {
    let start = Instant::now();
    let reply = app.call("GET", ROUTE, Some(key), None).await;
    let elapsed = start.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    elapsed
}

/// Operations by name.
fn counts(seen: Vec<(String, serde_json::Value)>) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for (operation, _) in seen {
        *counts.entry(operation).or_default() += 1;
    }
    counts
}

fn per_request(counts: &HashMap<String, usize>, requests: usize) -> Vec<(String, f64)> {
    let mut rows: Vec<(String, f64)> = counts
        .iter()
        .map(|(op, n)| (op.clone(), *n as f64 / requests as f64))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(300);
    let (app, faults) = spawn_app_with_faults().await;
    let (_, unmetered) = app
        .new_key(&app.admin_key, json!({"name": "plain", "scopes": ["chat"]}))
        .await;
    let (_, metered) = app
        .new_key(
            &app.admin_key,
            json!({"name": "metered", "scopes": ["chat"],
                   "ratelimits": [{"name": "requests", "limit": 1_000_000_000, "window_secs": 86400}],
                   "credits": {"remaining": 1_000_000_000_000i64}}),
        )
        .await;
    for _ in 0..20 {
        timed(&app, &unmetered).await;
        timed(&app, &metered).await;
    }
    // Latency: interleaved, so both see the same machine load.
    let (mut plain_ms, mut metered_ms) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        plain_ms.push(timed(&app, &unmetered).await);
        metered_ms.push(timed(&app, &metered).await);
    }
    // Operations: each kind of request alone, counted at the proxy.
    faults.take_seen();
    for _ in 0..runs {
        timed(&app, &unmetered).await;
    }
    let plain_ops = counts(faults.take_seen());
    for _ in 0..runs {
        timed(&app, &metered).await;
    }
    let metered_ops = counts(faults.take_seen());
    let (plain, meter) = (median(plain_ms), median(metered_ms));
    println!("route: GET {ROUTE}, {runs} requests of each kind, interleaved");
    println!(
        "median latency: unmetered {plain:.2} ms, metered {meter:.2} ms, ratio {:.2}",
        meter / plain
    );
    println!("DynamoDB operations per request (at the proxy):");
    println!("  unmetered: {:?}", per_request(&plain_ops, runs));
    println!("  metered:   {:?}", per_request(&metered_ops, runs));
    let count = |ops: &HashMap<String, usize>, name: &str| *ops.get(name).unwrap_or(&0) as f64;
    let writes = |ops: &HashMap<String, usize>| {
        // A transaction costs 2 write units per item; a roll moving an hour's totals has 2.
        count(ops, "UpdateItem") + count(ops, "PutItem") + 4.0 * count(ops, "TransactWriteItems")
    };
    let reads = |ops: &HashMap<String, usize>| {
        count(ops, "GetItem") * 0.5 + count(ops, "Query") * 0.5 + count(ops, "BatchGetItem")
    };
    let added_writes = (writes(&metered_ops) - writes(&plain_ops)) / runs as f64;
    let added_reads = ((reads(&metered_ops) - reads(&plain_ops)) / runs as f64).max(0.0);
    let cost = added_writes * WRITE_PRICE_PER_MILLION + added_reads * READ_PRICE_PER_MILLION;
    println!(
        "added per metered request: {added_writes:.3} write units, {added_reads:.3} read units \
         (meter item under 1 KB: 1 unit per UpdateItem)"
    );
    println!("added cost per million metered requests: ${cost:.3} (on-demand, us-east-1)");
}
