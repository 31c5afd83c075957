//! The window's commands: each a one-line call into the app's actions or ssobar-core.

use crate::state::AppState;
use crate::{actions, first_run, watch};
use ssobar_core::app::approvals::ApprovalSetting;
use ssobar_core::app::directory::{ClusterAction, ClusterRef, RoleAction, RoleRef, SearchView};
use ssobar_core::app::first_run::SetupAction;
use ssobar_core::app::monitor::StatusView;
use ssobar_core::aws::network::Network;
use ssobar_core::config::SessionId;
use ssobar_core::creds::access_log::{AccessLog, ActivityRow, activity_rows};
use ssobar_core::settings::{Settings, SignInFlowKind};
use ssobar_core::sso::signin::{RefreshWhen, SignInFlow};
use tauri::{AppHandle, State};

fn session(key: &str) -> Result<SessionId, String> {
    SessionId::from_key(key).ok_or_else(|| format!("no such session: {key}"))
}

/// Everything the window shows (reads the keychain for stored credentials' expiry, which is
/// why it runs off the main thread).
#[tauri::command]
pub async fn status(app: AppHandle) -> Result<StatusView, String> {
    // The window asks for the status when it loads: give it any sign-in already running.
    actions::replay_sign_ins(&app);
    tauri::async_runtime::spawn_blocking(move || watch::view(&app))
        .await
        .map_err(|e| e.to_string())
}

/// Starts a sign-in (`flow` is `browser` or `device-code`, as in the settings, or absent for
/// the usual choice); progress arrives as `sign-in` events.
#[tauri::command]
pub fn sign_in(
    app: AppHandle,
    session: String,
    flow: Option<SignInFlowKind>,
) -> Result<(), String> {
    let flow = flow.map(|kind| match kind {
        SignInFlowKind::Browser => SignInFlow::Browser,
        SignInFlowKind::DeviceCode => SignInFlow::DeviceCode,
    });
    actions::start_sign_in(&app, self::session(&session)?, flow);
    Ok(())
}

/// Cancels a running sign-in.
#[tauri::command]
pub fn cancel_sign_in(app: AppHandle, session: String) -> Result<(), String> {
    actions::cancel_sign_in(&app, &self::session(&session)?);
    Ok(())
}

/// Opens the running sign-in's URL again.
#[tauri::command]
pub fn open_browser_again(app: AppHandle, session: String) -> Result<(), String> {
    actions::open_browser_again(&app, &self::session(&session)?)
}

/// Refreshes a session now.
#[tauri::command]
pub async fn refresh(app: AppHandle, session: String) -> Result<(), String> {
    actions::refresh(&app, self::session(&session)?, RefreshWhen::Now).await
}

/// Signs out of a session.
#[tauri::command]
pub async fn sign_out(app: AppHandle, session: String) -> Result<(), String> {
    actions::sign_out(&app, self::session(&session)?).await
}

/// Copies a profile's credentials as `export` lines to the clipboard (from here rather than
/// the page: the webview may refuse a clipboard write that follows an await).
#[tauri::command]
pub async fn copy_export_lines(app: AppHandle, profile: String) -> Result<(), String> {
    actions::copy_export_lines(&app, &profile).await
}

/// Every role and cluster of the signed-in sessions' accounts, for the search.
#[tauri::command]
pub fn accounts(app: AppHandle) -> SearchView {
    actions::search_view(&app)
}

/// Searches a session's accounts for EKS clusters; answers what it found, in a sentence.
#[tauri::command]
pub async fn find_clusters(app: AppHandle, session: String) -> Result<String, String> {
    actions::find_clusters(&app, self::session(&session)?).await
}

/// Runs what a cluster offers (`open-console`, `add-to-kubeconfig`); answers what was done.
#[tauri::command]
pub async fn cluster_action(
    app: AppHandle,
    cluster: String,
    action: String,
) -> Result<String, String> {
    let action =
        ClusterAction::from_name(&action).ok_or_else(|| format!("no such action: {action}"))?;
    let cluster =
        ClusterRef::from_key(&cluster).ok_or_else(|| format!("no such cluster: {cluster}"))?;
    actions::run_cluster_action(&app, action, &cluster).await
}

/// Runs what a role offers (`copy-exports`, `open-console`, `add-profile`); answers what was
/// done, in a sentence.
#[tauri::command]
pub async fn role_action(app: AppHandle, role: String, action: String) -> Result<String, String> {
    let action =
        RoleAction::from_name(&action).ok_or_else(|| format!("no such action: {action}"))?;
    let role = RoleRef::from_key(&role).ok_or_else(|| format!("no such role: {role}"))?;
    actions::run_role_action(&app, action, &role).await
}

/// The first run's start URL (and region, when the form asks for it): the session written and
/// the sign-in started, or the form's one-line error.
#[tauri::command]
pub async fn setup_start(
    app: AppHandle,
    start_url: String,
    region: Option<String>,
) -> Result<(), String> {
    first_run::start(&app, &start_url, region).await
}

/// Runs what the first-run view offers (`add-profiles`, `find-clusters`, `add-to-kubeconfig`,
/// `sign-in`, `close`); answers what was done.
#[tauri::command]
pub async fn setup_step(app: AppHandle, action: SetupAction) -> Result<String, String> {
    first_run::run(&app, action).await
}

/// The settings in effect.
#[tauri::command]
pub fn get_settings(state: State<'_, AppState>) -> Settings {
    state.ctx().settings
}

/// The proxy and CA bundle the app's AWS calls go with, and where each comes from (the
/// environment the app was started with, or settings.toml), for Settings to show.
#[tauri::command]
pub fn network(state: State<'_, AppState>) -> Network {
    state.ctx().network()
}

/// Every SSO profile with its `approve` setting, for Settings to offer a choice per profile.
#[tauri::command]
pub fn approval_settings(state: State<'_, AppState>) -> Vec<ApprovalSetting> {
    let ctx = state.ctx();
    ssobar_core::app::approvals::approval_settings(&ctx.load_config(), &ctx.settings)
}

/// The version line Settings shows, as `ssobar --version` prints it ("ssobar 0.1.0 (abc1234)").
#[tauri::command]
pub fn version() -> String {
    ssobar_version::line("ssobar")
}

/// Saves the settings and applies them (token store, start at login).
#[tauri::command]
pub fn save_settings(app: AppHandle, settings: Settings) -> Result<Settings, String> {
    watch::apply_settings(&app, settings)
}

/// The access log of the last day, as the window's Activity view shows it (newest first).
#[tauri::command]
pub fn activity(state: State<'_, AppState>) -> Vec<ActivityRow> {
    let ctx = state.ctx();
    let now = ctx.now();
    let since = ssobar_core::util::time::add_seconds(now, -86_400);
    let records = AccessLog::at(&ctx.paths.access_log).read(since, now);
    let mut rows = activity_rows(&records, now, &jiff::tz::TimeZone::system());
    rows.reverse();
    rows
}
