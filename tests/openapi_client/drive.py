"""Drives a Python client generated from userd's OpenAPI document against a live userd.

Run by `tests/api/openapi_client.rs`, which generates the package `userd_client` with
openapi-python-client into a temporary folder and puts that folder on PYTHONPATH:

    python3 drive.py --base-url http://127.0.0.1:PORT

Every call goes through the generated functions, with `raise_on_unexpected_status`, so a
status the document does not list fails the run too. Prints one line per step and, at
the end, `journey complete`; exits 1 with every failed check listed otherwise.
"""

import argparse
import io
import sys
import uuid

import httpx
from userd_client import AuthenticatedClient, Client
from userd_client.api.account import (
    account_me,
    account_settings_update,
    account_storage,
    account_token_regenerate,
)
from userd_client.api.files import files_download, files_upload
from userd_client.api.users import (
    users_identities_list,
    users_identities_unlink,
    users_login,
    users_login_google,
    users_logout,
    users_profile,
    users_refresh_token,
    users_register,
)
from userd_client.errors import UnexpectedStatus
from userd_client.models import (
    AuthResponse,
    ErrorResponse,
    FileOut,
    GoogleLoginRequest,
    IdentitiesResponse,
    LoginRequest,
    MeResponse,
    MessageResponse,
    ProfileResponse,
    RefreshRequest,
    RefreshResponse,
    RegisterRequest,
    SettingsRequest,
    SettingsResponse,
    StatusResponse,
    StorageResponse,
    TokenResponse,
    UploadForm,
)
from userd_client.types import File

PASSWORD = "securepassword123"
TIMEOUT = httpx.Timeout(30.0)


class Journey:
    """Collects failed checks, so one run reports all of them."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def step(self, name: str, response, status: int, parsed_type: type):
        """Checks one call's status and parsed body type; returns the parsed body."""
        ok = response.status_code == status and isinstance(response.parsed, parsed_type)
        if ok:
            print(f"ok   {name}: {status}")
        else:
            self.fail(
                f"{name}: expected {status} with {parsed_type.__name__}, got {int(response.status_code)} "
                f"with {type(response.parsed).__name__}: {response.content[:300]!r}"
            )
        return response.parsed if ok else None

    def check(self, name: str, condition: bool, detail: str) -> None:
        if condition:
            print(f"ok   {name}")
        else:
            self.fail(f"{name}: {detail}")

    def fail(self, message: str) -> None:
        print(f"FAIL {message}")
        self.failures.append(message)


def authenticated(base_url: str, token: str, prefix: str = "Bearer") -> AuthenticatedClient:
    return AuthenticatedClient(
        base_url=base_url, token=token, prefix=prefix, timeout=TIMEOUT, raise_on_unexpected_status=True
    )


