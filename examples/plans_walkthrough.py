#!/usr/bin/env python3
"""Walk the team-plans flow (seed 004) against a running Tessera.

    cargo run --release 2> tessera.log          # development mode, SQLite
    python3 examples/plans_walkthrough.py

The script: makes the first admin with the CLI (`tessera users create-admin`), registers a company
owner (`/v1/auth/register`; plans accept any Tessera bearer token), creates a company, lists the
plans, starts a pro trial, uploads a business licence and applies for ent certification, has the
admin accept it, recharges the wallet by bank transfer (5000.00 CNY, which meets the 400.00 discount
tier) and has the admin confirm the transfer, prepares and buys ent for 10 members and 3 months
from the wallet, upgrades to 15 members (priced pro rata), schedules a downgrade to 12 members,
cancels it, and lists the wallet's charges. Every response is printed; the checks exit non-zero on
any mismatch. Standard library only.
"""

import argparse
import json
import struct
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
import zlib

BASE = "http://127.0.0.1:8080"
FAILURES = []


def request(method, path, token=None, data=None, content_type=None):
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if content_type:
        req.add_header("Content-Type", content_type)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    except urllib.error.URLError as err:
        sys.exit(f"cannot reach {BASE + path}: {err.reason}")
    parsed = json.loads(raw) if raw else None
    print(f"\n>>> {method} {path} -> {status}")
    print(json.dumps(parsed, ensure_ascii=False, indent=2)[:2500])
    return status, parsed


def call(method, path, token=None, body=None):
    data = None if body is None else json.dumps(body).encode()
    return request(method, path, token, data, "application/json" if body is not None else None)


def expect(status, parsed, wanted):
    if status not in wanted:
        sys.exit(f"unexpected status {status} (wanted {sorted(wanted)}): {parsed}")
    return parsed


def check(what, got, wanted):
    ok = got == wanted
    print(f"CHECK {'ok  ' if ok else 'FAIL'} {what}: {got!r}" + ("" if ok else f" (wanted {wanted!r})"))
    if not ok:
        FAILURES.append(what)


def licence_png():
    """A small grey PNG standing in for a scanned business licence."""
    width, height = 40, 30
    rows = b"".join(b"\x00" + b"\x90" * width for _ in range(height))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def upload(path, token, field, filename, content):
    boundary = "walkthrough-" + uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return request("POST", path, token, body, f"multipart/form-data; boundary={boundary}")


def sign_in(email, password):
    call("POST", "/v1/auth/register", body={"email": email, "password": password})
    return expect(*call("POST", "/v1/auth/login", body={"email": email, "password": password}),
                  {200})["data"]["accessToken"]


