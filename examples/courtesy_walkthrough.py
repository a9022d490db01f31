#!/usr/bin/env python3
"""Walk the Courtesy document (seed 001) against a running Tessera, as the iOS client would.

    cargo run --release                                                  # in one terminal
    python3 examples/courtesy_walkthrough.py --tessera target/release/tessera   # in another

Registers two accounts with an MD5'd password, signs in (the `sessionid` cookie), edits a profile,
uploads a generated PNG avatar, generates QR codes with the `tessera courtesy qr generate` CLI
(same settings as the server: run it with the server's environment), queries one, checks a card
resource with `res_query` before and after uploading it, creates a card on the code with that
resource attached, reads it as the second user (read_by), edits it, bans it and queries it again
(426). Every answer is printed. Only the Python standard library is used.
"""

import argparse
import hashlib
import json
import struct
import subprocess
import sys
import time
import urllib.request
import uuid
import zlib

BASE = "http://127.0.0.1:8080"


def post(path, body, cookie=None, content_type="application/json"):
    req = urllib.request.Request(BASE + path, data=body, method="POST")
    req.add_header("Content-Type", content_type)
    if cookie:
        req.add_header("Cookie", "sessionid=" + cookie)
    with urllib.request.urlopen(req, timeout=60) as resp:
        return resp.status, resp.headers.get("Set-Cookie"), json.loads(resp.read())


def act(title, body, cookie=None, expect=0):
    status, set_cookie, answer = post("/api/courtesy", json.dumps(body).encode(), cookie)
    print(f"== {title}: HTTP {status}")
    print(json.dumps(answer, ensure_ascii=False, indent=1)[:1500])
    if answer.get("error") != expect:
        sys.exit(f"expected error {expect}, got {answer.get('error')}")
    return answer, set_cookie


def upload(title, path, field, filename, media, data, cookie):
    boundary = "----courtesy" + uuid.uuid4().hex
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
        f"Content-Type: {media}\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    status, _, answer = post(path, body, cookie, f"multipart/form-data; boundary={boundary}")
    print(f"== {title}: HTTP {status}\n{json.dumps(answer)}")
    if answer.get("error") != 0:
        sys.exit("upload refused")
    return answer


def png(width, height):
    """A gradient PNG written by hand: signature, IHDR, IDAT (zlib), IEND."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in ((x * 255) // width, (y * 255) // height, 160))
        for y in range(height)
    )
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def cookie_of(header):
    return header.split(";", 1)[0].split("=", 1)[1]


def main():
    global BASE
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", default=BASE)
    p.add_argument("--tessera", default="target/release/tessera", help="the tessera binary (for the QR CLI)")
    p.add_argument("--sheet", default="courtesy-qr-sheet.png", help="where the CLI writes the QR sheet")
    args = p.parse_args()
    BASE = args.base.rstrip("/")
    run = uuid.uuid4().hex[:8]
    pwd = hashlib.md5(b"correct horse battery staple").hexdigest()
    author, reader = f"author-{run}@qq.com", f"reader-{run}@qq.com"

    for email in (author, reader):
        act(f"user_register {email}", {"action": "user_register", "version": 2, "account": {"email": email, "pwd": pwd}})
    _, c = act("user_login (author)", {"action": "user_login", "version": 2, "account": {"email": author, "pwd": pwd}})
    a = cookie_of(c)
    _, c = act("user_login (reader)", {"action": "user_login", "version": 2, "account": {"email": reader, "pwd": pwd}})
    r = cookie_of(c)

    avatar = upload("upload avatar (a generated 300x300 PNG)", "/upload/avatar", "avater", "avatar.png", "image/png", png(300, 300), a)
    act("user_edit_profile", {"action": "user_edit_profile", "profile": {"nick": "i_82", "avatar": avatar["id"], "gender": 1, "province": "江苏省", "city": "扬州市"}}, a)
    act("user_info", {"action": "user_info"}, a)

    print(f"== {args.tessera} courtesy qr generate --count 3 --channel 1 --out {args.sheet}")
    out = subprocess.run([args.tessera, "courtesy", "qr", "generate", "--count", "3", "--channel", "1", "--out", args.sheet],
                         check=True, capture_output=True, text=True)
    ids = out.stdout.split()
    print("\n".join(ids) + f"\n(sheet: {args.sheet})")
    qr = ids[0]
    act("qr_query (free)", {"action": "qr_query", "qr_id": qr})

    resource = ("a picture for the card " + run).encode()
    digest = hashlib.sha256(resource).hexdigest()
    act("res_query before the upload", {"action": "res_query", "hash": digest}, expect=404)
    upload("upload card_res", "/upload/card_res", "res", "picture.txt", "text/plain", resource, a)
    act("res_query after the upload", {"action": "res_query", "hash": digest})

    token = str(uuid.uuid4()).upper()
    card = {"token": token, "qr_id": qr, "is_editable": True, "is_public": False, "visible_at": "1999-02-02 00:00:00",
            "local_template": {"content": "说点什么吧……", "fontSize": 16, "attachments_hashes": [digest]}}
    act("card_create_query", {"action": "card_create_query", "card_info": card}, a)
    act("card_create", {"action": "card_create", "card_info": card}, a)
    act("card_create again on the same QR code", {"action": "card_create", "card_info": dict(card, token=str(uuid.uuid4()))}, r, expect=424)
    act("qr_query (recorded)", {"action": "qr_query", "qr_id": qr})
    answer, _ = act("card_query as the reader (becomes read_by)", {"action": "card_query", "token": token}, r)
    print("read_by:", answer["card_info"]["read_by"]["email"])
    act("card_edit by the reader", {"action": "card_edit", "token": token, "card_info": {"is_public": True}}, r, expect=425)
    act("card_edit by the author", {"action": "card_edit", "token": token, "card_info": {"local_template": "%xml_data%", "is_public": True}}, a)
    act("card_delete (ban)", {"action": "card_delete", "token": token}, a)
    act("card_query after the ban", {"action": "card_query", "token": token}, r, expect=426)
    print("walkthrough complete")


if __name__ == "__main__":
    main()
