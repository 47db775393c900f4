//! Datasets: `add-dataset`, `delete-dataset` (also `delete-datasets`), `assign-dataset`,
//! `deassign-dataset`, `update-permission-dataset` and `get-datasets-with-permissions`.
//! A dataset is named by its full name (`user_custom_<USERID>_<NAME>_content`) or, for the
//! caller's own, by its short name.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::envelope::{Envelope, missing_is_invalid, renamed};
use super::request::{SageRequest, required};
use super::views;
use crate::services::Services;

/// One answer lists at most this many datasets (with every grantee, still well under
/// Lambda's 6 MB response limit); keygate's `/v1/datasets` pages through any more.
pub const MAX_DATASETS_LISTED: usize = 500;

#[derive(Deserialize)]
struct AddBody {
    dataset: Option<String>,
    classification: Option<String>,
}

/// Creates a dataset. `classification` is null, `Unclassified` or `CUI` (any case); `CUI`
/// means the same as a `CUI-` name prefix.
pub async fn add_dataset(State(services): State<Services>, request: SageRequest) -> Envelope {
    let result = async {
        let caller = request.caller(&services).await?;
        let body: AddBody = request.body()?;
        let classification = body.classification.map(|raw| raw.to_ascii_lowercase());
        let dataset = services
            .create_dataset(&caller, body.dataset.as_deref(), classification.as_deref())
            .await
            .map_err(|error| renamed(error, "name", "dataset"))?;
        Ok(views::dataset(&dataset))
    };
    Envelope::answer(result.await)
}

#[derive(Deserialize)]
struct DatasetBody {
    dataset: Option<String>,
}

/// Deletes a dataset with every grant on it. Naming none is "Required information missing".
pub async fn delete_dataset(State(services): State<Services>, request: SageRequest) -> Envelope {
    let result = async {
        let caller = request.caller(&services).await?;
        let body: DatasetBody = request.body()?;
        services
            .delete_dataset(&caller, body.dataset.as_deref().unwrap_or_default())
            .await?;
        Ok(json!("Dataset deleted successfully"))
    };
    Envelope::answer(result.await)
}

#[derive(Deserialize)]
struct GrantBody {
    dataset: Option<String>,
    email: Option<String>,
    permission: Option<String>,
}

/// Shares a dataset with another user of the tenant at read permission (a user already
/// holding it is set back to read).
pub async fn assign_dataset(State(services): State<Services>, request: SageRequest) -> Envelope {
    grant(&services, &request, Some("read")).await
}

/// Sets the permission (`read`, `write` or `admin`) a user holds on a dataset, sharing it
/// with them if they held none.
pub async fn update_permission_dataset(
    State(services): State<Services>,
    request: SageRequest,
) -> Envelope {
    grant(&services, &request, None).await
}

async fn grant(services: &Services, request: &SageRequest, fixed: Option<&str>) -> Envelope {
    let result = async {
        let caller = request.caller(services).await?;
        let body: GrantBody = request.body()?;
        let dataset = body.dataset.as_deref().unwrap_or_default();
        let email = required("email", &body.email)?;
        let permission = fixed.or(body.permission.as_deref());
        services
            .grant_dataset(&caller, dataset, email, permission)
            .await
            .map_err(missing_is_invalid)?;
        Ok(json!(match fixed {
            Some(_) => "Dataset assigned successfully",
            None => "Dataset permissions updated successfully",
        }))
    };
    Envelope::answer(result.await)
}

/// Withdraws a user's access to a dataset.
pub async fn deassign_dataset(State(services): State<Services>, request: SageRequest) -> Envelope {
    let result = async {
        let caller = request.caller(&services).await?;
        let body: GrantBody = request.body()?;
        let dataset = body.dataset.as_deref().unwrap_or_default();
        let email = required("email", &body.email)?;
        services
            .revoke_grant(&caller, dataset, email)
            .await
            .map_err(missing_is_invalid)?;
        Ok(json!("Dataset deassigned successfully"))
    };
    Envelope::answer(result.await)
}

#[derive(Deserialize)]
struct PermissionsBody {
    check_permissions: Option<bool>,
}

/// The caller's datasets, then those shared with them, each with the caller's permission
/// and, with `check_permissions`, every grantee's.
pub async fn get_datasets_with_permissions(
    State(services): State<Services>,
    request: SageRequest,
) -> Envelope {
    let result = async {
        let caller = request.caller(&services).await?;
        let body: PermissionsBody = request.body()?;
        let with_grantees = body.check_permissions.unwrap_or(false);
        let mut datasets = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = services
                .list_datasets(&caller, with_grantees, 100, cursor.as_deref())
                .await?;
            datasets.extend(page.items);
            match page.next {
                Some(next) if datasets.len() < MAX_DATASETS_LISTED => cursor = Some(next),
                _ => break,
            }
        }
        datasets.truncate(MAX_DATASETS_LISTED);
        Ok(datasets.iter().map(views::dataset).collect::<Value>())
    };
    Envelope::answer(result.await)
}
