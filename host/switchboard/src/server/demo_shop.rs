//! A stand-in for a web shop's order system, mounted by `serve --demo`,
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
            "id": "A-1001", "status": "in_transit", "expected_date": days_from_today(2),
            "last_scan": { "place": "Yerevan sorting hub", "at": days_from_today(0) },
            "tracking_url": "https://track.example/A-1001",
            "phone": "+37491000001", "email": "ani@example.com"
        }),
        // Always five days late, whenever the demo runs.
        "A-1002" => json!({
            "id": "A-1002", "status": "in_transit", "expected_date": days_from_today(-5),
            "last_scan": { "place": "Gyumri depot", "at": days_from_today(-7) },
            "phone": "+37491000002", "email": "aram@example.com"
        }),
        "A-1003" => json!({
            "id": "A-1003", "status": "delivered", "expected_date": "2026-01-05",
            "phone": "+37491000003", "email": "mariam@example.com"
        }),
        // A laptop: described only after a one-time code to its phone.
        "A-1004" => json!({
            "id": "A-1004", "status": "in_transit", "expected_date": days_from_today(1),
            "last_scan": { "place": "Yerevan sorting hub", "at": days_from_today(0) },
            "phone": "+37491000004", "email": "narek@example.com", "sensitive": true
        }),
        _ => return (StatusCode::NOT_FOUND, Json(json!({ "error": "no such order" }))),
    };
    (StatusCode::OK, Json(order))
}

fn days_from_today(days: i64) -> String {
    let today = jiff::Zoned::now().date();
    today.checked_add(jiff::Span::new().days(days)).unwrap_or(today).to_string()
}
