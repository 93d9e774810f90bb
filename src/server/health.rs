//! `GET /healthz`: Redis answers, and every task of this `serve` process (HTTP, worker,
//! scheduler) is alive. A task that failed is restarted by its supervisor and reported here
//! as `restarting` with its last error until it runs again; 503 names what is not healthy.

use super::AppState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The state of one supervised task.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TaskState {
    /// Running.
    Running,
    /// Failed; its supervisor starts it again.
    Restarting {
        /// The error it failed with.
        error: String,
    },
    /// Ended and not coming back.
    Dead {
        /// Why.
        error: String,
    },
}

/// The tasks of a `serve` process, by name (`http`, `worker`, `scheduler`).
#[derive(Debug, Default)]
pub struct Tasks(Mutex<BTreeMap<&'static str, TaskState>>);

impl Tasks {
    /// Records the state of task `name`.
    pub fn set(&self, name: &'static str, state: TaskState) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(name, state);
    }

    fn snapshot(&self) -> BTreeMap<&'static str, TaskState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[derive(Serialize)]
struct Report {
    status: &'static str,
    redis: String,
    tasks: BTreeMap<&'static str, TaskState>,
}

/// 200 `{"status":"ok",...}` or 503 naming Redis and the tasks that are not running.
pub(super) async fn healthz(State(state): State<AppState>) -> Response {
    let redis = match redis::cmd("PING").query_async::<String>(&mut state.store.conn.clone()).await {
        Ok(_) => "ok".to_string(),
        Err(e) => {
            tracing::warn!(error = %e, "healthz: Redis does not answer");
            "unreachable".to_string()
        }
    };
    let tasks = state.tasks.snapshot();
    let healthy = redis == "ok" && tasks.values().all(|t| *t == TaskState::Running);
    let (code, status) = if healthy {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unhealthy")
    };
    let body = serde_json::to_string(&Report { status, redis, tasks }).unwrap_or_default();
    (code, [(header::CONTENT_TYPE, "application/json")], body + "\n").into_response()
}
