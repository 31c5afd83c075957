"""botocore (the AWS CLI's own code) as the peer in ssobar's compatibility tests.

Each subcommand does one thing the AWS CLI does and prints what it saw as JSON on stdout.
The Rust tests run it in a throwaway HOME with AWS_ENDPOINT_URL_* pointing at
ssobar-fake-aws, and compare what it prints with what ssobar wrote or read.
"""

import argparse
import base64
import json
import sys
import time
import urllib.request

import botocore.session
import botocore.tokens
import dateutil.parser
from botocore.exceptions import ClientError
from botocore.utils import JSONFileCache, SSOTokenLoader


def epoch(value):
    """botocore's own reading of a cached timestamp, as whole seconds since 1970."""
    if not hasattr(value, "timestamp"):
        value = dateutil.parser.parse(value)
    return int(value.timestamp())


def load_token(args):
    loader = SSOTokenLoader(cache=JSONFileCache(args.cache_dir))
    token = loader(args.start_url, session_name=args.session_name)
    print(json.dumps({"token": token, "expiresAtEpoch": epoch(token["expiresAt"])}))


def refresh_token(args):
    session = botocore.session.Session(profile=args.profile)
    provider = botocore.tokens.SSOTokenProvider(session)
    frozen = provider.load_token().get_frozen_token()
    print(json.dumps({"token": frozen.token, "expirationEpoch": epoch(frozen.expiration)}))


def role_credentials(args):
    session = botocore.session.Session(profile=args.profile)
    creds = session.get_credentials().get_frozen_credentials()
    sts = session.create_client("sts", region_name="us-east-1")
    identity = sts.get_caller_identity()
    print(json.dumps({"accessKeyId": creds.access_key, "arn": identity["Arn"]}))


def sso_config(args):
    """Each profile's SSO settings as botocore's own SSO credential provider resolves them
    (through its sso-session, consistency checks included), or the error it raises."""
    from botocore.credentials import SSOProvider

    session = botocore.session.Session()
    resolved = {}
    for name in args.profile:
        provider = SSOProvider(
            load_config=lambda: session.full_config,
            client_creator=session.create_client,
            profile_name=name,
        )
        try:
            resolved[name] = provider._load_sso_config()
        except Exception as e:
            resolved[name] = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(resolved))


def caller_identity_loop(args):
    """sts get-caller-identity through botocore's default credential chain, again and again
    for a while, as a long-running program makes calls; each call notes the access key it was
    signed with (read from its Authorization header) or the error it met."""
    session = botocore.session.Session()
    try:
        sts = session.create_client("sts")
    except Exception as e:
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        return
    signed_with = []

    def note_key(request, **kwargs):
        auth = request.headers.get("Authorization", b"")
        if isinstance(auth, bytes):
            auth = auth.decode()
        signed_with.append(auth.split("Credential=")[1].split("/")[0])

    sts.meta.events.register("before-send.sts.GetCallerIdentity", note_key)
    calls = []
    deadline = time.monotonic() + args.seconds
    while True:
        at = time.time()
        try:
            arn = sts.get_caller_identity()["Arn"]
            calls.append({"at": at, "accessKeyId": signed_with[-1], "arn": arn})
        except Exception as e:
            calls.append({"at": at, "error": f"{type(e).__name__}: {e}"})
        if time.monotonic() >= deadline:
            break
        time.sleep(args.every)
    print(json.dumps({"method": session.get_credentials().method, "calls": calls}))


def profiles(args):
    """The profiles botocore reads from the AWS config, with their SSO settings."""
    session = botocore.session.Session()
    config = session.full_config["profiles"]
    keys = ("sso_session", "sso_account_id", "sso_role_name", "region")
    print(json.dumps({name: {k: config[name].get(k) for k in keys}
                      for name in session.available_profiles}))


def error_code(call):
    try:
        call()
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None


