//! The key format from the outside: minted keys parse back, and every way a presented key can be
//! wrong is named.

use doorman_keys::format::{self, BODY_LEN, Malformed, check_prefix, generate, parse, parse_any};

const P: &str = "dmn_live";

fn key() -> String {
    generate(P).unwrap().expose().to_owned()
}

#[test]
fn minted_keys_have_the_documented_shape_and_parse_back() {
    for _ in 0..200 {
        let secret = generate(P).unwrap();
        let k = secret.expose();
        assert_eq!(k.len(), P.len() + 1 + BODY_LEN);
        assert!(k.starts_with("dmn_live_"));
        assert!(k[9..].bytes().all(|b| b.is_ascii_alphanumeric()), "{k}");
        let parsed = parse(k, P).unwrap();
        assert_eq!(parsed.prefix(), P);
        assert_eq!(parsed.display(), secret.display());
    }
}

#[test]
fn minted_keys_differ() {
    let keys: std::collections::HashSet<String> = (0..1000).map(|_| key()).collect();
    assert_eq!(keys.len(), 1000);
}

#[test]
fn display_form_shows_prefix_and_four_characters_each_side() {
    let k = key();
    let display = parse(&k, P).unwrap().display();
    let body = &k[9..];
    assert_eq!(
        display,
        format!("dmn_live_{}\u{2026}{}", &body[..4], &body[body.len() - 4..])
    );
    assert!(!display.contains(&body[4..body.len() - 4]));
}

#[test]
fn every_single_character_typo_is_caught_by_the_checksum() {
    let alphabet: Vec<char> = ('0'..='9').chain('A'..='Z').chain('a'..='z').collect();
    let mut checked = 0;
    for n in 0..100 {
        let k = key();
        let mut chars: Vec<char> = k.chars().collect();
        // Every position of the body, replaced by a different base62 character.
        for pos in 9..chars.len() {
            let original = chars[pos];
            let replacement = alphabet
                [(alphabet.iter().position(|&c| c == original).unwrap() + 1 + (n + pos) % 61) % 62];
            assert_ne!(replacement, original);
            chars[pos] = replacement;
            let typo: String = chars.iter().collect();
            assert_eq!(parse(&typo, P).unwrap_err(), Malformed::Checksum, "{pos}");
            chars[pos] = original;
            checked += 1;
        }
        // Two neighbours swapped (when they differ) is also a typo the checksum catches.
        chars.swap(20, 21);
        let swapped: String = chars.iter().collect();
        if swapped != k {
            assert_eq!(parse(&swapped, P).unwrap_err(), Malformed::Checksum);
        }
    }
    assert_eq!(checked, 100 * BODY_LEN);
}

#[test]
fn a_foreign_key_is_named_by_its_prefix() {
    let err = parse("sk-proj-abcdefghijklmnopqrstuvwxyz", P).unwrap_err();
    assert_eq!(
        err,
        Malformed::WrongPrefix {
            expected: vec![P.to_owned()],
            found: Some("sk-proj-".to_owned())
        }
    );
    let text = err.to_string();
    assert!(
        text.contains("keys for this site start with dmn_live_"),
        "{text}"
    );
    assert!(text.contains("this one starts with sk-proj-"), "{text}");
    assert!(text.contains("another service"), "{text}");
    assert!(
        !text.contains("abcdef"),
        "no more of a foreign secret than its prefix: {text}"
    );
}

