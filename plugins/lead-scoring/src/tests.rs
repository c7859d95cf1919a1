use switchboard_sdk::testing::input;
use switchboard_sdk::time::DAY_MS;
use switchboard_sdk::{Decision, LeadGrade, LeadTier, Plugin, Priority, StepError, StepInput};

use crate::LeadScoring;

const MOVING: &str = include_str!("../config/moving.json");

fn grade_of(decisions: &[Decision]) -> LeadGrade {
    decisions
        .iter()
        .find_map(|decision| match decision {
            Decision::Grade(grade) => Some(grade.clone()),
            _ => None,
        })
        .expect("a grade")
}

fn run(input: StepInput) -> Vec<Decision> {
    LeadScoring::run(input).expect("scoring succeeds")
}

#[test]
fn urgent_big_budget_lead_in_area_is_hot_and_routed_to_a_call() {
    let now = 1_767_225_600_000;
    let decisions = run(input("score")
        .config(MOVING)
        .now(now)
        .datetime("move_date", now + 3 * DAY_MS)
        .money("budget", 45_000_000, "AMD")
        .text("city", "  ереван ")
        .text("phone", "+37499123456")
        .build());
    let deltas: Vec<i32> = decisions
        .iter()
        .filter_map(|decision| match decision {
            Decision::Score(change) => Some(change.delta),
            _ => None,
        })
        .collect();
    assert_eq!(deltas, [2, 2, 1]);
    let grade = grade_of(&decisions);
    assert_eq!(grade.tier, LeadTier::Hot);
    assert_eq!(grade.reasons[0], "moving within 7 days (+2)");
    assert!(decisions.iter().any(|decision| matches!(
        decision,
        Decision::Route(route) if route.queue == "sales-call" && route.priority == Priority::High
    )));
}

#[test]
fn a_far_deadline_and_no_phone_make_a_cold_lead() {
    let now = 1_767_225_600_000;
    let decisions = run(input("score")
        .config(MOVING)
        .now(now)
        .datetime("move_date", now + 30 * DAY_MS)
        .text("city", "Vanadzor")
        .build());
    let grade = grade_of(&decisions);
    assert_eq!(grade.tier, LeadTier::Cold);
    assert_eq!(grade.reasons, ["no phone number (-2)"]);
}

#[test]
fn the_score_so_far_counts_toward_the_tier() {
    let decisions =
        run(input("score").config(MOVING).score(1).text("payment", "CARD").text("phone", "1").build());
    assert_eq!(grade_of(&decisions).tier, LeadTier::Warm);
}

#[test]
fn a_date_in_the_past_is_not_within_days() {
    let now = 1_767_225_600_000;
    let decisions = run(input("score")
        .config(MOVING)
        .now(now)
        .datetime("move_date", now - DAY_MS)
        .text("phone", "1")
        .build());
    assert_eq!(grade_of(&decisions).reasons, ["no scoring rule matched"]);
}

#[test]
fn inconsistent_thresholds_are_a_config_error() {
    let result =
        LeadScoring::run(input("score").config(r#"{"rules": [], "hot_at": 1, "warm_at": 3}"#).build());
    assert!(matches!(result, Err(StepError::InvalidConfig(_))));
}
