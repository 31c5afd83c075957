//! The window's first run: the steps of `ssobar setup` (`ssobar_core::setup`), run one at a
//! time as core's `first_run` view offers them. Each records its end in the activity's
//! `setup` and wakes the loop, which sends the window the view again.

use crate::actions;
use crate::state::AppState;
use ssobar_core::app::first_run::{self, SetupAction};
use ssobar_core::kube::kubeconfig::{self, ExecApi, Update};
use ssobar_core::setup::{self, SetupError, SetupStep};
use tauri::{AppHandle, Manager};

/// Takes the start URL (and the region, when the form asked for it): the URL resolved, the
/// session planned and written as `ssobar setup` does, then the sign-in started (its progress
/// is the window's sign-in dialog). An error is the form's one line.
pub async fn start(app: &AppHandle, start_url: &str, region: Option<String>) -> Result<(), String> {
    let state = app.state::<AppState>();
    let ctx = state.ctx();
    let request = first_run::request(region);
    let written = match setup::resolve_start_url(&ctx.env, start_url).await {
        Ok(portal) => {
            setup::write_session(&ctx.paths, &portal, &request).map(|edited| edited.outcome)
        }
        Err(e) => Err(SetupError::StartUrl(e)),
    };
    let failed = written.is_err();
    let error = {
        let mut inner = state.shared();
        inner.activity.setup.closed = false;
        inner.activity.setup.took_start_url(start_url, written);
        inner.activity.setup.error.clone()
    };
    state.poke.notify_one();
    if failed {
        return Err(error.unwrap_or_default());
    }
    sign_in_unless_signed_in(app);
    Ok(())
}

/// Starts the sign-in of the setup's session unless its token is valid already (a session
/// reused); the loop then lists its accounts, which the next step needs.
fn sign_in_unless_signed_in(app: &AppHandle) {
    let state = app.state::<AppState>();
    let Some(id) = state.shared().activity.setup.session() else {
        return;
    };
    let (_, _, status) = state.compute_status();
    let signed_in = status
        .sessions
        .iter()
        .any(|s| s.id == id && s.state.is_signed_in());
    if !signed_in {
        actions::start_sign_in(app, id, None);
    }
}

/// Runs what the view offers; answers what was done in a sentence.
pub async fn run(app: &AppHandle, action: SetupAction) -> Result<String, String> {
    let state = app.state::<AppState>();
    if action == SetupAction::Close {
        state.shared().activity.setup.closed = true;
        state.poke.notify_one();
        return Ok(String::new());
    }
    let (plan, id) = {
        let inner = state.shared();
        let progress = &inner.activity.setup;
        let (Some(plan), Some(id)) = (progress.plan.clone(), progress.session()) else {
            return Err("give the access portal's URL first".to_owned());
        };
        if let Some(running) = progress.running {
            return Err(format!("\"{}\" is running", running.title()));
        }
        (plan, id)
    };
    let Some(step) = action.step() else {
        return Ok(String::new());
    };
    if step == SetupStep::SignIn {
        actions::start_sign_in(app, id, None);
        return Ok(String::new());
    }
    state.shared().activity.setup.running = Some(step);
    state.poke.notify_one();
    let ctx = state.ctx();
    let outcome = match step {
        SetupStep::AddProfiles => {
            let directory = state.shared().activity.directories.get(&id).cloned();
            match directory {
                None => Err(format!("the accounts of {} are not listed yet", id.label())),
                Some(directory) => setup::add_profiles(&ctx.paths, &plan, &directory)
                    .map(|outcome| {
                        format!(
                            "{} profiles in {}",
                            outcome.report.written.len(),
                            outcome.path.display()
                        )
                    })
                    .map_err(|e| e.to_string()),
            }
        }
        SetupStep::FindClusters => match actions::search_clusters(app, id).await {
            Ok((found, said)) => {
                state.shared().activity.setup.found = found;
                Ok(said)
            }
            Err(e) => Err(e),
        },
        SetupStep::AddToKubeconfig => {
            let found = state.shared().activity.setup.found.clone();
            add_to_kubeconfig(&ctx, &found)
        }
        SetupStep::WriteSession | SetupStep::SignIn => Ok(String::new()),
    };
    state
        .shared()
        .activity
        .setup
        .finished(step, outcome.clone());
    state.poke.notify_one();
    outcome
}

/// The clusters found, as kubeconfig contexts whose exec hook runs the `ssobar` beside the app.
fn add_to_kubeconfig(
    ctx: &ssobar_core::context::Context,
    found: &[ssobar_core::kube::discovery::FoundCluster],
) -> Result<String, String> {
    let path = kubeconfig::default_path(&ctx.env)
        .ok_or_else(|| "no kubeconfig: set KUBECONFIG or HOME".to_owned())?;
    let added =
        setup::add_to_kubeconfig(&path, found, ExecApi::V1beta1, &actions::helper_command())
            .map_err(|e| e.to_string())?;
    let count = added.contexts.len();
    let contexts = if count == 1 { "context" } else { "contexts" };
    let mut said = match added.update {
        None => format!("No context to add to {}", path.display()),
        Some(Update::Written) => format!("Added {count} {contexts} to {}", path.display()),
        Some(Update::Unchanged) => format!("{} already has the {count} {contexts}", path.display()),
    };
    if !added.without.is_empty() {
        said.push_str(&format!(
            "; {} left out: no profile for the role that found them",
            added.without.len()
        ));
    }
    Ok(said)
}
