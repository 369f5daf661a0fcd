#!/usr/bin/env python3
"""Mints the HS256 JWT the doorman-jwt benchmark target sends: issuer, audience and scope as its
config expects, valid for a day. Usage: mint_jwt.py SECRET_FILE (the secret is the file's bytes
as the gateway reads them)."""
import base64
import hashlib
import hmac
import json
import sys
import time


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


secret = open(sys.argv[1], "rb").read()
# The gateway drops one trailing newline (`echo secret > file` adds one); so must we.
if secret.endswith(b"\r\n"):
    secret = secret[:-2]
elif secret.endswith(b"\n"):
    secret = secret[:-1]
now = int(time.time())
header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
claims = b64(json.dumps({
    "iss": "https://bench.invalid/", "aud": "bench", "sub": "bench", "scope": "bench",
    "iat": now, "exp": now + 86400,
}).encode())
signing_input = f"{header}.{claims}".encode()
signature = b64(hmac.new(secret, signing_input, hashlib.sha256).digest())
print(f"{header}.{claims}.{signature}")
