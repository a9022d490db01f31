#!/usr/bin/env python3
"""Walk the meeting-ticket document's flow (seed 000) against a running Tessera.

    cargo run --release 2> tessera.log                    # in one terminal (the log holds SMS codes)
    python3 examples/meeting_walkthrough.py --log tessera.log

With no SMS gateway and no WeChat app configured, the server writes SMS codes to its log and
accepts the development WeChat token `dev:{wechatId}`. The script: asks for an SMS code (and reads it
from the log), registers the WeChat id, creates the user, signs in, creates a meeting as the admin
(made with the CLI, as in the OpenTicket example), orders two tickets, pays with the Mock method,
lists the issued tickets, names a friend as one ticket's attendee (only the buyer may), then shows the document's errors
(No Stock, Already Taken, One for One). Every response is printed. Standard library only.

To include WeChat Pay, run the sandbox and start the server with its settings:

    cargo run --release -- wechatpay-sandbox &                     # writes data/wechatpay-sandbox/env
    set -a; . data/wechatpay-sandbox/env; set +a; cargo run --release 2> tessera.log
    python3 examples/meeting_walkthrough.py --log tessera.log --wechatpay-sandbox http://127.0.0.1:8090
"""

import argparse
import datetime as dt
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

BASE = "http://127.0.0.1:8080"


def call(method, path, token=None, body=None):
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
    parsed = json.loads(raw) if raw else None
    print(f"\n>>> {method} {path} -> {status}")
    print(json.dumps(parsed, ensure_ascii=False, indent=2)[:3000])
    return status, parsed


def expect(status, parsed, wanted):
    if status not in wanted:
        sys.exit(f"unexpected status {status} (wanted {sorted(wanted)})")
    return parsed


def code_from_log(log, phone, after):
    """The newest code the console SMS sender logged for `phone` (waits up to 10 s)."""
    pattern = re.compile(r"sms code sent phone=" + phone + r" code=(\d{6})")
    for _ in range(100):
        with open(log, encoding="utf-8", errors="replace") as f:
            f.seek(after)
            found = pattern.findall(f.read())
        if found:
            return found[-1]
        time.sleep(0.1)
    sys.exit(f"no SMS code for {phone} in {log}: is the server logging to it?")


def log_size(log):
    try:
        with open(log, "rb") as f:
            return len(f.read())
    except FileNotFoundError:
        sys.exit(f"{log} not found: start the server with `cargo run --release 2> {log}`")


def user(log, n, run):
    phone = "139" + f"{int(run, 16) % 10**6:06d}" + f"{n:02d}"
    wechat_id = f"o-demo-{run}-{n}"
    print(f"\n### §3 POST /smsCodes for {phone}")
    mark = log_size(log)
    expect(*call("POST", "/smsCodes", body={"phone": phone}), {202})
    code = code_from_log(log, phone, mark)
    print(f"    code from the server log: {code}")
    print("\n### §2.1 POST /wechat_tokens")
    token = f"dev:{wechat_id}"
    expect(*call("POST", "/wechat_tokens", body={"wechatId": wechat_id, "wechatToken": token}), {201})
    print("\n### §1 POST /users")
    expect(*call("POST", "/users", body={"wechatId": wechat_id, "phone": phone, "smsCode": code}), {201})
    print("\n### §2 POST /tokens (type wechat)")
    tok = expect(*call("POST", "/tokens", body={"type": "wechat", "wechatId": wechat_id, "wechatToken": token}), {201})
    print("\n### §1.1 GET /users/current")
    expect(*call("GET", "/users/current", tok["access_token"]), {200})
    return tok["access_token"], phone


