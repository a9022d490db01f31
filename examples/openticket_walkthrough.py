#!/usr/bin/env python3
"""Walk the OpenTicket document's own example (seed 003) against a running Tessera.

    cargo run --release                                   # in one terminal
    python3 examples/openticket_walkthrough.py           # in another

Creates the first admin through the CLI if needed (`--admin-email/--admin-password`), then: the
台北小巨蛋 venue with a generated 15,000-seat map, the 五月天演唱會 event with VIP and A price
categories, a buyer who locks A-001 and A-002, orders them, pays with the Mock provider, receives
the tickets, and a staff member who verifies one at the gate. Every response is printed.
Only the Python standard library is used.
"""

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

BASE = "http://127.0.0.1:8080"


def call(method, path, token=None, body=None, show=True, quiet_body=False):
    data = None if body is None else json.dumps(body).encode()
    # Non-ASCII query values (台北市) must be percent-encoded on the wire.
    req = urllib.request.Request(BASE + urllib.parse.quote(path, safe="/?&=:"), data=data, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    if show:
        print(f"\n>>> {method} {path} -> {status}")
        if quiet_body:
            print("    (body omitted: large)")
        else:
            text = json.dumps(parsed, ensure_ascii=False, indent=2)
            print(text if len(text) < 4000 else text[:4000] + "\n    … (truncated)")
    return status, parsed


def expect(status, parsed, wanted):
    if status not in wanted:
        sys.exit(f"unexpected status {status}: {parsed}")
    return parsed["data"] if isinstance(parsed, dict) and "data" in parsed else parsed


def seat_map():
    """15,000 seats: VIP (1,000), A1/A2 (3,000 each), B1/B2 (4,000 each), 25 seats a row."""
    areas = [("VIP", "VIP 區", 1000), ("A", "A 區", 3000), ("A2", "A2 區", 3000),
             ("B1", "B1 區", 4000), ("B2", "B2 區", 4000)]
    out = []
    for area_id, name, n in areas:
        seats = [{"seatId": f"{area_id}-{i:03d}", "row": str((i - 1) // 25 + 1), "number": i,
                  "x": 12 * ((i - 1) % 25), "y": 14 * ((i - 1) // 25), "type": "Normal"}
                 for i in range(1, n + 1)]
        out.append({"areaId": area_id, "name": name, "seats": seats})
    return {"areas": out}


def sign_in(email, password):
    status, parsed = call("POST", "/v1/auth/login", body={"email": email, "password": password})
    return expect(status, parsed, {200})["accessToken"]


def register(email, password):
    status, parsed = call("POST", "/v1/auth/register", body={"email": email, "password": password})
    if status == 409:
        print("    (already registered)")
    else:
        expect(status, parsed, {201})
    return sign_in(email, password)


def main():
    global BASE
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default=BASE)
    parser.add_argument("--admin-email", default="admin@example.com")
    parser.add_argument("--admin-password", default="change-me-please")
    parser.add_argument("--tessera", default="cargo run --release --quiet --",
                        help="how to run the tessera CLI (for create-admin)")
    args = parser.parse_args()
    BASE = args.base.rstrip("/")

    expect(*call("GET", "/health"), {200})
    print("\n### The first admin comes from the CLI: tessera users create-admin")
    subprocess.run(f"{args.tessera} users create-admin --email {args.admin_email} --password-stdin",
                   shell=True, input=args.admin_password.encode(), check=True)
    admin = sign_in(args.admin_email, args.admin_password)

    run = uuid.uuid4().hex[:6]
    organizer_email, staff_email, buyer_email = (f"{r}-{run}@example.com" for r in ("organizer", "staff", "buyer"))
    for email, role in ((organizer_email, "organizer"), (staff_email, "staff")):
        register(email, "password-" + run)
        _, me = call("POST", "/v1/auth/login", body={"email": email, "password": "password-" + run}, show=False)
        user_id = json.loads(urllib.request.urlopen(urllib.request.Request(
            BASE + "/v1/auth/me", headers={"Authorization": "Bearer " + me["data"]["accessToken"]})).read())["data"]["userId"]
        expect(*call("POST", f"/v1/admin/users/{user_id}/roles", admin, {"role": role}), {200})
    organizer = sign_in(organizer_email, "password-" + run)
    staff = sign_in(staff_email, "password-" + run)
    buyer = register(buyer_email, "password-" + run)

    print("\n### §3.3 POST /venues (15,000 seats)")
    started = time.monotonic()
    venue = expect(*call("POST", "/v1/venues", admin, {
        "name": "台北小巨蛋",
        "address": {"country": "TW", "city": "台北市", "street": "南京東路四段2號", "postalCode": "105"},
        "capacity": 15000,
        "seatMap": seat_map(),
    }, quiet_body=True), {201})
    print(f"    venueId {venue['venueId']} created in {time.monotonic() - started:.2f}s")
    expect(*call("GET", "/v1/venues?city=台北市&pageSize=5"), {200})
    _, detail = call("GET", f"/v1/venues/{venue['venueId']}", quiet_body=True)
    print(f"    seat map: {sum(len(a['seats']) for a in detail['data']['seatMap']['areas'])} seats")

    print("\n### §4.3 POST /events")
    tz = dt.timezone(dt.timedelta(hours=8))
    now = dt.datetime.now(tz).replace(microsecond=0)
    event = expect(*call("POST", "/v1/events", organizer, {
        "name": "五月天演唱會",
        "description": "2025 巡迴演唱會",
        "venueId": venue["venueId"],
        "sessions": [{
            "startTime": (now + dt.timedelta(days=30)).isoformat(),
            "endTime": (now + dt.timedelta(days=30, hours=3)).isoformat(),
            "saleStartTime": (now - dt.timedelta(minutes=5)).isoformat(),
            "saleEndTime": (now + dt.timedelta(days=29)).isoformat(),
        }],
        "priceCategories": [
            {"categoryId": "VIP", "name": "VIP 區", "areaIds": ["VIP"], "price": {"amount": 6800, "currency": "TWD"}},
            {"categoryId": "A", "name": "A 區", "areaIds": ["A", "A2"], "price": {"amount": 4800, "currency": "TWD"}},
            {"categoryId": "B", "name": "B 區", "areaIds": ["B1", "B2"], "price": {"amount": 1800, "currency": "TWD"}},
        ],
    }), {201})
    session_id = event["sessions"][0]["sessionId"]
    expect(*call("GET", f"/v1/events?venueId={venue['venueId']}"), {200})
    expect(*call("GET", f"/v1/events/{event['eventId']}"), {200})

    print("\n### §5 seats")
    _, seats = call("GET", f"/v1/sessions/{session_id}/seats", quiet_body=True)
    print("    summary:", json.dumps(seats["data"]["summary"]))
    expect(*call("POST", f"/v1/sessions/{session_id}/seats/lock", buyer, {"seatIds": ["A-001", "A-002"]}), {200})
    expect(*call("GET", f"/v1/sessions/{session_id}/seats/A-001"), {200})

    print("\n### §6 order and Mock payment")
    order = expect(*call("POST", "/v1/orders", buyer,
                         {"sessionId": session_id, "seatIds": ["A-001", "A-002"], "paymentProvider": "Mock"}), {201})
    print("    payment page:", order["payment"]["paymentUrl"])
    expect(*call("POST", f"/v1/mock-payment/{order['payment']['paymentId']}/confirm"), {200})
    for _ in range(100):
        _, current = call("GET", f"/v1/orders/{order['orderId']}", buyer, show=False)
        if current["data"]["status"] == "Completed":
            break
        time.sleep(0.1)
    completed = expect(*call("GET", f"/v1/orders/{order['orderId']}", buyer), {200})
    if completed["status"] != "Completed":
        sys.exit("the order did not complete")

    print("\n### §7 tickets")
    expect(*call("GET", "/v1/tickets", buyer), {200})
    ticket_id = completed["items"][0]["ticketId"]
    ticket = expect(*call("GET", f"/v1/tickets/{ticket_id}", buyer), {200})
    first = expect(*call("POST", f"/v1/tickets/{ticket_id}/verify", staff, {"qrCode": ticket["qrCode"]}), {200})
    if first.get("valid") is not True:
        sys.exit("the first scan was not valid")
    print("\n### A second scan of the same ticket is refused (200, valid: false, ALREADY_USED):")
    second = expect(*call("POST", f"/v1/tickets/{ticket_id}/verify", staff, {"qrCode": ticket["qrCode"]}), {200})
    if second.get("valid") is not False or second.get("reason") != "ALREADY_USED":
        sys.exit("the second scan was not refused as ALREADY_USED")
    print("\nDone: the document's example ran end to end.")


if __name__ == "__main__":
    main()