#[test]
fn a_key_with_its_start_cut_off_has_no_prefix() {
    let k = key();
    let err = parse(&k[9..], P).unwrap_err();
    assert!(
        matches!(err, Malformed::WrongPrefix { found: None, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("cut off"), "{err}");
}

#[test]
fn another_environments_prefix_and_wrong_case_are_named() {
    let k = generate("dmn_test").unwrap();
    let err = parse(k.expose(), P).unwrap_err();
    assert!(err.to_string().contains("starts with dmn_test_"), "{err}");
    let upper = key().replacen("dmn_live", "DMN_LIVE", 1);
    let err = parse(&upper, P).unwrap_err();
    assert!(err.to_string().contains("letter case matters"), "{err}");
}

#[test]
fn length_errors_say_how_many_characters_and_why() {
    let k = key();
    let err = parse(&k[..k.len() - 5], P).unwrap_err();
    assert_eq!(
        err,
        Malformed::TooShort {
            expected: 45,
            found: 40
        }
    );
    assert!(
        err.to_string()
            .contains("5 characters are missing (cut off when copied?)")
    );
    let err = parse(&format!("{k}ab"), P).unwrap_err();
    assert_eq!(
        err,
        Malformed::TooLong {
            expected: 45,
            found: 47
        }
    );
    assert!(err.to_string().contains("2 characters too many"));
}

#[test]
fn a_character_outside_base62_is_named_with_its_position() {
    let k = key();
    let bad = format!("{}-{}", &k[..20], &k[21..]);
    let err = parse(&bad, P).unwrap_err();
    assert_eq!(
        err,
        Malformed::BadCharacter {
            ch: '-',
            position: 21
        }
    );
    assert!(err.to_string().starts_with("character 21 is '-'"), "{err}");
    let nbsp = format!("{}\u{00A0}{}", &k[..30], &k[31..]);
    let err = parse(&nbsp, P).unwrap_err();
    assert!(err.to_string().contains("a non-breaking space"), "{err}");
    let zero_width = format!("{}\u{200B}{}", &k[..30], &k[30..]);
    let err = parse(&zero_width, P).unwrap_err();
    assert!(
        err.to_string().contains("invisible character (U+200B)"),
        "{err}"
    );
}

#[test]
fn wrapping_from_copy_and_paste_is_recognised() {
    let k = key();
    for (wrapped, what) in [
        (format!("\"{k}\""), "quotes"),
        (format!("'{k}'"), "quotes"),
        (format!("\u{201C}{k}\u{201D}"), "quotes"),
        (format!("<{k}>"), "angle brackets"),
        (format!(" {k}"), "spaces or line breaks"),
        (format!("{k}\n"), "spaces or line breaks"),
        (format!("Bearer {k}"), "Bearer"),
    ] {
        let err = parse(&wrapped, P).unwrap_err();
        assert!(
            matches!(err, Malformed::Surrounded { .. }),
            "{wrapped:?}: {err:?}"
        );
        assert!(err.to_string().contains(what), "{wrapped:?}: {err}");
        assert!(!err.to_string().contains(&k), "never repeats the key");
    }
}

#[test]
fn empty_values_and_tokens_are_not_keys() {
    assert_eq!(parse("", P).unwrap_err(), Malformed::Empty);
    assert_eq!(parse("\"\"", P).unwrap_err(), Malformed::Empty);
    assert_eq!(
        parse("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", P).unwrap_err(),
        Malformed::LooksLikeJwt
    );
}

#[test]
fn the_longest_matching_prefix_wins() {
    let prefixes = vec!["dmn".to_owned(), "dmn_live".to_owned()];
    let long = key();
    assert_eq!(parse_any(&long, &prefixes).unwrap().prefix(), "dmn_live");
    let short = generate("dmn").unwrap();
    assert_eq!(
        parse_any(short.expose(), &prefixes).unwrap().prefix(),
        "dmn"
    );
    let err = parse_any("xyz_abc", &prefixes).unwrap_err();
    assert!(
        err.to_string().contains("start with dmn_ or dmn_live_"),
        "{err}"
    );
}

#[test]
fn every_malformed_case_has_a_remedy() {
    let k = key();
    for bad in [
        String::new(),
        format!("'{k}'"),
        "eyJa.eyJb.c".to_owned(),
        "sk-abc".to_owned(),
        format!("{}!", &k[..44]),
        k[..30].to_owned(),
        format!("{k}x"),
    ] {
        let err = parse(&bad, P).unwrap_err();
        assert!(err.remedy().ends_with('.'), "{err:?}");
    }
}

#[test]
fn prefixes_are_checked() {
    assert_eq!(check_prefix("dmn_live"), None);
    assert_eq!(check_prefix("acme2"), None);
    for bad in [
        "",
        "_x",
        "1abc",
        "dmn_",
        "dmn-live",
        "a".repeat(33).as_str(),
    ] {
        assert!(check_prefix(bad).is_some(), "{bad:?}");
    }
}

#[test]
fn secrets_and_parsed_keys_debug_print_only_the_display_form() {
    let secret = generate(P).unwrap();
    let k = secret.expose().to_owned();
    let debug = format!("{secret:?} {:?}", parse(&k, P).unwrap());
    assert!(!debug.contains(&k), "{debug}");
    assert!(!debug.contains(&k[9..20]), "{debug}");
    assert!(debug.contains(&secret.display()), "{debug}");
    assert_eq!(format::DEFAULT_PREFIX, P);
}
