//! Tests of language negotiation, number formatting and the translation tables.

use super::*;

#[test]
fn accept_language_prefers_the_highest_quality() {
    assert_eq!(
        Lang::from_accept_language("de-DE,de;q=0.9,en;q=0.8"),
        Some(Lang::De)
    );
    assert_eq!(
        Lang::from_accept_language("fr-FR, en-US;q=0.7, de;q=0.5"),
        Some(Lang::En)
    );
    assert_eq!(
        Lang::from_accept_language("en;q=0.4, de;q=0.6"),
        Some(Lang::De)
    );
    assert_eq!(Lang::from_accept_language("fr, es"), None);
    assert_eq!(Lang::from_accept_language("de;q=0"), None);
}

#[test]
fn cookie_overrides_are_read_by_name() {
    assert_eq!(
        Lang::from_cookie_header("a=1; lang=de; b=2"),
        Some(Lang::De)
    );
    assert_eq!(Lang::from_cookie_header("xlang=de"), None);
    assert_eq!(Lang::from_cookie_header("lang=fr"), None);
}

#[test]
fn numbers_follow_the_language() {
    assert_eq!(Lang::De.int(1234567), "1.234.567");
    assert_eq!(Lang::En.int(-1234), "-1,234");
    assert_eq!(Lang::En.int(999), "999");
    assert_eq!(Lang::De.decimal(12.34), "12,3");
}

/// The `{name}` placeholders of a text.
fn placeholders(text: &str) -> Vec<&str> {
    let mut names: Vec<&str> = text
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect();
    names.sort_unstable();
    names
}

#[test]
fn both_languages_of_a_text_take_the_same_parameters() {
    for key in Key::ALL {
        assert_eq!(
            placeholders(key.text(Lang::De)),
            placeholders(key.text(Lang::En)),
            "{key:?}"
        );
    }
}

#[test]
fn parameters_are_filled_in_in_the_language_of_the_text() {
    let problem = Problem::OutOfRange {
        min: 1,
        max: 3660,
        unit: Unit::Days,
    };
    assert_eq!(
        problem_text(&problem, Lang::De),
        "Wähle zwischen 1 und 3.660 Tagen."
    );
    assert_eq!(
        problem_text(&problem, Lang::En),
        "Choose between 1 and 3,660 days."
    );
    let unknown = Problem::AccountUnknown {
        kind: "steam".into(),
        external_id: "765".into(),
    };
    assert_eq!(
        problem_text(&unknown, Lang::De),
        "Guildhall kennt noch kein Steam-Konto „765“."
    );
}

#[test]
fn every_key_has_both_texts() {
    for key in Key::ALL {
        for lang in Lang::ALL {
            assert!(!key.text(lang).is_empty(), "{key:?} {lang:?}");
        }
    }
}
