//! The window's first run: `setup`'s steps ([`crate::setup`]) offered one at a time. The app
//! keeps how far the setup has gone ([`SetupProgress`](crate::app::activity::SetupProgress), in the
//! [`Activity`]); [`setup_view`]
//! says what the window shows of it: the steps with their titles, which is next and the
//! button that runs it, the region field when the URL does not give the region. The window
//! renders this and decides nothing.

use crate::app::activity::Activity;
use crate::app::directory::{RoleRef, context_name, profile_for};
use crate::setup::{self, SetupRequest, SetupStep};
use crate::status::Status;
use serde::{Deserialize, Serialize};

/// The first-run view's heading.
pub const TITLE: &str = "Add your AWS access portal";

/// The tray menu's entry that opens the window on the first-run view.
pub const MENU_LABEL: &str = "Set up ssobar…";

/// What the window's setup asks of [`setup::plan`]: every step, the session named after the
/// portal.
pub fn request(region: Option<String>) -> SetupRequest {
    SetupRequest {
        name: None,
        region: region
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty()),
        profiles: true,
        clusters: true,
    }
}

/// What the window can run from the first-run view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SetupAction {
    /// Sign in to the session (again, after a failed or cancelled sign-in).
    SignIn,
    /// A profile for every account and role.
    AddProfiles,
    /// Search every account for EKS clusters.
    FindClusters,
    /// A kubeconfig context for each cluster found.
    AddToKubeconfig,
    /// Close the setup: the sessions view shows.
    Close,
}

impl SetupAction {
    /// The step it runs, if it runs one.
    pub fn step(self) -> Option<SetupStep> {
        match self {
            Self::SignIn => Some(SetupStep::SignIn),
            Self::AddProfiles => Some(SetupStep::AddProfiles),
            Self::FindClusters => Some(SetupStep::FindClusters),
            Self::AddToKubeconfig => Some(SetupStep::AddToKubeconfig),
            Self::Close => None,
        }
    }

    fn of(step: SetupStep) -> Option<Self> {
        match step {
            SetupStep::WriteSession => None,
            SetupStep::SignIn => Some(Self::SignIn),
            SetupStep::AddProfiles => Some(Self::AddProfiles),
            SetupStep::FindClusters => Some(Self::FindClusters),
            SetupStep::AddToKubeconfig => Some(Self::AddToKubeconfig),
        }
    }
}

/// Where a step is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepState {
    /// Done.
    Done,
    /// Running.
    Running,
    /// Next: its button is offered.
    Next,
    /// Waits for the steps before it.
    Later,
}

/// A step as the window lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepView {
    /// [`SetupStep::title`].
    pub title: String,
    /// Where it is.
    pub state: StepState,
    /// What it did, once done.
    pub note: Option<String>,
}

/// The button the view offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OfferView {
    /// What it runs.
    pub action: SetupAction,
    /// Its text ([`setup::offer`]).
    pub label: String,
}

/// The first-run view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SetupView {
    /// The heading.
    pub title: String,
    /// The start URL form is shown (no session written yet).
    pub form: bool,
    /// The start URL last given.
    pub start_url: String,
    /// The region field is shown.
    pub region_needed: bool,
    /// The last error, one line.
    pub error: Option<String>,
    /// The session written, as window commands name it.
    pub session: Option<String>,
    /// Every step, in order.
    pub steps: Vec<StepView>,
    /// The button for the next step, or "Done" at the end.
    pub offer: Option<OfferView>,
    /// What to try once done ([`setup::next_commands`]).
    pub next_commands: Vec<String>,
}

/// The steps of the window's setup, before a plan says which.
const ALL_STEPS: [SetupStep; 5] = [
    SetupStep::WriteSession,
    SetupStep::SignIn,
    SetupStep::AddProfiles,
    SetupStep::FindClusters,
    SetupStep::AddToKubeconfig,
];

