//! What the tray menu, notifications and the window can ask for: each a call into
//! ssobar-core, with the app's bookkeeping (busy sessions, progress events) around it.

use crate::open_window;
use crate::progress::{SignInPhase, SignInProgress};
use crate::state::{AppState, SignInTask};
use ssobar_core::app::agent::{Approver, Wanted};
use ssobar_core::app::channel::{Caller, Failure, Reply};
use ssobar_core::app::directory::{
    self, ClusterAction, ClusterRef, RoleAction, RoleRef, SearchView,
};
use ssobar_core::app::monitor::record_refresh;
use ssobar_core::config::SessionId;
use ssobar_core::config::populate;
use ssobar_core::context::Context;

use ssobar_core::creds::console::{self, Destination};
use ssobar_core::creds::credential_env::{self, Shell};
use ssobar_core::creds::{Vault, plan};
use ssobar_core::kube::discovery::{self, FoundCluster, KnownClusters, Regions};
use ssobar_core::kube::kubeconfig::{self, ExecApi};
use ssobar_core::sso::accounts::{self, Reuse};
use ssobar_core::sso::browser;
use ssobar_core::sso::secret_link::{SecretDelivery, open_secret_url};
use ssobar_core::sso::signin::{self, RefreshWhen, SignInEvent, SignInFlow, SignInOptions};
use ssobar_core::sso::token_cache::CachedToken;
use ssobar_core::util::secret::Secret;
use ssobar_core::util::text::printable;
use ssobar_core::util::time::format_local;
use tauri::{AppHandle, Manager};
use tauri_plugin_clipboard_manager::ClipboardExt;

fn emit(app: &AppHandle, progress: SignInProgress) {
    crate::emit_to_window(app, "sign-in", progress);
}

/// Sends the progress of every running sign-in again, for a window that has just loaded.
pub fn replay_sign_ins(app: &AppHandle) {
    let events: Vec<SignInProgress> = app
        .state::<AppState>()
        .shared()
        .sign_ins
        .values()
        .flat_map(|task| task.events.clone())
        .collect();
    for event in events {
        emit(app, event);
    }
}

/// Starts signing in to `id` (PKCE, or the device code as configured); progress goes to the
/// window as `sign-in` events. A second request for the same session joins the first.
pub fn start_sign_in(app: &AppHandle, id: SessionId, flow: Option<SignInFlow>) {
    let state = app.state::<AppState>();
    if state.shared().sign_ins.contains_key(&id) {
        open_window(app);
        return;
    }
    let (session, command) = match state.session(&id) {
        Ok(found) => found,
        Err(e) => {
            emit(
                app,
                SignInProgress::new(&id, SignInPhase::Failed).with_message(e),
            );
            return;
        }
    };
    state.mark_busy(&id);
    // Held until the task is registered, so a quick task cannot finish before that.
    let mut inner = state.shared();
    let task_app = app.clone();
    let task_id = id.clone();
    let task = tauri::async_runtime::spawn(async move {
        let state = task_app.state::<AppState>();
        let ctx = state.session_ctx(&task_id);
        // Asked for explicitly: sign in even if the token is valid but expiring.
        let options = SignInOptions {
            flow,
            force: true,
            ..SignInOptions::default()
        };
        let on_event = |event: SignInEvent| on_sign_in_event(&task_app, &task_id, event);
        let result = signin::sign_in(&ctx, &session, &options, &command, &on_event).await;
        state.shared().sign_ins.remove(&task_id);
        state.mark_idle(&task_id);
        match &result {
            Ok(_) => state.answer_signed_in_here(&task_id),
            Err(e) => state.answer(
                &task_id,
                &Reply::Failed {
                    why: Failure::SignInFailed,
                    detail: Some(e.to_string()),
                },
            ),
        }
        match result {
            Ok(outcome) => {
                let expires = outcome.token().expires_at;
                let message = format!(
                    "Signed in until {}",
                    format_local(expires, ctx.now(), ctx.tz())
                );
                emit(
                    &task_app,
                    SignInProgress::new(&task_id, SignInPhase::Done).with_message(message),
                );
                list_accounts(&task_app, &task_id).await;
            }
            Err(e) => emit(
                &task_app,
                SignInProgress::new(&task_id, SignInPhase::Failed).with_message(e.to_string()),
            ),
        }
    });
    inner.sign_ins.insert(
        id,
        SignInTask {
            abort: task.inner().abort_handle(),
            events: Vec::new(),
        },
    );
}

