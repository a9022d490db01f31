#!/usr/bin/env python3
"""Walk the WeChat mini-program shop's flow (seed 002) against a running Tessera.

    cargo run --release -- wechatpay-sandbox &                     # writes data/wechatpay-sandbox/env
    set -a; . data/wechatpay-sandbox/env; set +a; cargo run --release 2> tessera.log
    python3 examples/shop_walkthrough.py

The sandbox stands in for WeChat Pay (signed replies, signed and encrypted notifications); with no
WeChat app secret configured the server accepts the development login code `dev:{openid}`.

The script: makes the first admin with the CLI (`tessera users create-admin`, an email account),
signs in a shop admin and a buyer with WeChat login codes, has the email admin give the shop admin
`permission_level` 1 (the shop admin signs in again to get a token carrying the role), creates a
category and two products, orders both products, pays that order with WeChat Pay (the server's
`wx.requestPayment` parameters, then the sandbox pays and posts the notification to
`/api/payment/wxpay/notify`), issues a membership card to the buyer, tops it up, pays a second order
from the card (`POST /api/payment/card`), and lists the buyer's orders with their items. Every
response is printed; the checks at the end exit non-zero on any mismatch. Standard library only.
"""

import argparse
import json
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

BASE = "http://127.0.0.1:8080"
FAILURES = []


