//! `keygate-admin`: table creation and tenant bootstrap.
//!
//! ```text
//! keygate-admin create-table                       # idempotent
//! keygate-admin bootstrap --tenant NAME --email E  # prints {"tenant_id","user_id","email","api_key"}
//! keygate-admin openapi                            # prints the /v1 OpenAPI document
//! keygate-admin tenant-budget --tenant ID --budget JSON   # sets it; prints the budget
//! keygate-admin tenant-budget --tenant ID                 # prints it
//! keygate-admin tenant-budget --tenant ID --clear         # removes it
//! keygate-admin tenant create --name NAME --email E   # as bootstrap
//! keygate-admin tenant list [--limit N] [--after ID]  # one JSON line per tenant
//! keygate-admin tenant suspend --tenant ID            # every credential and sign-in refused
//! keygate-admin tenant resume --tenant ID
//! keygate-admin tenant delete --tenant ID [--force]   # refused while it has live keys
//! ```
//!
//! A tenant budget's JSON is a user budget's: `{"ratelimits"?, "credits"?, "models"?}`.

use serde_json::json;

const USAGE: &str = "usage: keygate-admin create-table | bootstrap --tenant NAME --email EMAIL \
     | openapi | tenant-budget --tenant ID [--budget JSON | --clear] \
     | tenant create --name NAME --email EMAIL | tenant list [--limit N] [--after ID] \
     | tenant suspend|resume --tenant ID | tenant delete --tenant ID [--force]";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(message) = run().await {
        eprintln!("keygate-admin: {message}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The document needs no configuration or store.
    if args.first().map(String::as_str) == Some("openapi") {
        print!("{}", keygate::routes::openapi::document());
        return Ok(());
    }
    let services = keygate::app::state_from_env_or_exit().await;
    match args.first().map(String::as_str) {
        Some("create-table") => {
            if services
                .store
                .table_exists()
                .await
                .map_err(|e| e.to_string())?
            {
                eprintln!("table {} already exists", services.store.table());
            } else {
                services
                    .store
                    .create_table()
                    .await
                    .map_err(|e| e.to_string())?;
                eprintln!("created table {}", services.store.table());
            }
            Ok(())
        }
        Some("bootstrap") => {
            let tenant = flag(&args, "--tenant").unwrap_or("default");
            let email = flag(&args, "--email").ok_or(USAGE)?;
            let made = services
                .bootstrap(tenant, email)
                .await
                .map_err(|e| e.to_string())?;
            let output = json!({
                "tenant_id": made.tenant.id,
                "user_id": made.admin.id,
                "email": made.admin.email,
                "api_key": made.key.secret,
            });
            println!("{output}");
            Ok(())
        }
        Some("tenant-budget") => {
            let tenant = flag(&args, "--tenant").ok_or(USAGE)?;
            if args.iter().any(|a| a == "--clear") {
                services
                    .clear_tenant_budget(tenant)
                    .await
                    .map_err(|e| e.to_string())?;
                eprintln!("removed the budget of tenant {tenant}");
                return Ok(());
            }
            let state = match flag(&args, "--budget") {
                Some(raw) => {
                    let input = serde_json::from_str(raw)
                        .map_err(|e| format!("--budget is not a budget: {e}"))?;
                    services.set_tenant_budget(tenant, &input).await
                }
                None => services.tenant_budget(tenant).await,
            }
            .map_err(|e| e.to_string())?;
            let view = keygate::routes::budgets::BudgetView::of(state, tenant, None);
            println!(
                "{}",
                serde_json::to_string(&view).map_err(|e| e.to_string())?
            );
            Ok(())
        }
        Some("tenant") => tenant_command(&services, &args).await,
        _ => Err(USAGE.to_owned()),
    }
}

/// `keygate-admin tenant ...`: the operator's tenant commands.
async fn tenant_command(services: &keygate::AppState, args: &[String]) -> Result<(), String> {
    let shown = |tenant: &keygate::domain::user::Tenant| {
        json!({
            "tenant_id": tenant.id,
            "name": tenant.name,
            "created_at": tenant.created_at,
            "suspended_at": tenant.suspended_at,
        })
    };
    match args.get(1).map(String::as_str) {
        Some("create") => {
            let name = flag(args, "--name").ok_or(USAGE)?;
            let email = flag(args, "--email").ok_or(USAGE)?;
            let made = services
                .bootstrap(name, email)
                .await
                .map_err(|e| e.to_string())?;
            let output = json!({
                "tenant_id": made.tenant.id,
                "user_id": made.admin.id,
                "email": made.admin.email,
                "api_key": made.key.secret,
            });
            println!("{output}");
            Ok(())
        }
        Some("list") => {
            let limit = match flag(args, "--limit") {
                Some(raw) => raw
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or("--limit must be a whole number from 1 to 1000")?,
                None => 100,
            };
            let (tenants, next) = services
                .list_tenants(limit, flag(args, "--after"))
                .await
                .map_err(|e| e.to_string())?;
            for tenant in &tenants {
                println!("{}", shown(tenant));
            }
            if let Some(next) = next {
                eprintln!("more: --after {next}");
            }
            Ok(())
        }
        Some(command @ ("suspend" | "resume")) => {
            let tenant = flag(args, "--tenant").ok_or(USAGE)?;
            let tenant = if command == "suspend" {
                services.suspend_tenant(tenant).await
            } else {
                services.resume_tenant(tenant).await
            }
            .map_err(|e| e.to_string())?;
            println!("{}", shown(&tenant));
            Ok(())
        }
        Some("delete") => {
            let tenant = flag(args, "--tenant").ok_or(USAGE)?;
            let force = args.iter().any(|a| a == "--force");
            let deleted = services
                .delete_tenant(tenant, force)
                .await
                .map_err(|e| e.to_string())?;
            let output = json!({
                "tenant_id": tenant,
                "deleted": true,
                "live_keys": deleted.live_keys,
                "users_erased": deleted.users_erased,
            });
            println!("{output}");
            Ok(())
        }
        _ => Err(USAGE.to_owned()),
    }
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}
