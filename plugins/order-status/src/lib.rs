//! Looks up an order in the shop's own order system (scenario 4).
//!
//! The customer gives an order number and the phone or email it was placed
//! with. The plugin fetches the order over HTTP (the tenant allowlists the
//! shop's host for this plugin), checks that the contact matches, and answers
//! with the state, the last scan, the expected date and the tracking link. An
//! order later than the tenant's SLA gets options instead of a bare status.
//!
//! A sensitive order (`"sensitive": true`: a high-value one, say) is not
//! described until the customer proves they hold the phone on record: the
//! plugin sets `phone_on_record` and asks the flow's `verified` field, a
//! one-time code the host sends there and checks, then runs again.
//!
//! The order API is expected to answer `GET {orders_url}` (with `{order_id}`
//! filled in) with `404` for an unknown order, or `200` and:
//!
//! ```json
//! {"id": "A-1001", "status": "in_transit", "expected_date": "2026-01-05",
//!  "last_scan": {"place": "Yerevan hub", "at": "2026-01-02"},
//!  "tracking_url": "https://track.example/A-1001",
//!  "phone": "+37491000000", "email": "ani@example.com"}
//! ```

#![forbid(unsafe_code)]

use serde::Deserialize;
use switchboard_sdk::http::{self, HttpError};
use switchboard_sdk::prelude::*;
use switchboard_sdk::time::DAY_MS;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The order endpoint; `{order_id}` is replaced by the (URL-safe) order number.
    pub orders_url: String,
    /// The name of the secret holding a bearer token for the order API, if it needs one.
    #[serde(default)]
    pub token_secret: Option<String>,
    /// Days past the expected date after which the order counts as delayed.
    #[serde(default = "default_sla")]
    pub delay_sla_days: i64,
}

fn default_sla() -> i64 {
    2
}

/// What the shop's order API returns.
#[derive(Debug, Clone, Deserialize)]
pub struct Order {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub expected_date: Option<String>,
    #[serde(default)]
    pub last_scan: Option<Scan>,
    #[serde(default)]
    pub tracking_url: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// Described only after a one-time code to the phone on record.
    #[serde(default)]
    pub sensitive: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Scan {
    pub place: String,
    #[serde(default)]
    pub at: Option<String>,
}

#[derive(Debug)]
pub struct OrderStatus;

impl Plugin for OrderStatus {
    fn run(input: StepInput) -> Result<Vec<Decision>, StepError> {
        let config = CONFIG.get(&input.config)?;
        let order_id = input
            .text("order_id")
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| StepError::InvalidInput("missing field order_id".to_owned()))?;
        let contact = input.text("contact").unwrap_or_default();
        let lang = Lang::of(&input.contact.locale);
        let Some(order) = fetch(&config, order_id)? else {
            return Ok(vec![
                Decision::reply(lang.not_found(order_id)),
                Decision::clear_field("order_id"),
                Decision::ask("order_id"),
                Decision::emit("order.not_found", &serde_json::json!({ "order_id": order_id })),
            ]);
        };
        if !contact_matches(&order, contact) {
            return Ok(vec![
                Decision::reply(lang.mismatch()),
                Decision::clear_field("contact"),
                Decision::ask("contact"),
                Decision::emit("order.verification_failed", &serde_json::json!({ "order_id": order.id })),
            ]);
        }
        if order.sensitive && input.boolean("verified") != Some(true) {
            let Some(phone) = order.phone.clone() else {
                return Err(StepError::Unavailable(format!(
                    "order {} is sensitive and has no phone on record",
                    order.id
                )));
            };
            return Ok(vec![
                Decision::set_field("phone_on_record", Value::Text(phone)),
                Decision::ask("verified"),
                Decision::emit("order.verification_required", &serde_json::json!({ "order_id": order.id })),
            ]);
        }
        Ok(answer(&config, &order, lang, input.now))
    }
}

/// The tenant's config, parsed once per binding by `init`.
static CONFIG: ConfigCell<Config> = ConfigCell::new();

switchboard_sdk::export_plugin!(OrderStatus, config = CONFIG);

/// `Ok(None)` is a 404: the shop does not know this order.
fn fetch(config: &Config, order_id: &str) -> Result<Option<Order>, StepError> {
    if !order_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Ok(None);
    }
    let url = config.orders_url.replace("{order_id}", order_id);
    let token = match &config.token_secret {
        Some(name) => Some(
            config::secret(name)
                .map_err(|error| StepError::InvalidConfig(format!("secret {name}: {error:?}")))?
                .ok_or_else(|| StepError::InvalidConfig(format!("secret {name} is not set")))?,
        ),
        None => None,
    };
    let authorization = token.map(|token| format!("Bearer {token}"));
    let mut headers = vec![("accept", "application/json")];
    if let Some(value) = &authorization {
        headers.push(("authorization", value));
    }
    let response = http::get(&url, &headers).map_err(|error| match error {
        HttpError::Denied | HttpError::InvalidUrl(_) => {
            StepError::InvalidConfig(format!("orders_url: {error}"))
        }
        other => StepError::Unavailable(other.to_string()),
    })?;
    match response.status {
        404 => Ok(None),
        200 => response.json().map(Some).map_err(|error| StepError::Unavailable(error.to_string())),
        status => Err(StepError::Unavailable(format!("order API answered {status}"))),
    }
}

/// The contact must match the order's phone (by its last 8 digits) or email.
pub fn contact_matches(order: &Order, given: &str) -> bool {
    let given = given.trim();
    if given.contains('@') {
        return order.email.as_deref().is_some_and(|email| email.trim().eq_ignore_ascii_case(given));
    }
    let digits = |text: &str| text.chars().filter(char::is_ascii_digit).collect::<String>();
    let given = digits(given);
    let tail = |digits: &str| digits[digits.len().saturating_sub(8)..].to_owned();
    given.len() >= 6 && order.phone.as_deref().is_some_and(|phone| tail(&digits(phone)) == tail(&given))
}

