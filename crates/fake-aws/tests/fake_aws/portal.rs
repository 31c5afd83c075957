//! The SSO portal: role credentials, account and role listings, logout.

use aws_sdk_sso::error::ProvideErrorMetadata;
use ssobar_fake_aws::{FakeAccount, FakeAws, FakeConfig, Operation};

use crate::sdk::{self, ACCOUNT_ACCESS, DEV_ACCOUNT, PROD_ACCOUNT};

#[tokio::test]
async fn role_credentials_are_issued_and_remembered() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let session = sdk::session(&fake);
    let before = jiff::Timestamp::now().as_millisecond();
    let answer = sdk::sso(&fake)
        .get_role_credentials()
        .access_token(&session.access_token)
        .account_id(DEV_ACCOUNT)
        .role_name("AdministratorAccess")
        .send()
        .await
        .unwrap();
    let credentials = answer.role_credentials().unwrap();
    let access_key_id = credentials.access_key_id().unwrap();
    assert!(access_key_id.starts_with("ASIA"));
    assert_eq!(access_key_id.len(), 20);
    assert_eq!(credentials.secret_access_key().unwrap().len(), 40);
    // Epoch milliseconds, an hour from now.
    let lifetime_ms = credentials.expiration() - before;
    assert!(
        (3_595_000..=3_605_000).contains(&lifetime_ms),
        "{lifetime_ms}"
    );

    let remembered = fake.credentials(access_key_id).unwrap();
    assert_eq!(
        Some(remembered.secret_access_key.as_str()),
        credentials.secret_access_key()
    );
    assert_eq!(
        Some(remembered.session_token.as_str()),
        credentials.session_token()
    );
    assert_eq!(
        remembered.expiration.as_millisecond(),
        credentials.expiration()
    );
    assert_eq!(remembered.account_id, DEV_ACCOUNT);
    assert_eq!(remembered.issued_by, Operation::GetRoleCredentials);
    assert!(remembered.role_arn.starts_with(
        "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_AdministratorAccess_"
    ), "{}", remembered.role_arn);
    assert_eq!(fake.credentials_issued(), vec![remembered]);
}

#[tokio::test]
async fn accounts_and_roles_are_listed_page_by_page() {
    let accounts = (1..=5)
        .map(|n| {
            FakeAccount::new(
                &format!("00000000000{n}"),
                &format!("account-{n}"),
                &format!("aws-{n}@example.com"),
                &["ReadOnlyAccess", "Billing", "Auditor"],
            )
        })
        .collect();
    let fake = FakeAws::start(FakeConfig {
        accounts,
        ..FakeConfig::default()
    })
    .unwrap();
    let session = sdk::session(&fake);
    let client = sdk::sso(&fake);

    let first = client
        .list_accounts()
        .access_token(&session.access_token)
        .max_results(2)
        .send()
        .await
        .unwrap();
    assert_eq!(first.account_list().len(), 2);
    assert_eq!(first.account_list()[0].account_name(), Some("account-1"));
    assert_eq!(
        first.account_list()[0].email_address(),
        Some("aws-1@example.com")
    );
    assert!(first.next_token().is_some());

    let pages: Vec<_> = client
        .list_accounts()
        .access_token(&session.access_token)
        .max_results(2)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    let page_sizes: Vec<_> = pages.iter().map(|page| page.account_list().len()).collect();
    assert_eq!(page_sizes, vec![2, 2, 1]);
    let ids: Vec<_> = pages
        .iter()
        .flat_map(|page| page.account_list())
        .map(|account| account.account_id().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids,
        (1..=5)
            .map(|n| format!("00000000000{n}"))
            .collect::<Vec<_>>()
    );
    assert_eq!(pages.last().unwrap().next_token(), None);

    let roles: Vec<_> = client
        .list_account_roles()
        .access_token(&session.access_token)
        .account_id("000000000003")
        .max_results(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    let role_names: Vec<_> = roles.iter().map(|role| role.role_name().unwrap()).collect();
    assert_eq!(role_names, vec!["ReadOnlyAccess", "Billing", "Auditor"]);
    assert!(
        roles
            .iter()
            .all(|role| role.account_id() == Some("000000000003"))
    );
    assert_eq!(fake.calls(Operation::ListAccounts), 4);
    assert_eq!(fake.calls(Operation::ListAccountRoles), 2);
}

#[tokio::test]
async fn bad_tokens_get_401_and_unassigned_roles_403() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let client = sdk::sso(&fake);
    let get = |token: String, account: &str, role: &str| {
        client
            .get_role_credentials()
            .access_token(token)
            .account_id(account)
            .role_name(role)
            .send()
    };

    let unknown = get("not-a-token".to_owned(), DEV_ACCOUNT, "AdministratorAccess")
        .await
        .unwrap_err();
    assert_eq!(sdk::http_status(&unknown), Some(401));
    let unknown = unknown.into_service_error();
    assert!(unknown.is_unauthorized_exception());
    assert_eq!(
        unknown.message(),
        Some("Session token not found or invalid")
    );

    let expired = fake.issue_session(&sdk::start_url(&fake), &[ACCOUNT_ACCESS], -60, 86_400);
    let error = get(expired.access_token, DEV_ACCOUNT, "AdministratorAccess")
        .await
        .unwrap_err();
    assert!(error.into_service_error().is_unauthorized_exception());

    let session = sdk::session(&fake);
    let not_assigned = get(
        session.access_token.clone(),
        PROD_ACCOUNT,
        "AdministratorAccess",
    )
    .await
    .unwrap_err();
    assert_eq!(sdk::http_status(&not_assigned), Some(403));
    assert_eq!(not_assigned.code(), Some("ForbiddenException"));
    assert_eq!(not_assigned.message(), Some("No access"));
    let unknown_account = get(session.access_token, "999999999999", "ReadOnlyAccess")
        .await
        .unwrap_err();
    assert_eq!(unknown_account.code(), Some("ForbiddenException"));
    assert!(fake.credentials_issued().is_empty());
}

#[tokio::test]
async fn logout_ends_the_whole_sign_in_session() {
    let fake = FakeAws::start(FakeConfig::default()).unwrap();
    let client = sdk::sso(&fake);
    let oidc = sdk::oidc(&fake);
    let session = sdk::session(&fake);
    let other_session = sdk::session(&fake);
    let refreshed = sdk::refresh(&oidc, &session, session.refresh_token.clone().unwrap())
        .send()
        .await
        .unwrap();

    client
        .logout()
        .access_token(refreshed.access_token().unwrap())
        .send()
        .await
        .unwrap();

    for token in [
        session.access_token.as_str(),
        refreshed.access_token().unwrap(),
    ] {
        let error = client
            .list_accounts()
            .access_token(token)
            .send()
            .await
            .unwrap_err();
        assert!(error.into_service_error().is_unauthorized_exception());
    }
    let refresh_after_logout = sdk::refresh(&oidc, &session, refreshed.refresh_token().unwrap())
        .send()
        .await
        .unwrap_err();
    assert!(
        refresh_after_logout
            .into_service_error()
            .is_invalid_grant_exception()
    );
    let again = client
        .logout()
        .access_token(&session.access_token)
        .send()
        .await
        .unwrap_err();
    assert!(again.into_service_error().is_unauthorized_exception());

    client
        .list_accounts()
        .access_token(&other_session.access_token)
        .send()
        .await
        .expect("another sign-in is not affected");
}
