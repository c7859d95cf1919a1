//! A stand-in for a web shop's order system, mounted by `serve --demo-shop`,
//! so the web-shop example's order-status plugin has something to ask. It is
//! reached over real HTTP, through the plugin's allowlist, like a real one.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use serde_json::{Value, json};

/// `GET /demo/shop/api/orders/{id}`
pub async fn order(Path(id): Path<String>) -> (StatusCode, Json<Value>) {
    let order = match id.as_str() {
        "A-1001" => json!({
            "id": "A-1001", "status": "in_transit", "expected_date": "2030-01-10",
            "last_scan": { "place": "Yerevan sorting hub", "at": "2030-01-07" },
            "tracking_url": "https://track.example/A-1001",
            "phone": "+37491000001", "email": "ani@example.com"
        }),
        "A-1002" => json!({
            "id": "A-1002", "status": "in_transit", "expected_date": "2020-01-10",
            "last_scan": { "place": "Gyumri depot", "at": "2020-01-08" },
            "phone": "+37491000002", "email": "aram@example.com"
        }),
        "A-1003" => json!({
            "id": "A-1003", "status": "delivered", "expected_date": "2026-01-05",
            "phone": "+37491000003", "email": "mariam@example.com"
        }),
        _ => return (StatusCode::NOT_FOUND, Json(json!({ "error": "no such order" }))),
    };
    (StatusCode::OK, Json(order))
}