fn on_sign_in_event(app: &AppHandle, id: &SessionId, event: SignInEvent) {
    let device_code = matches!(event, SignInEvent::DeviceCode { .. });
    let progress = match event {
        SignInEvent::WaitingForOtherSignIn => SignInProgress::new(id, SignInPhase::WaitingForOther),
        SignInEvent::OpenUrl { url, opened } => {
            SignInProgress::open_url(id, url, matches!(opened, Ok(browser::Delivered::Opened(_))))
        }
        // The window already shows the URL and the device-code choice.
        // The window shows the device code itself, and the app is where a browser can open.
        SignInEvent::NoRedirectYet { .. } | SignInEvent::DeviceCodeChosen(_) => return,
        SignInEvent::DeviceCode {
            user_code,
            verification_uri,
            verification_uri_complete,
        } => {
            SignInProgress::device_code(id, user_code, verification_uri, verification_uri_complete)
        }
        SignInEvent::Waiting => SignInProgress::new(id, SignInPhase::Waiting),
    };
    if let Some(task) = app.state::<AppState>().shared().sign_ins.get_mut(id) {
        task.events.push(progress.clone());
    }
    emit(app, progress);
    if device_code {
        // The person has to read the code: show the window (a new one gets the progress
        // replayed when it loads).
        open_window(app);
    }
}

/// Cancels a running sign-in, and fails every helper waiting for one at once.
pub fn cancel_sign_in(app: &AppHandle, id: &SessionId) {
    let state = app.state::<AppState>();
    let task = state.shared().sign_ins.remove(id);
    if let Some(task) = task {
        task.abort.abort();
        state.mark_idle(id);
        emit(app, SignInProgress::new(id, SignInPhase::Cancelled));
    }
    let cancelled = Reply::Failed {
        why: Failure::Cancelled,
        detail: None,
    };
    state.answer(id, &cancelled);
}

/// Opens the running sign-in's URL again.
pub fn open_browser_again(app: &AppHandle, id: &SessionId) -> Result<(), String> {
    let state = app.state::<AppState>();
    let url = state.shared().sign_ins.get(id).and_then(SignInTask::url);
    let url = url.ok_or_else(|| "no sign-in is waiting for the browser".to_owned())?;
    match browser::open_url(&state.ctx(), id.session_name(), &url)? {
        browser::Delivered::Printed => {
            Err("url_action = \"print\" opens nothing: open the URL shown".to_owned())
        }
        browser::Delivered::Opened(_) | browser::Delivered::Copied(_) => Ok(()),
    }
}

/// Refreshes a session now or when due, as `when` says, and notes how it ended.
pub async fn refresh(app: &AppHandle, id: SessionId, when: RefreshWhen) -> Result<(), String> {
    let state = app.state::<AppState>();
    let (session, command) = state.session(&id)?;
    state.mark_busy(&id);
    let ctx = state.session_ctx(&id);
    let result = signin::refresh(&ctx, &session, when, &command).await;
    let token_expires_at = || match ctx.tokens.load(&id) {
        CachedToken::Present(t) => Some(t.expires_at),
        _ => None,
    };
    record_refresh(&mut state.shared().activity, &id, &result, token_expires_at);
    state.poke.notify_one();
    result.map(|_| ()).map_err(|e| e.to_string())
}

/// Signs out of a session (portal, token, stored credentials).
pub async fn sign_out(app: &AppHandle, id: SessionId) -> Result<(), String> {
    let state = app.state::<AppState>();
    let (session, _) = state.session(&id)?;
    state.mark_busy(&id);
    let ctx = state.session_ctx(&id);
    let config = ctx.load_config();
    state.agent.forget_session(&id);
    let result = signin::sign_out(&ctx, &config, &session).await;
    state.mark_idle(&id);
    result.map(|_| ()).map_err(|e| e.to_string())
}

/// A profile's credentials as `export` lines, as `ssobar env` prints them (fetched into the
/// keychain if need be).
async fn export_lines(app: &AppHandle, profile: &str) -> Result<String, String> {
    let state = app.state::<AppState>();
    let ctx = state.ctx();
    let wanted = Wanted {
        profile,
        role_arn: None,
        config_file: None,
        valid_for_seconds: i64::from(ctx.settings.credential_margin_minutes) * 60,
    };
    // The person asked in the app: nothing to approve; the log names the app and the click.
    let program = Caller {
        command: "ssobar-app".to_owned(),
        pid: Some(std::process::id()),
        command_line: "ssobar-app (Copy export lines)".to_owned(),
        cwd: None,
        exe: None,
        remote: None,
    };
    let handed = state
        .agent
        .credentials(&ctx, &wanted, &program, Approver::Person)
        .await
        .map_err(|e| e.to_string())?;
    Ok(credential_env::export_script(
        Shell::Sh,
        profile,
        &handed.credentials,
        handed.region.as_deref(),
    ))
}