/// Whether the window shows the first-run view: while the config has no SSO session, or while
/// a setup started from it is not closed.
pub fn shows_setup(status: &Status, activity: &Activity) -> bool {
    status.sessions.is_empty() || (activity.setup.plan.is_some() && !activity.setup.closed)
}

/// Whether the app opens its window at start: a newcomer, whose config has no SSO session,
/// sees the first run rather than an icon in a tray.
pub fn opens_window_at_start(status: &Status) -> bool {
    status.sessions.is_empty()
}

/// The first-run view, when [`shows_setup`].
pub fn setup_view(status: &Status, activity: &Activity) -> Option<SetupView> {
    if !shows_setup(status, activity) {
        return None;
    }
    let progress = &activity.setup;
    let session = progress.session();
    let steps_planned: Vec<SetupStep> = progress
        .plan
        .as_ref()
        .map_or_else(|| ALL_STEPS.to_vec(), |plan| plan.steps.clone());
    let signed_in = session.as_ref().is_some_and(|id| {
        status
            .sessions
            .iter()
            .any(|s| &s.id == id && s.state.is_signed_in())
    });
    let busy = session
        .as_ref()
        .is_some_and(|id| activity.busy.contains(id));
    let directory = session.as_ref().and_then(|id| activity.directories.get(id));
    let roles = directory.map_or(0, |d| d.assignments().len());
    let clusters = progress.found.len();
    let searching = session
        .as_ref()
        .is_some_and(|id| activity.searching.contains(id));

    // The first step not done is next, once what it needs is there.
    let mut next = None;
    let mut steps = Vec::new();
    for step in steps_planned {
        let done = match step {
            SetupStep::SignIn => signed_in,
            SetupStep::AddToKubeconfig => {
                progress.is_done(step)
                    || (progress.is_done(SetupStep::FindClusters) && clusters == 0)
            }
            _ => progress.is_done(step),
        };
        let note = progress
            .done
            .iter()
            .find(|(s, _)| *s == step)
            .map(|(_, said)| said.clone())
            .or_else(|| {
                (step == SetupStep::AddToKubeconfig && done)
                    .then(|| "No EKS clusters to add".to_owned())
            });
        let state = if done {
            StepState::Done
        } else if next.is_some() || progress.plan.is_none() {
            StepState::Later
        } else {
            let running = progress.running == Some(step)
                || (step == SetupStep::SignIn && busy)
                || (step == SetupStep::AddProfiles && directory.is_none())
                || (step == SetupStep::FindClusters && searching);
            next = Some(step);
            if running {
                StepState::Running
            } else {
                StepState::Next
            }
        };
        steps.push(StepView {
            title: step.title().to_owned(),
            state,
            note,
        });
    }
    let offer = match next {
        Some(step) => steps
            .iter()
            .any(|s| s.state == StepState::Next)
            .then(|| SetupAction::of(step))
            .flatten()
            .map(|action| OfferView {
                action,
                label: setup::offer(step, roles, clusters),
            }),
        None if progress.plan.is_some() => Some(OfferView {
            action: SetupAction::Close,
            label: "Done".to_owned(),
        }),
        None => None,
    };
    let next_commands = if next.is_none() && progress.plan.is_some() {
        let profile = session.as_ref().zip(directory).and_then(|(id, d)| {
            let account = d.accounts.first()?;
            let role = RoleRef {
                session: id.clone(),
                account_id: account.account_id.clone(),
                role_name: account.roles.first()?.clone(),
            };
            profile_for(status, &role).map(str::to_owned)
        });
        let context = progress
            .found
            .iter()
            .find(|c| c.profile.is_some())
            .map(context_name);
        setup::next_commands(profile.as_deref(), context.as_deref())
    } else {
        Vec::new()
    };
    Some(SetupView {
        title: TITLE.to_owned(),
        form: progress.plan.is_none(),
        start_url: progress.start_url.clone(),
        region_needed: progress.region_needed,
        error: progress.error.clone(),
        session: session.map(|id| id.key()),
        steps,
        offer,
        next_commands,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::tray::tests::{directory_of, status};
    use crate::config::SessionId;
    use crate::kube::discovery::FoundCluster;
    use crate::setup::{RegionSource, SessionChoice, SetupError, SetupPlan};

    fn plan_for(name: &str) -> SetupPlan {
        SetupPlan {
            start_url: format!("https://{name}.awsapps.com/start"),
            region: "us-east-1".into(),
            region_from: RegionSource::Given,
            session: SessionChoice::Add { name: name.into() },
            steps: ALL_STEPS.to_vec(),
        }
    }

    fn cluster(name: &str) -> FoundCluster {
        FoundCluster {
            account_id: "111111111111".into(),
            account_name: Some("acme-dev".into()),
            role_name: "Admin".into(),
            profile: Some("dev".into()),
            region: "us-east-1".into(),
            cluster: name.into(),
            arn: format!("arn:aws:eks:us-east-1:111111111111:cluster/{name}"),
            endpoint: "https://127.0.0.1:6443".into(),
            certificate_authority_data: "LS0t".into(),
        }
    }

    fn states(view: &SetupView) -> Vec<StepState> {
        view.steps.iter().map(|s| s.state).collect()
    }

    fn offer(view: &SetupView) -> Option<(SetupAction, &str)> {
        view.offer.as_ref().map(|o| (o.action, o.label.as_str()))
    }

    #[test]
    fn with_no_session_the_window_opens_on_the_start_url_form() {
        let none = Status::default();
        let activity = Activity::default();
        assert!(opens_window_at_start(&none));
        assert!(!opens_window_at_start(&status()));
        let view = setup_view(&none, &activity).expect("the first-run view");
        assert_eq!(view.title, "Add your AWS access portal");
        assert!(view.form && !view.region_needed);
        assert_eq!(
            view.steps
                .iter()
                .map(|s| s.title.as_str())
                .collect::<Vec<_>>(),
            [
                "Add the SSO session to the AWS config",
                "Sign in",
                "Add a profile for every account and role",
                "Find EKS clusters",
                "Add them to the kubeconfig"
            ]
        );
        assert_eq!(states(&view), [StepState::Later; 5]);
        assert_eq!(view.offer, None);
        // A config with sessions and no setup running shows the sessions.
        assert_eq!(setup_view(&status(), &activity), None);
    }

    #[test]
    fn a_url_without_its_region_shows_the_region_field_with_the_error() {
        let mut activity = Activity::default();
        activity.setup.took_start_url(
            " https://corp.awsapps.com/start ",
            Err(SetupError::RegionNeeded {
                start_url: "https://corp.awsapps.com/start".into(),
            }),
        );
        let view = setup_view(&Status::default(), &activity).unwrap();
        assert!(view.form && view.region_needed);
        assert_eq!(view.start_url, "https://corp.awsapps.com/start");
        assert_eq!(
            view.error.as_deref(),
            Some(
                "https://corp.awsapps.com/start does not say which region its IAM Identity Center is in: give the region (like us-east-1)"
            )
        );
        activity
            .setup
            .took_start_url("x", Err(SetupError::NotARegion("mars".into())));
        let view = setup_view(&Status::default(), &activity).unwrap();
        assert!(view.region_needed, "the field stays while it is needed");
        assert_eq!(
            view.error.as_deref(),
            Some("\"mars\" is not an AWS region (like us-east-1 or eu-west-1)")
        );
    }

    #[test]
    fn each_step_is_offered_once_the_one_before_is_done() {
        // corp is signed in (tray's test status); its accounts are not listed yet.
        let s = status();
        let corp = SessionId::Named("corp".into());
        let mut activity = Activity::default();
        activity
            .setup
            .took_start_url("corp.awsapps.com", Ok(plan_for("corp")));
        let view = setup_view(&s, &activity).unwrap();
        assert!(!view.form);
        assert_eq!(view.session.as_deref(), Some("s:corp"));
        assert_eq!(
            states(&view),
            [
                StepState::Done,
                StepState::Done,
                StepState::Running,
                StepState::Later,
                StepState::Later
            ]
        );
        assert_eq!(offer(&view), None, "the accounts are being listed");

        activity.directories.insert(
            corp.clone(),
            directory_of(&[
                ("111111111111", Some("acme-dev"), &["Admin", "ReadOnly"]),
                ("222222222222", None, &["Admin"]),
            ]),
        );
        let view = setup_view(&s, &activity).unwrap();
        assert_eq!(
            offer(&view),
            Some((SetupAction::AddProfiles, "Add profiles for all 3 roles"))
        );

        activity
            .setup
            .finished(SetupStep::AddProfiles, Ok("Added 3 profiles".into()));
        let view = setup_view(&s, &activity).unwrap();
        assert_eq!(view.steps[2].note.as_deref(), Some("Added 3 profiles"));
        assert_eq!(
            offer(&view),
            Some((SetupAction::FindClusters, "Find EKS clusters"))
        );
        activity.searching.insert(corp.clone());
        assert_eq!(offer(&setup_view(&s, &activity).unwrap()), None);
        activity.searching.clear();

        activity.setup.found = vec![cluster("prod"), cluster("lab")];
        activity
            .setup
            .finished(SetupStep::FindClusters, Ok("Found 2 clusters".into()));
        let view = setup_view(&s, &activity).unwrap();
        assert_eq!(
            offer(&view),
            Some((SetupAction::AddToKubeconfig, "Add 2 clusters to kubeconfig"))
        );
        activity
            .setup
            .finished(SetupStep::AddToKubeconfig, Err("no kubeconfig".into()));
        let view = setup_view(&s, &activity).unwrap();
        assert_eq!(view.error.as_deref(), Some("no kubeconfig"));
        assert_eq!(offer(&view).unwrap().0, SetupAction::AddToKubeconfig);

        activity
            .setup
            .finished(SetupStep::AddToKubeconfig, Ok("Added 2 contexts".into()));
        let view = setup_view(&s, &activity).unwrap();
        assert_eq!(view.error, None);
        assert_eq!(states(&view), [StepState::Done; 5]);
        assert_eq!(offer(&view), Some((SetupAction::Close, "Done")));
        assert_eq!(
            view.next_commands,
            [
                "aws sts get-caller-identity --profile dev",
                "kubectl --context acme-dev/prod get nodes"
            ]
        );

        activity.setup.closed = true;
        assert_eq!(setup_view(&s, &activity), None);
    }

    #[test]
    fn a_sign_in_not_done_is_offered_again_and_no_cluster_means_nothing_to_add() {
        // "unused" was never signed in.
        let s = status();
        let unused = SessionId::Named("unused".into());
        let mut activity = Activity::default();
        activity
            .setup
            .took_start_url("unused.awsapps.com", Ok(plan_for("unused")));
        let view = setup_view(&s, &activity).unwrap();
        assert_eq!(offer(&view), Some((SetupAction::SignIn, "Sign in")));
        activity.busy.insert(unused.clone());
        let view = setup_view(&s, &activity).unwrap();
        assert_eq!(view.steps[1].state, StepState::Running);
        assert_eq!(offer(&view), None);

        // Signed in, no clusters found: the kubeconfig step has nothing to do.
        let corp = SessionId::Named("corp".into());
        let mut activity = Activity::default();
        activity
            .setup
            .took_start_url("corp.awsapps.com", Ok(plan_for("corp")));
        activity
            .directories
            .insert(corp, directory_of(&[("111111111111", None, &["Admin"])]));
        activity
            .setup
            .finished(SetupStep::AddProfiles, Ok("Added 1 profile".into()));
        activity
            .setup
            .finished(SetupStep::FindClusters, Ok("Found 0 clusters".into()));
        let view = setup_view(&s, &activity).unwrap();
        assert_eq!(
            view.steps[4].note.as_deref(),
            Some("No EKS clusters to add")
        );
        assert_eq!(offer(&view), Some((SetupAction::Close, "Done")));
        assert_eq!(
            serde_json::to_value(&view.offer).unwrap()["action"],
            "close"
        );
    }
}