pub fn answer(config: &Config, order: &Order, lang: Lang, now: i64) -> Vec<Decision> {
    let expected = order.expected_date.as_deref().and_then(parse_date);
    let delivered = matches!(order.status.as_str(), "delivered" | "cancelled");
    let days_late = expected.map_or(0, |at| (now - at).div_euclid(DAY_MS));
    let delayed = !delivered && days_late > config.delay_sla_days;

    let mut text = format!("{} {}: {}.", lang.order(), order.id, lang.status(&order.status));
    if let Some(scan) = &order.last_scan {
        let at = scan.at.as_deref().map(|at| format!(" ({at})")).unwrap_or_default();
        text.push_str(&format!(" {}: {}{at}.", lang.last_scan(), scan.place));
    }
    if let (Some(date), false) = (&order.expected_date, delivered) {
        text.push_str(&format!(" {}: {date}.", lang.expected()));
    }
    if let Some(url) = &order.tracking_url {
        text.push_str(&format!(" {}: {url}", lang.tracking()));
    }
    let follow_up = if delayed {
        Decision::reply_with_options(lang.delayed(days_late), lang.delay_options())
    } else {
        Decision::reply_with_options(lang.helped(), lang.yes_no())
    };
    vec![
        Decision::set_field("order_status", Value::Text(order.status.clone())),
        Decision::reply(text),
        follow_up,
        Decision::emit(
            "order.status_checked",
            &serde_json::json!({ "order_id": order.id, "status": order.status, "delayed": delayed, "days_late": days_late.max(0) }),
        ),
    ]
}

/// `YYYY-MM-DD` as Unix milliseconds at midnight UTC.
pub fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.get(..10)?.splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Days from civil, after Howard Hinnant's algorithm.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some((era * 146_097 + day_of_era - 719_468) * DAY_MS)
}

/// The languages the replies come in; anything else falls back to English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ru,
    Hy,
}

impl Lang {
    pub fn of(locale: &str) -> Self {
        match locale.get(..2) {
            Some("ru") => Self::Ru,
            Some("hy") => Self::Hy,
            _ => Self::En,
        }
    }

    fn pick(self, en: &'static str, ru: &'static str, hy: &'static str) -> &'static str {
        match self {
            Self::En => en,
            Self::Ru => ru,
            Self::Hy => hy,
        }
    }

    fn order(self) -> &'static str {
        self.pick("Order", "Заказ", "Պատվեր")
    }

    fn last_scan(self) -> &'static str {
        self.pick("Last scan", "Последнее сканирование", "Վերջին սկանավորում")
    }

    fn expected(self) -> &'static str {
        self.pick("Expected", "Ожидается", "Սպասվում է")
    }

    fn tracking(self) -> &'static str {
        self.pick("Tracking", "Отслеживание", "Հետևել")
    }

    fn status(self, status: &str) -> String {
        let known = match status {
            "processing" => self.pick("being prepared", "собирается", "պատրաստվում է"),
            "shipped" => self.pick("shipped", "отправлен", "ուղարկված է"),
            "in_transit" => self.pick("on its way", "в пути", "ճանապարհին է"),
            "out_for_delivery" => self.pick("out for delivery", "передан курьеру", "առաքիչի մոտ է"),
            "delivered" => self.pick("delivered", "доставлен", "առաքված է"),
            "cancelled" => self.pick("cancelled", "отменён", "չեղարկված է"),
            other => return other.replace('_', " "),
        };
        known.to_owned()
    }

    fn not_found(self, order_id: &str) -> String {
        match self {
            Self::En => {
                format!("I couldn't find order {order_id}. Please check the number and send it again.")
            }
            Self::Ru => format!("Не нашёл заказ {order_id}. Проверьте номер и пришлите его ещё раз."),
            Self::Hy => format!("{order_id} պատվերը չգտա։ Խնդրում եմ ստուգել համարը և կրկին ուղարկել։"),
        }
    }

    fn mismatch(self) -> &'static str {
        self.pick(
            "That phone or email doesn't match this order. Please send the one you ordered with.",
            "Телефон или email не совпадает с заказом. Пришлите тот, что указывали при заказе.",
            "Հեռախոսը կամ էլ. հասցեն չի համընկնում պատվերի հետ։ Ուղարկեք այն, որով պատվիրել եք։",
        )
    }

    fn delayed(self, days: i64) -> String {
        match self {
            Self::En => format!("Sorry, it is {days} days late. What would you prefer?"),
            Self::Ru => format!("Извините, заказ задерживается на {days} дн. Как лучше поступить?"),
            Self::Hy => format!("Ներողություն, պատվերը ուշանում է {days} օր։ Ինչպե՞ս շարունակենք։"),
        }
    }

    fn delay_options(self) -> [(&'static str, &'static str); 3] {
        [
            (self.pick("Escalate", "Передать менеджеру", "Փոխանցել մենեջերին"), "escalate"),
            (self.pick("Resend", "Отправить заново", "Կրկին ուղարկել"), "resend"),
            (self.pick("Refund", "Вернуть деньги", "Վերադարձնել գումարը"), "refund"),
        ]
    }

    fn helped(self) -> &'static str {
        self.pick("Did this help?", "Это помогло?", "Սա օգնե՞ց։")
    }

    fn yes_no(self) -> [(&'static str, &'static str); 2] {
        [(self.pick("Yes", "Да", "Այո"), "yes"), (self.pick("No", "Нет", "Ոչ"), "no")]
    }
}

#[cfg(test)]
mod tests;