/// Copies a profile's export lines to the clipboard, for a while ([`copy_secret_lines`]).
pub async fn copy_export_lines(app: &AppHandle, profile: &str) -> Result<(), String> {
    copy_secret_lines(app, export_lines(app, profile).await?)
}

/// Puts credentials on the clipboard, and takes them off it again after the
/// `clipboard_clear_seconds` setting ([`clear_clipboard_later`]): credentials must not linger
/// where every program can read them.
fn copy_secret_lines(app: &AppHandle, lines: String) -> Result<(), String> {
    app.clipboard()
        .write_text(lines.clone())
        .map_err(|e| e.to_string())?;
    clear_clipboard_later(app, lines);
    Ok(())
}

/// Takes `copied` off the clipboard after the `clipboard_clear_seconds` setting (0: never),
/// unless something else was copied since.
fn clear_clipboard_later(app: &AppHandle, copied: String) {
    let after = app
        .state::<AppState>()
        .ctx()
        .settings
        .clipboard_clear_seconds;
    if after > 0 {
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(u64::from(after))).await;
            let clipboard = app.clipboard();
            if clipboard.read_text().is_ok_and(|now| now == copied) {
                let _ = clipboard.clear();
            }
        });
    }
}

/// Lists a session's accounts and roles for the tray's "Accounts" submenu and the window's
/// search: from the hour's cache the helper shares, else from the portal. A failure is noted
/// so that the loop tries again later rather than on every wake.
pub async fn list_accounts(app: &AppHandle, id: &SessionId) {
    let state = app.state::<AppState>();
    let Ok((session, login)) = state.session(id) else {
        return;
    };
    state.shared().activity.listing.insert(id.clone());
    let ctx = state.session_ctx(id);
    let listed = accounts::directory(&ctx, &session, &login, Reuse::CachedWhenFresh).await;
    {
        let mut inner = state.shared();
        let activity = &mut inner.activity;
        activity.listing.remove(id);
        match listed {
            Ok(listed) => {
                activity.listing_failed.remove(id);
                activity.directories.insert(id.clone(), listed.directory);
                // A kept list others may have written counts as none: "Find" makes it again.
                if let Ok(Some(known)) = discovery::read_cached(&ctx.paths, &session) {
                    activity.clusters.insert(id.clone(), known.clusters);
                }
            }
            Err(_) => {
                activity.listing_failed.insert(id.clone(), ctx.now());
            }
        }
    }
    // The loop's next wake renders the menu and tells the window.
    state.poke.notify_one();
}

/// Every role and cluster of the signed-in sessions' accounts, for the window's search. The
/// clusters are read again from their cache, which `ssobar clusters` may have written since.
pub fn search_view(app: &AppHandle) -> SearchView {
    let state = app.state::<AppState>();
    let ctx = state.ctx();
    let sessions: Vec<SessionId> = state
        .shared()
        .activity
        .directories
        .keys()
        .cloned()
        .collect();
    let known: Vec<(SessionId, KnownClusters)> = sessions
        .into_iter()
        .filter_map(|id| {
            let (session, _) = state.session(&id).ok()?;
            Some((id, discovery::read_cached(&ctx.paths, &session).ok()??))
        })
        .collect();
    let mut inner = state.shared();
    for (id, known) in known {
        if !inner.activity.searching.contains(&id) {
            inner.activity.clusters.insert(id, known.clusters);
        }
    }
    directory::search_view(&inner.status, &inner.activity)
}

/// Searches every account of a signed-in session for EKS clusters (each account's first role
/// allowed to list them, in each role's profile's region, else the session's), keeps what it
/// found for the window's search, and says so in a sentence.
pub async fn find_clusters(app: &AppHandle, id: SessionId) -> Result<String, String> {
    search_clusters(app, id).await.map(|(_, said)| said)
}

