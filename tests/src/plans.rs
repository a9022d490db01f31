//! Team plans set-up shared by the plans suites: a company certified for ent through the real
//! routes (upload, application, staff acceptance), orders and their payment, status and wallet
//! reads, and CNY decimal strings as fen.

use crate::http::{Reply, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

/// Fen of a decimal string of CNY.
pub fn fen(v: &Value) -> i64 {
    let s = v.as_str().unwrap();
    let (sign, s) = s.strip_prefix('-').map_or((1, s), |r| (-1, r));
    let (y, f) = s.split_once('.').unwrap();
    sign * (y.parse::<i64>().unwrap() * 100 + f.parse::<i64>().unwrap())
}

/// A company of `owner` certified for ent (which covers pro): an uploaded licence, an
/// application, an admin's acceptance.
pub async fn certified_company(t: &TestServer, admin: &str, owner: &str, name: &str) -> String {
    let r = t.post("/company", Some(owner), json!({"name": name})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["_id"].as_str().unwrap().to_owned();
    let photo = upload_png(t, owner, &id).await;
    let body = json!({
        "contact": {"realname": "李四", "gender": "F", "phone": "13900139000", "position": "CEO"},
        "enterprise": {"team_name": name, "certificate_type": "license",
            "certificate_pic": [photo]}
    });
    let r = t
        .post(
            &format!("/company/{id}/plan/auth?plan=ent"),
            Some(owner),
            body,
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let auth = r.body["_id"].as_str().unwrap();
    let r = t
        .post(
            &format!("/admin/plans/auth/{auth}/accept"),
            Some(admin),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    id
}

/// Upload a small PNG as an ent certification picture of company `id`; returns its `_id`.
pub async fn upload_png(t: &TestServer, owner: &str, id: &str) -> String {
    let img = image::RgbImage::from_fn(30, 20, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png).unwrap();
    let boundary = "orders-test-boundary-1x2y3z";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"auth_pic\"; filename=\"l.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&png.into_inner());
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = t
        .send_raw(
            Method::POST,
            &format!("/company/{id}/plan/auth/upload?plan=ent"),
            Some(owner),
            &[(
                "content-type",
                &format!("multipart/form-data; boundary={boundary}"),
            )],
            body,
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body[0]["_id"].as_str().unwrap().to_owned()
}

/// Staff grant of `amount` (CNY decimal string) granted credit to company `id`'s wallet (201).
pub async fn grant(t: &TestServer, admin: &str, id: &str, amount: &str) {
    let r = t
        .post(
            &format!("/admin/plans/companies/{id}/wallet/grant"),
            Some(admin),
            json!({"amount": amount, "reason": "test funds"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

/// `POST /company/{id}/plan/order` with `body`.
pub async fn order(t: &TestServer, token: &str, id: &str, body: Value) -> Reply {
    t.post(&format!("/company/{id}/plan/order"), Some(token), body)
        .await
}

/// `POST /company/{id}/plan/order/{order}/pay` with `payment_method`.
pub async fn pay(t: &TestServer, token: &str, id: &str, order: &str, method: &str) -> Reply {
    t.post(
        &format!("/company/{id}/plan/order/{order}/pay"),
        Some(token),
        json!({"payment_method": method}),
    )
    .await
}

/// The `products` of an order: `quantity` members of `plan`'s per-member monthly product.
pub fn line(plan: &str, quantity: u32) -> Value {
    json!([{"product_no": format!("{plan}-member-month"), "quantity": quantity}])
}

/// `GET /company/{id}/plan/status` (200), its body.
pub async fn status(t: &TestServer, token: &str, id: &str) -> Value {
    let r = t
        .get(&format!("/company/{id}/plan/status"), Some(token))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}

/// `GET /company/{id}/plan/wallet` (200): `{balance, paid_credit, granted_credit}`.
pub async fn wallet(t: &TestServer, token: &str, id: &str) -> Value {
    let r = t
        .get(&format!("/company/{id}/plan/wallet"), Some(token))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body
}