def main():
    global BASE
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default=BASE)
    parser.add_argument("--admin-email", default="admin@example.com")
    parser.add_argument("--admin-password", default="change-me-please")
    parser.add_argument("--tessera", default="cargo run --release --quiet --",
                        help="how to run the tessera CLI (for create-admin)")
    args = parser.parse_args()
    BASE = args.base.rstrip("/")
    run = uuid.uuid4().hex[:8]

    print("\n### The first admin comes from the CLI: tessera users create-admin")
    subprocess.run(f"{args.tessera} users create-admin --email {args.admin_email} --password-stdin",
                   shell=True, input=args.admin_password.encode(), check=False)
    admin = expect(*call("POST", "/v1/auth/login",
                         body={"email": args.admin_email, "password": args.admin_password}),
                   {200})["data"]["accessToken"]
    owner = sign_in(f"owner-{run}@example.com", "owner password " + run)

    print("\n### POST /company: the caller becomes its owner")
    company = expect(*call("POST", "/company", owner, {"name": f"星河科技 {run}"}), {201})
    plan = f"/company/{company['_id']}/plan"

    print("\n### GET /plan/list and GET /plan/status")
    plans = expect(*call("GET", plan + "/list", owner), {200})
    check("plans listed", [p["type"] for p in plans], ["free", "pro", "ent"])
    status = expect(*call("GET", plan + "/status", owner), {200})
    check("trials possible", status["viable"]["trial"], ["pro", "ent"])

    print("\n### POST /plan/trial {plan: pro}")
    expect(*call("POST", plan + "/trial", owner, {"plan": "pro"}), {201})
    status = expect(*call("GET", plan + "/status", owner), {200})
    check("current is the pro trial", (status["current"]["type"], status["current"]["plan"]), ("trial", "pro"))

    print("\n### Certification for ent: upload the licence, apply, the admin accepts")
    pictures = expect(*upload(plan + "/auth/upload?plan=ent", owner, "auth_pic", "licence.png", licence_png()), {201})
    application = expect(*call("POST", plan + "/auth?plan=ent", owner, {
        "contact": {"realname": "王小明", "gender": "M", "phone": "13800138000", "position": "CEO"},
        "enterprise": {"team_name": f"星河科技 {run}", "certificate_type": "license",
                       "certificate_pic": [pictures[0]["_id"]]},
    }), {201})
    expect(*call("POST", f"/admin/plans/auth/{application['_id']}/accept", admin, {}), {200})
    status = expect(*call("GET", plan + "/status", owner), {200})
    check("certified", status["certified"], "ent")

    print("\n### Recharge 5000.00 by bank transfer (discount tier: +400.00), the admin confirms it")
    info = expect(*call("GET", plan + "/recharge/info", owner), {200})
    print("tiers:", [(d["amount"], d["extra_amount"]) for d in info["discounts"]])
    recharge = expect(*call("POST", plan + "/recharge", owner, {"amount": 5000, "payment_method": "banktrans"}), {201})
    check("granted credit of the tier", recharge["extra_amount"], "400.00")
    expect(*call("POST", f"/admin/plans/payments/{recharge['paymentId']}/confirm", admin, {}), {200})
    wallet = expect(*call("GET", plan + "/wallet", owner), {200})
    check("wallet after the recharge", wallet["balance"], "5400.00")

    print("\n### Prepare, then buy ent for 10 members and 3 months from the wallet")
    order = {"order_type": "newly", "plan": "ent", "times": 3,
             "products": [{"product_no": "ent-member-month", "quantity": 10}]}
    prepared = expect(*call("POST", plan + "/order/prepare", owner, order), {200})
    check("prepare is valid", prepared["isValid"], True)
    placed = expect(*call("POST", plan + "/order", owner, order), {201})
    check("same price as prepared", placed["amount"], prepared["order"]["amount"])
    expect(*call("POST", plan + "/order/pending/pay", owner, {"payment_method": "balance"}), {200, 201})
    status = expect(*call("GET", plan + "/status", owner), {200})
    check("ent is current", (status["current"]["type"], status["current"]["plan"]), ("paid", "ent"))

    print("\n### Upgrade to 15 members (pro rata for the rest of the period), paid from the wallet")
    upgrade = expect(*call("POST", plan + "/order", owner, {
        "order_type": "upgrade", "plan": "ent",
        "products": [{"product_no": "ent-member-month", "quantity": 15}]}), {201})
    print("upgrade price:", upgrade["amount"], upgrade.get("proration"))
    expect(*call("POST", f"{plan}/order/{upgrade['_id']}/pay", owner, {"payment_method": "balance"}), {200, 201})

    print("\n### Schedule a downgrade to 12 members at the period's end, then cancel it")
    degrade = expect(*call("POST", plan + "/order", owner, {
        "order_type": "degrade", "plan": "ent",
        "products": [{"product_no": "ent-member-month", "quantity": 12}]}), {201})
    check("downgrade scheduled", degrade["status"], "scheduled")
    status = expect(*call("GET", plan + "/status", owner), {200})
    check("status shows it", status["degrade"]["order"]["_id"], degrade["_id"])
    expect(*call("DELETE", plan + "/degrade", owner), {204})
    status = expect(*call("GET", plan + "/status", owner), {200})
    check("downgrade cancelled", status.get("degrade"), None)

    print("\n### GET /plan/charge and GET /plan/wallet")
    charges = expect(*call("GET", plan + "/charge", owner), {200})
    wallet = expect(*call("GET", plan + "/wallet", owner), {200})

    def fen(text):
        sign = -1 if text.startswith("-") else 1
        yuan, cents = text.lstrip("-").split(".")
        return sign * (int(yuan) * 100 + int(cents))

    check("charges sum to the balance", sum(fen(c["amount"]) for c in charges["list"]), fen(wallet["balance"]))

    if FAILURES:
        sys.exit(f"\n{len(FAILURES)} check(s) failed: {FAILURES}")
    print("\nAll checks passed.")


if __name__ == "__main__":
    main()