def main():
    global BASE
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default=BASE)
    parser.add_argument("--log", default="tessera.log", help="the server's log file (stderr)")
    parser.add_argument("--admin-email", default="admin@example.com")
    parser.add_argument("--admin-password", default="change-me-please")
    parser.add_argument("--wechatpay-sandbox", default=None, metavar="URL",
                        help="pay one order with WeChat Pay through `tessera wechatpay-sandbox` at URL")
    parser.add_argument("--tessera", default="cargo run --release --quiet --",
                        help="how to run the tessera CLI (for create-admin)")
    args = parser.parse_args()
    BASE = args.base.rstrip("/")
    expect(*call("GET", "/health"), {200})

    print("\n### The first admin comes from the CLI: tessera users create-admin")
    subprocess.run(f"{args.tessera} users create-admin --email {args.admin_email} --password-stdin",
                   shell=True, input=args.admin_password.encode(), check=False)
    admin = expect(*call("POST", "/v1/auth/login",
                         body={"email": args.admin_email, "password": args.admin_password}), {200})["data"]["accessToken"]

    run = uuid.uuid4().hex[:6]
    buyer, _ = user(args.log, 1, run)
    friend, friend_phone = user(args.log, 2, run)

    print("\n### POST /meetings (organizer or admin; not in the document)")
    start = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).replace(microsecond=0) + dt.timedelta(days=14)
    meeting = expect(*call("POST", "/meetings", admin, {
        "title": "2026 开发者大会",
        "description": "年度技术会议",
        "location": "上海国际会议中心",
        "startTime": start.isoformat(),
        "endTime": (start + dt.timedelta(hours=8)).isoformat(),
        "ticketGrades": [{"name": "普通票", "price": 99.5, "stock": 3}, {"name": "VIP", "price": 399, "stock": 1}],
        "status": "onSale",
    }), {201})
    grade = meeting["ticketGrades"][0]
    print("\n### §4.1 GET /meetings and §4 GET /meetings/:id")
    # 206 with Content-Range when there are more than 5 meetings.
    expect(*call("GET", "/meetings?pageSize=5"), {200, 206})
    expect(*call("GET", f"/meetings/{meeting['id']}"), {200})
    print("\n### §6 GET /payment_methods")
    expect(*call("GET", "/payment_methods", buyer), {200})

    def order(token, amount):
        return call("POST", "/orders", token, {
            "items": [{"ticketGradeId": grade["id"], "ticketPrice": grade["price"],
                       "ticketAmount": amount, "meetingId": meeting["id"]}],
            "meetingId": meeting["id"],
            "paymentMethodId": "mock",
        })

    print("\n### §5 POST /orders (2 × 普通票)")
    placed = expect(*order(buyer, 2), {201})
    print("\n### §5 POST /orders asking for more than is left -> 400 No Stock")
    expect(*order(friend, 2), {400})
    print("\n### §7 POST /transactions")
    expect(*call("POST", "/transactions", buyer, {"orderId": placed["id"]}), {201})
    print("\n### §7.1 POST /third_party_transactions (Mock: ids start with mock_)")
    expect(*call("POST", "/third_party_transactions", buyer,
                 {"orderId": placed["id"], "transactionId": "mock_" + run}), {201})
    print("\n### §5.2 GET /orders/:id and §5.1 GET /orders")
    expect(*call("GET", f"/orders/{placed['id']}", buyer), {200})
    expect(*call("GET", "/orders", buyer), {200})

    print("\n### §8 GET /tickets (issued by a process manager right after payment)")
    tickets = []
    for _ in range(50):
        status, tickets = call("GET", "/tickets", buyer)
        if len(tickets or []) == 2:
            break
        time.sleep(0.2)
    if len(tickets) != 2:
        sys.exit("the tickets were not issued")
    first, second = tickets[0]["id"], tickets[1]["id"]
    print("\n### §8.2 PATCH /tickets/:id by someone who did not buy it -> 404 (the id alone grants nothing)")
    expect(*call("PATCH", f"/tickets/{first}", friend,
                 {"participant": {"name": "李四", "phone": friend_phone}}), {404})
    print("\n### §8.2 PATCH /tickets/:id: the buyer names the friend as the first ticket's participant")
    expect(*call("PATCH", f"/tickets/{first}", buyer,
                 {"participant": {"name": "李四", "phone": friend_phone}}), {200})
    print("\n### §8.2 naming someone else on it -> 410 Already Taken")
    expect(*call("PATCH", f"/tickets/{first}", buyer,
                 {"participant": {"name": "王五", "phone": "13700000000"}}), {410})
    print("\n### §8.2 naming the friend on the second ticket too -> 409 One for One")
    expect(*call("PATCH", f"/tickets/{second}", buyer,
                 {"participant": {"name": "李四", "phone": friend_phone}}), {409})
    print("\n### §8.1 GET /tickets/:id (the friend, signed in with that phone, attends on it)")
    expect(*call("GET", f"/tickets/{first}", friend), {200})
    if args.wechatpay_sandbox:
        sandbox = args.wechatpay_sandbox.rstrip("/")
        vip = meeting["ticketGrades"][1]
        print("\n### §5 POST /orders paid with WeChat Pay: the response carries the JSAPI parameters")
        paid = expect(*call("POST", "/orders", buyer, {
            "items": [{"ticketGradeId": vip["id"], "ticketPrice": vip["price"], "ticketAmount": 1,
                       "meetingId": meeting["id"]}],
            "meetingId": meeting["id"],
            "paymentMethodId": "wechatpay",
        }), {201})
        info = paid["transaction"]["thirdPartyTransactionInfo"]
        print(f"    wx.requestPayment({json.dumps(info, ensure_ascii=False)})")
        print("\n### The payer pays; WeChat Pay (the sandbox) posts a signed, encrypted notification")
        req = urllib.request.Request(f"{sandbox}/sandbox/pay/{paid['id'].replace('-', '')}", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=30) as resp:
            print(json.dumps(json.loads(resp.read()), ensure_ascii=False, indent=2))
        print("\n### §5.2 GET /orders/:id -> 已支付")
        order = expect(*call("GET", f"/orders/{paid['id']}", buyer), {200})
        if order["status"] != "已支付":
            sys.exit("the WeChat Pay notification did not pay the order")
        print("\n### §7.1 POST /third_party_transactions (checked with WeChat Pay's order query; harmless twice)")
        expect(*call("POST", "/third_party_transactions", buyer,
                     {"orderId": paid["id"], "transactionId": order["transactionId"]}), {201})
    print("\nDone: every step answered as the document says.")


if __name__ == "__main__":
    main()
