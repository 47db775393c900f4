//! The shared-budget load benchmark (run by scripts/bench-budgets, never as a test): many
//! concurrent clients for a while across 50 keys that share the budgets above them, through
//! the local server against the emulator. Prints requests/s, p50/p99 latency, and whether
//! every budget admitted exactly its limit (it must: a budget that admits one more is a
//! defect).
//!
//! The levels are the three a request is charged at: each key's own budget, its user's
//! budget (`PUT /v1/users/{id}/budget`) and the tenant's (`keygate-admin tenant-budget`).
//! A user holds at most 10 active keys, so the 50 keys are 5 users' 10 each: every key
//! shares its user's budget with 9 others, and all 50 share the tenant's.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use keygate::domain::owner_budget::{BudgetOwner, OwnerBudgetInput};
use keygate_tests::{StatusCode, TestApp, spawn_app};
use serde_json::{Value, json};

const ROUTE: &str = "/v1/chats";
const DAY: i64 = 86_400;
const USERS: usize = 5;
const KEYS_PER_USER: usize = 10;
// Each level alone would admit more than the one above it lets through (10 × 8 = 80 > 60
// per user, 5 × 60 = 300 > 240): the tenant budget binds, at a demand the emulator can
// serve in the run (it serialises requests: a few dozen chain admissions a second).
const TENANT_LIMIT: usize = 240;
const USER_LIMIT: usize = 60;
const KEY_LIMIT: usize = 8;

fn budget(limit: usize) -> Value {
    json!([{"name": "requests", "limit": limit, "window_secs": DAY}])
}

async fn window_count(app: &TestApp, meter_id: &str) -> usize {
    let meter = app.services.store.read_meter(meter_id).await.unwrap();
    meter
        .windows
        .get("requests")
        .map_or(0, |(_, count)| *count as usize)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// One key's requests: admitted, refused with 429, anything else.
#[derive(Default)]
struct Tally {
    admitted: AtomicUsize,
    refused: AtomicUsize,
    other: AtomicUsize,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let clients: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    // Not across a day's boundary: every window must be the same one throughout.
    let now = keygate::domain::clock::now_epoch();
    if DAY - now.rem_euclid(DAY) < seconds as i64 + 120 {
        tokio::time::sleep(Duration::from_secs((DAY - now.rem_euclid(DAY) + 1) as u64)).await;
    }
    let app = Arc::new(spawn_app().await);
    let tenant_budget: OwnerBudgetInput =
        serde_json::from_value(json!({"ratelimits": budget(TENANT_LIMIT)})).unwrap();
    app.services
        .set_tenant_budget(&app.tenant_id, &tenant_budget)
        .await
        .expect("the operator sets the tenant's budget");
    let mut users = Vec::new();
    let mut keys = Vec::new();
    for u in 0..USERS {
        let person = app
            .call(
                "POST",
                "/v1/users",
                Some(&app.admin_key),
                Some(json!({"email": format!("person{u}@example.com")})),
            )
            .await;
        assert_eq!(person.status, StatusCode::CREATED, "{}", person.body);
        let user_id = person.body["id"].as_str().unwrap().to_owned();
        let set = app
            .call(
                "PUT",
                &format!("/v1/users/{user_id}/budget"),
                Some(&app.admin_key),
                Some(json!({"ratelimits": budget(USER_LIMIT)})),
            )
            .await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.body);
        for k in 0..KEYS_PER_USER {
            let created = app
                .call(
                    "POST",
                    &format!("/v1/users/{user_id}/api-keys"),
                    Some(&app.admin_key),
                    Some(json!({"name": format!("key {u}.{k}"), "scopes": ["chat"],
                                "ratelimits": budget(KEY_LIMIT)})),
                )
                .await;
            assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
            let field = |name: &str| created.body[name].as_str().unwrap().to_owned();
            keys.push((u, field("id"), field("key")));
        }
        users.push(user_id);
    }
    let tallies: Arc<Vec<Tally>> = Arc::new(keys.iter().map(|_| Tally::default()).collect());
    let secrets: Arc<Vec<String>> = Arc::new(keys.iter().map(|k| k.2.clone()).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (app, tallies, secrets, next) =
                (app.clone(), tallies.clone(), secrets.clone(), next.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < until {
                    let index = next.fetch_add(1, Ordering::Relaxed) % secrets.len();
                    let sent = Instant::now();
                    let reply = app.call("GET", ROUTE, Some(&secrets[index]), None).await;
                    latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                    let tally = &tallies[index];
                    match reply.status {
                        StatusCode::OK => tally.admitted.fetch_add(1, Ordering::Relaxed),
                        StatusCode::TOO_MANY_REQUESTS => {
                            tally.refused.fetch_add(1, Ordering::Relaxed)
                        }
                        _ => tally.other.fetch_add(1, Ordering::Relaxed),
                    };
                }
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<f64> = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());

    let count = |u: Option<usize>, f: fn(&Tally) -> &AtomicUsize| {
        keys.iter()
            .zip(tallies.iter())
            .filter(|((owner, _, _), _)| u.is_none_or(|u| *owner == u))
            .map(|(_, t)| f(t).load(Ordering::Relaxed))
            .sum::<usize>()
    };
    fn admitted(t: &Tally) -> &AtomicUsize {
        &t.admitted
    }
    let total = count(None, admitted);
    let refused = count(None, |t| &t.refused);
    let other = count(None, |t| &t.other);
    println!(
        "{clients} clients for {elapsed:.1} s over {} keys: {} requests, {:.0} requests/s; \
         latency p50 {:.1} ms, p99 {:.1} ms",
        keys.len(),
        latencies.len(),
        latencies.len() as f64 / elapsed,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
    );
    println!("admitted {total}, refused (429) {refused}, other {other}");

    // Exact: the tenant budget binds, so once more was asked than it holds it admitted
    // exactly its limit; each meter counts exactly what its credentials were admitted.
    assert!(
        total + refused > TENANT_LIMIT,
        "the run asked for only {} requests: too few to reach the tenant's limit",
        total + refused
    );
    let mut exact = other == 0 && total == TENANT_LIMIT;
    let tenant_meter = BudgetOwner::Tenant {
        tenant_id: &app.tenant_id,
    }
    .meter_id();
    let tenant_count = window_count(&app, &tenant_meter).await;
    println!("tenant: limit {TENANT_LIMIT}, admitted {total}, its meter {tenant_count}");
    exact &= tenant_count == total;
    for (u, user_id) in users.iter().enumerate() {
        let by_user = count(Some(u), admitted);
        let user_meter = BudgetOwner::User {
            tenant_id: &app.tenant_id,
            user_id,
        }
        .meter_id();
        let meter = window_count(&app, &user_meter).await;
        println!("user {u}: limit {USER_LIMIT}, admitted {by_user}, its meter {meter}");
        exact &= by_user <= USER_LIMIT && meter == by_user;
    }
    let mut keys_exact = true;
    for ((_, id, _), tally) in keys.iter().zip(tallies.iter()) {
        let by_key = tally.admitted.load(Ordering::Relaxed);
        keys_exact &= by_key <= KEY_LIMIT && window_count(&app, id).await == by_key;
    }
    println!("every key: admitted ≤ {KEY_LIMIT} and equal to its meter: {keys_exact}");
    exact &= keys_exact;
    println!("every budget exact: {}", if exact { "yes" } else { "NO" });
    if !exact {
        std::process::exit(1);
    }
}