def drive_fake(args):
    """The whole sign-in and credentials path, spoken by botocore to the fake."""
    session = botocore.session.Session()
    oidc = session.create_client("sso-oidc", region_name="us-east-1")
    reg = oidc.register_client(
        clientName="botocore-peer", clientType="public", scopes=["sso:account:access"]
    )
    client = {"clientId": reg["clientId"], "clientSecret": reg["clientSecret"]}
    device = oidc.start_device_authorization(startUrl=args.start_url, **client)
    grant = "urn:ietf:params:oauth:grant-type:device_code"

    def poll():
        return oidc.create_token(grantType=grant, deviceCode=device["deviceCode"], **client)

    pending = error_code(poll)
    with urllib.request.urlopen(device["verificationUriComplete"]) as page:
        approval_status = page.status
    token = poll()
    refreshed = oidc.create_token(
        grantType="refresh_token", refreshToken=token["refreshToken"], **client
    )
    reused_refresh = error_code(
        lambda: oidc.create_token(
            grantType="refresh_token", refreshToken=token["refreshToken"], **client
        )
    )

    sso = session.create_client("sso", region_name="us-east-1")
    bearer = refreshed["accessToken"]
    accounts = [
        a
        for page in sso.get_paginator("list_accounts").paginate(
            accessToken=bearer, PaginationConfig={"PageSize": 1}
        )
        for a in page["accountList"]
    ]
    account = accounts[0]["accountId"]
    roles = sso.list_account_roles(accessToken=bearer, accountId=account)["roleList"]
    role = roles[0]["roleName"]
    creds = sso.get_role_credentials(roleName=role, accountId=account, accessToken=bearer)[
        "roleCredentials"
    ]
    bad_bearer = error_code(
        lambda: sso.get_role_credentials(
            roleName=role, accountId=account, accessToken="not-a-token"
        )
    )

    def sts_with(access_key, secret, session_token):
        return session.create_client(
            "sts",
            region_name="us-east-1",
            aws_access_key_id=access_key,
            aws_secret_access_key=secret,
            aws_session_token=session_token,
        )

    sts = sts_with(creds["accessKeyId"], creds["secretAccessKey"], creds["sessionToken"])
    identity = sts.get_caller_identity()
    assumed = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/Deploy", RoleSessionName="botocore-peer"
    )["Credentials"]
    chained = sts_with(
        assumed["AccessKeyId"], assumed["SecretAccessKey"], assumed["SessionToken"]
    ).get_caller_identity()
    bad_signature = error_code(
        lambda: sts_with(
            creds["accessKeyId"], "wrong-secret", creds["sessionToken"]
        ).get_caller_identity()
    )
    sso.logout(accessToken=bearer)
    after_logout = error_code(
        lambda: sso.list_accounts(accessToken=bearer)
    )

    print(
        json.dumps(
            {
                "pendingError": pending,
                "approvalStatus": approval_status,
                "gotRefreshToken": "refreshToken" in token,
                "refreshRotated": refreshed["refreshToken"] != token["refreshToken"],
                "reusedRefreshError": reused_refresh,
                "accountIds": [a["accountId"] for a in accounts],
                "roleNames": [r["roleName"] for r in roles],
                "expirationMs": creds["expiration"],
                "badBearerError": bad_bearer,
                "identityArn": identity["Arn"],
                "identityAccount": identity["Account"],
                "chainedArn": chained["Arn"],
                "assumedExpiration": assumed["Expiration"].isoformat(),
                "badSignatureError": bad_signature,
                "afterLogoutError": after_logout,
            }
        )
    )


def verify_eks_token(args):
    """Re-sign the token's request with botocore's SigV4 presigner at the token's own time."""
    import datetime
    import urllib.parse
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    creds = json.load(open(args.credentials))
    encoded = args.token[len("k8s-aws-v1."):]
    url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    theirs = dict(query)
    plain = [(k, v) for k, v in query if not k.startswith("X-Amz-")]
    region = theirs["X-Amz-Credential"].split("/")[2]
    signed_at = datetime.datetime.strptime(theirs["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    botocore.auth.get_current_datetime = lambda remove_tzinfo=True: signed_at
    request = AWSRequest(
        method="GET",
        url=f"{parts.scheme}://{parts.netloc}{parts.path}?{urllib.parse.urlencode(plain)}",
        headers={"x-k8s-aws-id": args.cluster_id},
    )
    signer = botocore.auth.SigV4QueryAuth(
        Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]),
        "sts",
        region,
        expires=60,
    )
    signer.add_auth(request)
    ours = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(request.url).query))
    print(json.dumps({
        "botocore": ours["X-Amz-Signature"],
        "ssobar": theirs["X-Amz-Signature"],
        "signedHeaders": theirs["X-Amz-SignedHeaders"],
        "expires": theirs["X-Amz-Expires"],
    }))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("load-token")
    p.add_argument("--cache-dir", required=True)
    p.add_argument("--start-url", required=True)
    p.add_argument("--session-name")
    p.set_defaults(run=load_token)
    p = sub.add_parser("refresh-token")
    p.add_argument("--profile", required=True)
    p.set_defaults(run=refresh_token)
    p = sub.add_parser("role-credentials")
    p.add_argument("--profile", required=True)
    p.set_defaults(run=role_credentials)
    p = sub.add_parser("sso-config")
    p.add_argument("--profile", action="append", required=True)
    p.set_defaults(run=sso_config)
    p = sub.add_parser("caller-identity-loop")
    p.add_argument("--seconds", type=float, default=0)
    p.add_argument("--every", type=float, default=5)
    p.set_defaults(run=caller_identity_loop)
    p = sub.add_parser("profiles")
    p.set_defaults(run=profiles)
    p = sub.add_parser("drive-fake")
    p.add_argument("--start-url", required=True)
    p.set_defaults(run=drive_fake)
    p = sub.add_parser("verify-eks-token")
    p.add_argument("--token", required=True)
    p.add_argument("--credentials", required=True, help="credential_process JSON file")
    p.add_argument("--cluster-id", required=True)
    p.set_defaults(run=verify_eks_token)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    sys.exit(main())