def drive(base_url: str, journey: Journey) -> None:
    anonymous = Client(base_url=base_url, timeout=TIMEOUT, raise_on_unexpected_status=True)
    email = f"client-{uuid.uuid4().hex[:12]}@example.com"

    # Document 002: register, log in, profile, refresh.
    registered = journey.step(
        "users_register",
        users_register.sync_detailed(
            client=anonymous,
            body=RegisterRequest(
                email=email,
                password=PASSWORD,
                confirm_password=PASSWORD,
                first_name="Ada",
                last_name="Lovelace",
                company_name="Analytical Engines",
            ),
        ),
        201,
        AuthResponse,
    )
    if registered is None:
        return
    journey.check(
        "registered user",
        registered.data.user.email == email and registered.data.user.first_name == "Ada",
        f"{registered.data.user.to_dict()}",
    )

    refused = users_login.sync_detailed(client=anonymous, body=LoginRequest(email=email, password="wrong-password"))
    wrong = journey.step("users_login with a wrong password", refused, 401, ErrorResponse)
    if wrong is not None:
        journey.check("login refusal message", wrong.message == "Invalid email or password.", wrong.message)

    login = journey.step(
        "users_login",
        users_login.sync_detailed(client=anonymous, body=LoginRequest(email=email, password=PASSWORD)),
        200,
        AuthResponse,
    )
    if login is None:
        return
    access, refresh = login.data.tokens.access, login.data.tokens.refresh
    journey.check("login tokens", bool(access) and bool(refresh), f"{login.data.tokens.to_dict()}")

    profile = journey.step(
        "users_profile", users_profile.sync_detailed(client=authenticated(base_url, access)), 200, ProfileResponse
    )
    if profile is not None:
        journey.check(
            "profile",
            profile.data.email == email and profile.data.id == registered.data.user.id,
            f"{profile.to_dict()}",
        )

    # Google login (not configured here: the documented 400) and the linked providers.
    journey.step(
        "users_login_google without configuration",
        users_login_google.sync_detailed(client=anonymous, body=GoogleLoginRequest(token="eyJhbGciOiJSUzI1NiJ9.e30.c2ln")),
        400,
        ErrorResponse,
    )
    identities = journey.step(
        "users_identities_list",
        users_identities_list.sync_detailed(client=authenticated(base_url, access)),
        200,
        IdentitiesResponse,
    )
    if identities is not None:
        journey.check(
            "identities",
            identities.data.has_password and identities.data.identities == [],
            f"{identities.to_dict()}",
        )
    journey.step(
        "users_identities_unlink of a provider never linked",
        users_identities_unlink.sync_detailed("google", client=authenticated(base_url, access)),
        404,
        ErrorResponse,
    )

    refreshed = journey.step(
        "users_refresh_token",
        users_refresh_token.sync_detailed(client=anonymous, body=RefreshRequest(refresh=refresh)),
        200,
        RefreshResponse,
    )
    if refreshed is None:
        return
    jwt_client = authenticated(base_url, refreshed.access)
    journey.step(
        "users_profile with the refreshed access token",
        users_profile.sync_detailed(client=jwt_client),
        200,
        ProfileResponse,
    )

    # Documents 000/001: the current user and the personal API token.
    me = journey.step("account_me", account_me.sync_detailed(client=jwt_client), 200, MeResponse)
    if me is None:
        return
    journey.check(
        "me",
        me.email == email and me.is_authenticated and me.access_token.startswith("userd_"),
        f"{me.to_dict()}",
    )
    old_token = me.access_token

    settings = journey.step(
        "account_settings_update",
        account_settings_update.sync_detailed(client=jwt_client, body=SettingsRequest(tz="Europe/London")),
        200,
        SettingsResponse,
    )
    if settings is not None:
        journey.check(
            "updated time zone", settings.details.updated_fields.tz == "Europe/London", f"{settings.to_dict()}"
        )

    regenerated = journey.step(
        "account_token_regenerate",
        account_token_regenerate.sync_detailed(client=authenticated(base_url, old_token)),
        200,
        TokenResponse,
    )
    if regenerated is None:
        return
    new_token = regenerated.access_token
    journey.check("a new API token", new_token != old_token and new_token.startswith("userd_"), new_token)
    stale = journey.step(
        "account_me with the replaced API token",
        account_me.sync_detailed(client=authenticated(base_url, old_token)),
        401,
        MessageResponse,
    )
    if stale is not None:
        journey.check("replaced token refused", stale.message == "Not authenticated", stale.message)
    # The personal API token under DRF authtoken's own scheme, as its clients send it.
    api_client = authenticated(base_url, new_token, prefix="Token")
    current = journey.step(
        "account_me with the new API token", account_me.sync_detailed(client=api_client), 200, MeResponse
    )
    if current is not None:
        journey.check("me shows the new token", current.access_token == new_token, current.access_token)

    # Files: upload (multipart), download, storage summary.
    content = "héllo from the generated client\n".encode()
    upload = UploadForm(file=File(payload=io.BytesIO(content), file_name="hello.txt", mime_type="text/plain"))
    uploaded = journey.step("files_upload", files_upload.sync_detailed(client=api_client, body=upload), 201, FileOut)
    if uploaded is not None:
        journey.check(
            "uploaded file",
            uploaded.name == "hello.txt" and uploaded.size == len(content) and uploaded.status == "available",
            f"{uploaded.to_dict()}",
        )
        downloaded = journey.step(
            "files_download", files_download.sync_detailed(id=uploaded.id, client=api_client), 200, File
        )
        if downloaded is not None:
            journey.check("downloaded bytes", downloaded.payload.read() == content, "bytes differ from the upload")
        storage = journey.step(
            "account_storage", account_storage.sync_detailed(client=api_client), 200, StorageResponse
        )
        if storage is not None:
            journey.check(
                "storage summary",
                storage.file_count == 1 and storage.total_bytes == len(content),
                f"{storage.to_dict()}",
            )

    # Document 002's logout ends the login: its refresh and access tokens stop working.
    logout = journey.step(
        "users_logout",
        users_logout.sync_detailed(client=jwt_client, body=RefreshRequest(refresh=refresh)),
        200,
        StatusResponse,
    )
    if logout is not None:
        journey.check("logout message", logout.message == "User logged out successfully", logout.message)
    journey.step(
        "users_refresh_token after logout",
        users_refresh_token.sync_detailed(client=anonymous, body=RefreshRequest(refresh=refresh)),
        401,
        ErrorResponse,
    )
    journey.step("users_profile after logout", users_profile.sync_detailed(client=jwt_client), 401, ErrorResponse)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="userd's address, e.g. http://127.0.0.1:8000")
    args = parser.parse_args()
    journey = Journey()
    try:
        drive(args.base_url.rstrip("/"), journey)
    except UnexpectedStatus as e:
        journey.fail(f"a status the OpenAPI document does not list: {e.status_code}: {e.content[:300]!r}")
    if journey.failures:
        print(f"{len(journey.failures)} check(s) failed:")
        for failure in journey.failures:
            print(f"  - {failure}")
        return 1
    print("journey complete")
    return 0


if __name__ == "__main__":
    sys.exit(main())