def call(method, path, token=None, body=None, base=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request((base or BASE) + path, data=data, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    except urllib.error.URLError as err:
        sys.exit(f"cannot reach {(base or BASE) + path}: {err.reason}")
    parsed = json.loads(raw) if raw else None
    print(f"\n>>> {method} {path} -> {status}")
    print(json.dumps(parsed, ensure_ascii=False, indent=2)[:3000])
    return status, parsed


def expect(status, parsed, wanted):
    if status not in wanted:
        sys.exit(f"unexpected status {status} (wanted {sorted(wanted)}): {parsed}")
    return parsed


def check(what, got, wanted):
    ok = got == wanted
    print(f"CHECK {'ok  ' if ok else 'FAIL'} {what}: {got!r}" + ("" if ok else f" (wanted {wanted!r})"))
    if not ok:
        FAILURES.append(what)


def login(openid):
    body = expect(*call("POST", "/weixin-login", body={"code": f"dev:{openid}"}), {200})
    return body["token"], body["user"]


def main():
    global BASE
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default=BASE)
    parser.add_argument("--wechatpay-sandbox", default="http://127.0.0.1:8090", metavar="URL",
                        help="where `tessera wechatpay-sandbox` listens")
    parser.add_argument("--admin-email", default="admin@example.com")
    parser.add_argument("--admin-password", default="change-me-please")
    parser.add_argument("--tessera", default="cargo run --release --quiet --",
                        help="how to run the tessera CLI (for create-admin)")
    args = parser.parse_args()
    BASE = args.base.rstrip("/")
    sandbox = args.wechatpay_sandbox.rstrip("/")
    expect(*call("GET", "/health"), {200})

    print("\n### The first admin comes from the CLI: tessera users create-admin (an email account)")
    subprocess.run(f"{args.tessera} users create-admin --email {args.admin_email} --password-stdin",
                   shell=True, input=args.admin_password.encode(), check=False)
    root = expect(*call("POST", "/v1/auth/login",
                        body={"email": args.admin_email, "password": args.admin_password}),
                  {200})["data"]["accessToken"]

    run = uuid.uuid4().hex[:8]
    print("\n### POST /weixin-login: the shop admin and the buyer (development codes dev:{openid})")
    _, admin_user = login(f"o-admin-{run}")
    buyer, buyer_user = login(f"o-buyer-{run}")
    print("\n### PUT /api/users/:id {permission_level: 1}: the email admin promotes the shop admin")
    expect(*call("PUT", f"/api/users/{admin_user['user_id']}", root, {"permission_level": 1}), {200})
    admin, admin_user = login(f"o-admin-{run}")
    check("shop admin permission_level", admin_user["permission_level"], 1)

    print("\n### Catalogue (admin): a category and two products")
    category = expect(*call("POST", "/api/categories", admin,
                            {"name": f"咖啡 {run}", "description": "豆子与器具"}), {201})
    cid = category["category_id"]
    beans = expect(*call("POST", "/api/products", admin, {
        "category_id": cid, "name": "云南咖啡豆 500g", "description": "中度烘焙",
        "price": 99.99, "stock": 20, "image_url": "https://example.com/beans.png"}), {201})
    cup = expect(*call("POST", "/api/products", admin, {
        "category_id": cid, "name": "陶瓷杯", "price": "29.50", "stock": 5}), {201})

    print("\n### The buyer orders both products, to pay with WeChat Pay")
    first = expect(*call("POST", "/api/orders", buyer, {
        "items": [{"product_id": beans["product_id"], "quantity": 2},
                  {"product_id": cup["product_id"], "quantity": 1}],
        "payment_method": "微信支付"}), {201})
    check("first order total", first["total_amount"], "229.48")
    check("first order status", first["status"], 0)
    params = expect(*call("POST", "/api/payment/wxpay", buyer, {"order_id": first["order_id"]}), {200})
    check("wx.requestPayment keys", sorted(params), ["nonceStr", "package", "paySign", "signType", "timeStamp"])
    check("signType", params["signType"], "RSA")
    print("\n### The sandbox pays and posts the signed, encrypted notification to the server")
    paid = expect(*call("POST", f"/sandbox/pay/{first['order_id']}", base=sandbox), {200})
    check("notify answered", paid["notifyStatus"], 200)
    check("notify url", paid["notifyUrl"].endswith("/api/payment/wxpay/notify"), True)
    order = expect(*call("GET", f"/api/orders/{first['order_id']}", buyer), {200})
    check("first order paid", order["status"], 1)
    check("first order payment_id", order["payment_id"], paid["transactionId"])
    check("stock of the beans", expect(*call("GET", f"/api/products/{beans['product_id']}"), {200})["stock"], 18)

    print("\n### Membership card (admin): issue it to the buyer and top it up")
    card = expect(*call("POST", "/api/membership/cards", admin, {"user_id": buyer_user["user_id"]}), {201})
    check("new card balance", card["balance"], "0.00")
    topup = expect(*call("POST", "/api/membership/transactions", admin, {
        "card_id": card["card_id"], "type": 1, "amount": "200.00", "description": "充值200元"}), {201})
    check("balance after top-up", topup["balance_after"], "200.00")

    print("\n### The buyer pays a second order from the card")
    second = expect(*call("POST", "/api/orders", buyer, {
        "items": [{"product_id": cup["product_id"], "quantity": 2}], "payment_method": "会员卡"}), {201})
    card_paid = expect(*call("POST", "/api/payment/card", buyer, {"order_id": second["order_id"]}), {200})
    check("second order paid", card_paid["status"], 1)
    check("card balance after", card_paid["balance_after"], "141.00")
    mine = expect(*call("GET", f"/api/membership/cards/{card['card_id']}", buyer), {200})
    check("card balance read", mine["balance"], "141.00")
    print("\n### Paying it again is refused")
    expect(*call("POST", "/api/payment/card", buyer, {"order_id": second["order_id"]}), {400})

    print("\n### The buyer's orders with their items")
    orders = expect(*call("GET", "/api/orders", buyer), {200})
    check("orders listed", [o["order_id"] for o in orders], [first["order_id"], second["order_id"]])
    check("statuses", [o["status"] for o in orders], [1, 1])
    check("items per order", [len(o["orderItems"]) for o in orders], [2, 1])
    check("payment methods", [o["payment_method"] for o in orders], ["微信支付", "会员卡"])
    check("line totals", [i["total_price"] for i in orders[0]["orderItems"]], ["199.98", "29.50"])

    if FAILURES:
        sys.exit(f"\n{len(FAILURES)} check(s) failed: {', '.join(FAILURES)}")
    print("\nAll checks passed.")


if __name__ == "__main__":
    main()
