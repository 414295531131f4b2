//! Record data on its way in: every check and transformation between what a client sent and
//! what is stored, in one place so that create, edit and transition cannot drift apart.

use form_runtime::form::{CompiledForm, Completeness};
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::extract::Actor;
use crate::startup::AppState;

/// Checks and completes data that is about to be stored in `state`: validated against the
/// form at the completeness the state demands. Returns the data to store.
pub async fn accept(
    _app: &AppState,
    _actor: &Actor,
    form: &CompiledForm,
    state: &str,
    data: Value,
) -> ApiResult<Value> {
    let complete = form.workflow.state(state).is_none_or(|s| s.complete);
    let c = if complete {
        Completeness::Complete
    } else {
        Completeness::Draft
    };
    form.validate(&data, c).map_err(ApiError::Invalid)?;
    Ok(data)
}
