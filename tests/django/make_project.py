"""A real Django project for `tests/api/import_django.rs`: users made by Django's own
hashers (each one it ships), DRF authtoken keys, an allauth social account, simplejwt
tokens (one blacklisted), in a SQLite database. Prints what the test needs as JSON.

Usage: python3 make_project.py DIR
"""

import json
import sys
from pathlib import Path

import django
from django.conf import settings

directory = Path(sys.argv[1])
SECRET_KEY = "django-insecure-test-key-for-userd-import-0123456789abcdef"
(directory / "secret_key").write_text(SECRET_KEY + "\n")

settings.configure(
    SECRET_KEY=SECRET_KEY,
    USE_TZ=True,
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(directory / "django.db")}},
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "rest_framework",
        "rest_framework.authtoken",
        "rest_framework_simplejwt.token_blacklist",
    ],
    # Every hasher Django ships that userd verifies; the first one is Django's default.
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.BCryptPasswordHasher",
        "django.contrib.auth.hashers.ScryptPasswordHasher",
    ],
)
django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402
from rest_framework_simplejwt.tokens import RefreshToken  # noqa: E402

call_command("migrate", verbosity=0)

# allauth's table, with the schema django-allauth's migrations create.
with connection.cursor() as c:
    c.execute(
        'CREATE TABLE "socialaccount_socialaccount" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, '
        '"provider" varchar(200) NOT NULL, "uid" varchar(191) NOT NULL, "last_login" datetime NOT NULL, '
        '"date_joined" datetime NOT NULL, "extra_data" text NOT NULL CHECK ((JSON_VALID("extra_data") OR '
        '"extra_data" IS NULL)), "user_id" integer NOT NULL REFERENCES "auth_user" ("id") DEFERRABLE '
        'INITIALLY DEFERRED, UNIQUE ("provider", "uid"))'
    )

PASSWORD = "Legacy pässword 42!"
HASHERS = ["pbkdf2_sha256", "pbkdf2_sha1", "argon2", "bcrypt_sha256", "bcrypt", "scrypt"]
users = []
for i, hasher in enumerate(HASHERS):
    u = User.objects.create(
        username=f"{hasher}_user",
        email=f"{hasher}@example.com",
        first_name="Legacy",
        last_name=hasher,
        is_staff=(i == 0),
        password=make_password(PASSWORD, hasher=hasher),
    )
    users.append({"id": u.id, "username": u.username, "email": u.email, "hasher": hasher, "hash": u.password})

nopass = User.objects.create(username="unusable_user", email="unusable@example.com")
nopass.set_unusable_password()
nopass.save()
User.objects.create(username="bad email", email="not-an-email", password=make_password(PASSWORD))

first = User.objects.get(username="pbkdf2_sha256_user")
token = Token.objects.create(user=first)
with connection.cursor() as c:
    c.execute(
        "INSERT INTO socialaccount_socialaccount (provider, uid, last_login, date_joined, extra_data, user_id) "
        "VALUES ('google', '1234567890', '2024-01-02 03:04:05.000000', '2023-01-02 03:04:05.000000', %s, %s)",
        [json.dumps({"email": "legacy.google@example.com", "sub": "1234567890"}), first.id],
    )
refresh = RefreshToken.for_user(first)
blacklisted = RefreshToken.for_user(first)
blacklisted.blacklist()

print(
    json.dumps(
        {
            "password": PASSWORD,
            "users": users,
            "unusable": {"username": nopass.username, "email": nopass.email},
            "token_key": token.key,
            "access": str(refresh.access_token),
            "refresh": str(refresh),
            "blacklisted_refresh": str(blacklisted),
            "database": str(directory / "django.db"),
            "secret_file": str(directory / "secret_key"),
        }
    )
)
