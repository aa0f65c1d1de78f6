#!/usr/bin/env python3
"""Writes the hand-made seeds of the byte-level targets into fuzz/seeds/<target>/.

`cargo xtask fuzz` (and `cargo fuzz cmin`) merge them with what the fuzzer found into
the committed, minimised fuzz/corpus/<target>/. Re-run after changing an input layout:

    python3 fuzz/seeds/make_seeds.py
"""

import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# fuzz/src/lib.rs STATUSES: the selector byte is an index into this table.
STATUSES = [200, 201, 202, 204, 206, 299, 400, 401, 403, 404, 408, 409, 410, 423, 429,
            500, 502, 503, 504, 100, 101, 103, 301, 302, 304, 307, 418, 451, 505, 599,
            600, 999]


def write(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def answer(status, body, retry_after=None, date=False):
    """parse_token_response layout: status selector, header flags, Retry-After length and
    bytes, body."""
    ra = (retry_after or "").encode()
    flags = (1 if retry_after is not None else 0) | (2 if date else 0)
    if isinstance(body, str):
        body = body.encode()
    return bytes([STATUSES.index(status), flags, len(ra)]) + ra + body


def envelope(code, errors):
    return json.dumps({"response": {"code": code, "errors": errors}})


def main():
    with open(os.path.join(ROOT, "crates/core/tests/fixtures/seed_success.json"), "rb") as f:
        seed = f.read()
    p = "parse_token_response"
    write(p, "seed_success", answer(200, seed))
    write(p, "seed_success_minified", answer(200, json.dumps(json.loads(seed), separators=(",", ":"))))
    write(p, "lib_example", answer(200, '{"response":{"code":"SUCCESS","data":{"accessToken":"a.b.c","refreshToken":"d.e.f","expiresIn":480,"refreshExpiresIn":3660,"tokenType":"Bearer"}}}'))
    write(p, "string_lifetime", answer(200, '{"response":{"code":"SUCCESS","data":{"accessToken":"a.b.c","refreshToken":"d.e.f","expiresIn":480,"refreshExpiresIn":"3660","tokenType":"Bearer"}}}'))
    write(p, "no_token_type", answer(201, '{"response":{"code":"SUCCESS","data":{"accessToken":"a","refreshToken":"r","expiresIn":"480","refreshExpiresIn":3660}}}'))
    write(p, "accepted_202", answer(202, '{"response":{"code":"ACCEPTED","data":null}}'))
    write(p, "bad_lifetimes", answer(200, '{"response":{"code":"SUCCESS","data":{"accessToken":"a","refreshToken":"r","expiresIn":-1,"refreshExpiresIn":4.5e2}}}'))
    # Every error shape of the reference doc.
    for status, code in [(400, "VALIDATION_ERROR"), (401, "AUTHENTICATION_ERROR"),
                         (401, "AUTHORIZATION_ERROR"), (403, "AUTHORIZATION_ERROR"),
                         (404, "NOT_FOUND_ERROR"), (404, "GENERAL_ERROR"),
                         (423, "RESOURCE_LOCKED"), (429, "MAX_OPERATIONS_LIMIT_EXCEEDED"),
                         (500, "GENERAL_ERROR"), (503, "MAINTENANCE_MODE_ERROR"),
                         (403, "ACCESS_DENIED_ERROR"), (503, "SERVICE_BUSY"),
                         (409, "CONFLICT"), (410, "GONE"), (400, "SOME_NEW_CODE")]:
        body = envelope(code, [{"key": "some_key", "message": "Some message.", "details": {}}])
        write(p, f"error_{status}_{code.lower()}", answer(status, body))
    write(p, "error_401_invalid_token", answer(401, '{"response": {"code": "AUTHENTICATION_ERROR", "errors": [\n  {"key": "invalid_token", "message": "Invalid token", "details": {}}]}}'))
    write(p, "error_429_retry_after", answer(429, envelope("MAX_OPERATIONS_LIMIT_EXCEEDED", [{"key": "too.many.requests", "message": "Too many requests", "details": {"errorId": "a1b2c3d4-e5f6"}}]), retry_after="7"))
    write(p, "error_503_retry_after_date", answer(503, envelope("MAINTENANCE_MODE_ERROR", [{"key": "k", "message": "m"}]), retry_after="Wed, 21 Oct 2015 07:28:30 GMT", date=True))
    write(p, "error_400_validation_error_id", answer(400, envelope("VALIDATION_ERROR", [{"key": "invalid_parameter", "message": "refreshToken is required", "details": {"field": "refreshToken", "errorId": "0f1e2d"}}])))
    write(p, "error_details_shapes", answer(400, envelope("VALIDATION_ERROR", [
        {"key": "obj", "message": "m1", "details": {"errorId": "e1"}},
        {"key": "null", "message": "m2", "details": None},
        {"key": "missing", "message": "m3"},
        {"key": "string", "message": "m4", "details": "some text"}])))
    write(p, "error_odd_entries", answer(500, '{"response":{"code":"GENERAL_ERROR","errors":["just a string",42,{"key":7,"message":{"text":"nested"}}]}}'))
    # Shapes seen in the wild: errors as one object (Smartling's spec), the older
    # messages, entries under data, error codes on a 2xx, no code beside a pair.
    write(p, "error_400_errors_object", answer(400, '{"response":{"code":"VALIDATION_ERROR","errors":{"key":"unknown.field","message":"The field unknown.parameter was not expected.","details":"unknown.parameter"}}}'))
    write(p, "error_400_messages", answer(400, '{"response":{"code":"VALIDATION_ERROR","messages":["refreshToken is required"]}}'))
    write(p, "error_400_data_entries", answer(400, '{"response":{"code":"VALIDATION_ERROR","data":[{"key":"k","message":"m"}]}}'))
    write(p, "error_401_null_entry", answer(401, '{"response":{"code":"VALIDATION_ERROR","errors":[{"key":null,"message":null}]}}'))
    write(p, "error_code_on_200", answer(200, '{"response":{"code":"VALIDATION_ERROR","errors":[{"key":"k","message":"m"}],"messages":["m2"]}}'))
    write(p, "no_code_200", answer(200, '{"response":{"data":{"accessToken":"a.b.c","refreshToken":"d.e.f","expiresIn":480,"refreshExpiresIn":3660,"tokenType":"Bearer"}}}'))
    write(p, "null_code_202", answer(202, '{"response":{"code":null,"data":{"tokenType":null,"refreshExpiresIn":3660,"expiresIn":480,"refreshToken":"d.e.f","accessToken":"a.b.c"}}}'))
    write(p, "accepted_pair_202", answer(202, ' {"response" : {"data" : {"accessToken" : "a.b.c" , "refreshToken":"d.e.f","expiresIn":0,"refreshExpiresIn":31622400} ,"code":"ACCEPTED"}}\n'))
    write(p, "plain_form_near_misses", answer(200, '{"response":{"code":"SUCCESS","data":{"accessToken":"a\\/b","refreshToken":"d.e.f","expiresIn":0480,"refreshExpiresIn":3660}}}'))
    # Secrets and paths in server text, for the redaction checks.
    write(p, "proxy_echo_403", answer(403, '<html><p>Blocked: {"userIdentifier":"bob","userSecret":"Tr0ub4dor&3-horse!battery~staple"} at /auth-api/v2/authenticate?access_token=abc%2Fdef~1</p></html>'))
    write(p, "error_file_not_found", answer(404, '{"response":{"code":"NOT_FOUND_ERROR","errors":[{"key":"file.not.found","message":"File not found: some/dir/Long-File_Name2.json"}]}}'))
    write(p, "proxy_html_502", answer(502, "<html><body><h1>502 Bad Gateway</h1></body></html>"))
    write(p, "proxy_empty_504", answer(504, ""))
    write(p, "truncated_200", answer(200, '{"response":{"code":"SUCCESS","data":{"accessTo'))
    write(p, "not_json_200", answer(200, "<html>OK</html>"))

    b = "base_url"
    for i, url in enumerate([
        "https://api.smartling.com", "HTTPS://API.SMARTLING.COM/", "https://10.0.0.1:8443/prefix/",
        "https://gateway.example/smartling/", "http://127.0.0.1:8080/", "http://127.8.9.10:1234",
        "http://localhost:80", "http://LOCALHOST", "http://[::1]:9000", "http://[::1]:8080/x",
        "http://api.smartling.com", "http://128.0.0.1", "http://localhost.evil.com", "http://[::2]",
        "http://127.1", "ftp://api.smartling.com", "https://user:pw@api.smartling.com",
        "https://api.smartling.com/?q=1", "https://api.smartling.com/#frag", "https://",
        "http://127.0.0.1:99999", "http://[::1]x", "api.smartling.com", "/relative", "  "]):
        secrets = ["user-id", "s3cret\"\\\n\u00e9\U0001F600", "eyJhbGciOiJSUzI1NiJ9.e30.sig"][: 1 + i % 3]
        write(b, f"url_{i:02}", "\0".join([url] + secrets).encode())


if __name__ == "__main__":
    main()