/// [`find_clusters`], answering the clusters found as well as the sentence.
pub async fn search_clusters(
    app: &AppHandle,
    id: SessionId,
) -> Result<(Vec<FoundCluster>, String), String> {
    let state = app.state::<AppState>();
    let (session, _) = state.session(&id)?;
    let accounts = {
        let mut inner = state.shared();
        let accounts = inner
            .activity
            .directories
            .get(&id)
            .map(|d| d.accounts.clone())
            .ok_or_else(|| format!("the accounts of {} are not listed yet", id.label()))?;
        if !inner.activity.searching.insert(id.clone()) {
            return Err(format!(
                "the clusters of {} are being searched for",
                id.label()
            ));
        }
        accounts
    };
    state.poke.notify_one();
    let ctx = state.session_ctx(&id);
    let config = ctx.load_config();
    let targets =
        discovery::session_targets(&config, &session, &accounts, &[], &Regions::OfEachProfile);
    let search_ctx = ctx.clone();
    // Keychain calls block their thread: the search gets threads of its own.
    let found = tauri::async_runtime::spawn_blocking(move || {
        discovery::discover_on_threads(&search_ctx, targets)
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|found| found.map_err(|e| e.to_string()));
    let mut inner = state.shared();
    inner.activity.searching.remove(&id);
    let found = found?;
    let known = KnownClusters {
        found_at: ctx.now(),
        clusters: found.clusters,
    };
    let kept = discovery::write_cached(&ctx.paths, &session, &known);
    let count = known.clusters.len();
    let clusters = known.clusters.clone();
    inner.activity.clusters.insert(id, known.clusters);
    drop(inner);
    state.poke.notify_one();
    let mut said = match count {
        1 => "Found 1 cluster".to_owned(),
        n => format!("Found {n} clusters"),
    };
    if !found.skipped.is_empty() {
        said.push_str(&format!("; {} not looked at", found.skipped.len()));
    }
    if let Err(why) = kept {
        said.push_str(&format!(" (not kept for next time: {why})"));
    }
    Ok((clusters, said))
}

/// Runs what a cluster offers in the window's search, and says what it did in a sentence.
pub async fn run_cluster_action(
    app: &AppHandle,
    action: ClusterAction,
    cluster: &ClusterRef,
) -> Result<String, String> {
    let state = app.state::<AppState>();
    let (session, _) = state.session(&cluster.session)?;
    let found = {
        let inner = state.shared();
        cluster.found(&inner.activity).cloned().ok_or_else(|| {
            format!(
                "cluster {} is no longer in the list",
                printable(&cluster.cluster)
            )
        })?
    };
    let ctx = state.ctx();
    // The config as the file is now: a profile added a moment ago (the role's "Add profile")
    // may not have reached the loop's copy yet.
    let config = ctx.load_config();
    // The calls are the profile's where one names the role, else the session's.
    let ctx = match &found.profile {
        Some(profile) => ctx.for_profile(&config, profile),
        None => ctx.for_session(&config, &cluster.session),
    };
    match action {
        ClusterAction::OpenConsole => {
            let steps = match &found.profile {
                Some(profile) => plan(&config, profile).map_err(|e| e.to_string())?,
                None => RoleRef {
                    session: cluster.session.clone(),
                    account_id: found.account_id.clone(),
                    role_name: found.role_name.clone(),
                }
                .steps(&session),
            };
            let destination = cluster.console_destination();
            let url = console::console_url(&ctx, &steps, &destination, &cluster.region)
                .await
                .map_err(|e| e.to_string())?;
            open_console(
                app,
                &ctx,
                &cluster.session,
                &url,
                &format!("cluster {} in the AWS console", printable(&cluster.cluster)),
            )
            .await
        }
        ClusterAction::AddToKubeconfig => {
            let path = kubeconfig::default_path(&ctx.env)
                .ok_or_else(|| "no kubeconfig: set KUBECONFIG or HOME".to_owned())?;
            // The list may come from the cache file: the entry is written from what EKS
            // answers now to the role's profile, never from the file.
            let found = discovery::describe_again(&ctx, &config, &found)
                .await
                .map_err(|e| e.to_string())?;
            let context = directory::context_name(&found);
            let access = found
                .kubeconfig_access(&context, ExecApi::V1beta1, &helper_command())
                .ok_or_else(|| {
                    format!(
                        "no profile stands for {} in {}: add one first",
                        found.role_name, found.account_id
                    )
                })?;
            kubeconfig::update_all(&path, &[access], kubeconfig::LOCK_WAIT)
                .map_err(|e| e.to_string())?;
            Ok(format!("Added context {context} to {}", path.display()))
        }
    }
}

/// The command a kubeconfig's exec hook runs: the `ssobar` installed beside this app, else the
/// one on the PATH.
pub fn helper_command() -> String {
    std::env::current_exe()
        .ok()
        .map(|exe| exe.with_file_name("ssobar"))
        .filter(|helper| helper.is_file())
        .map_or_else(
            || "ssobar".to_owned(),
            |helper| helper.display().to_string(),
        )
}

/// Opens a console login URL as `session`'s browser settings say, through a one-time link
/// (`sso::secret_link`, as `ssobar console` does), and says what became of `what` ("the AWS
/// console as dev/Admin"). An opened link is waited for; a copied one is served in the
/// background for its wait and taken off the clipboard after `clipboard_clear_seconds`, as
/// copied credentials are. The URL is a secret for its 15 minutes, and the tray has nowhere to
/// print it.
async fn open_console(
    app: &AppHandle,
    ctx: &Context,
    session: &SessionId,
    url: &Secret,
    what: &str,
) -> Result<String, String> {
    let print_instead = "run \"ssobar console --print\" and open the URL it prints";
    let delivered = open_secret_url(ctx, session.session_name(), url)
        .await
        .map_err(|why| format!("no browser opened {what} ({why}); {print_instead}"))?;
    match delivered {
        SecretDelivery::Opened { link, .. } => {
            link.followed()
                .await
                .map_err(|why| format!("no browser opened {what} ({why}); {print_instead}"))?;
            Ok(format!("Opened {what}"))
        }
        SecretDelivery::Copied { link, .. } => {
            let seconds = link.wait().as_secs();
            clear_clipboard_later(app, link.url());
            tauri::async_runtime::spawn(link.followed());
            Ok(format!(
                "Copied a one-time link to {what}; open it within {seconds} seconds"
            ))
        }
        SecretDelivery::Print => Err(format!(
            "url_action = \"print\" leaves {what} unopened, and the app has nowhere to print it: run \"ssobar console --print\", or set url_action to open or copy"
        )),
    }
}

/// Runs what a role of a session's accounts offers (the "Accounts" submenu, the window's
/// search), and says what it did in a sentence.
pub async fn run_role_action(
    app: &AppHandle,
    action: RoleAction,
    role: &RoleRef,
) -> Result<String, String> {
    let state = app.state::<AppState>();
    let (session, _) = state.session(&role.session)?;
    let (account, region) = {
        let inner = state.shared();
        let account = inner
            .activity
            .directories
            .get(&role.session)
            .and_then(|d| d.accounts.iter().find(|a| a.account_id == role.account_id))
            .cloned()
            .ok_or_else(|| format!("the session no longer reaches account {}", role.account_id))?;
        // A profile that names the role says which region its work is in.
        let region = directory::profile_for(&inner.status, role)
            .and_then(|profile| inner.config.profile_region(profile))
            .map(str::to_owned);
        (account, region)
    };
    let label = format!(
        "{}/{}",
        account.account_name.as_deref().unwrap_or(&role.account_id),
        role.role_name
    );
    let ctx = state.session_ctx(&role.session);
    let steps = role.steps(&session);
    match action {
        RoleAction::CopyExports => {
            let creds = Vault::new(&ctx)
                .credentials(&steps)
                .await
                .map_err(|e| e.to_string())?;
            let lines = credential_env::export_script(Shell::Sh, &label, &creds, region.as_deref());
            copy_secret_lines(app, lines)?;
            Ok(format!("Copied the export lines for {label}"))
        }
        RoleAction::OpenConsole => {
            let region = region.unwrap_or_else(|| session.region.clone());
            let url = console::console_url(&ctx, &steps, &Destination::Home, &region)
                .await
                .map_err(|e| e.to_string())?;
            open_console(
                app,
                &ctx,
                &role.session,
                &url,
                &format!("the AWS console as {label}"),
            )
            .await
        }
        RoleAction::AddProfile => {
            let SessionId::Named(session_name) = &role.session else {
                return Err("a profile needs an sso-session with a name".to_owned());
            };
            let assignment = account.assignment(&role.role_name);
            let name =
                populate::add_profile(&ctx.paths, session_name, &assignment, &session.region)
                    .map_err(|e| e.to_string())?;
            state.poke.notify_one();
            Ok(format!(
                "Added profile {name} to {}",
                ctx.paths.config_file.display()
            ))
        }
    }
}
