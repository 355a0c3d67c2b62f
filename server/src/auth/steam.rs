//! Steam account ids as Steam's own services write them.

/// Whether `id` is a SteamID64 of an individual account: 17 digits starting 7656119.
pub fn is_steam_id64(id: &str) -> bool {
    id.len() == 17 && id.starts_with("7656119") && id.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_seventeen_digit_individual_ids_are_steam_ids() {
        assert!(is_steam_id64("76561197993200126"));
        assert!(!is_steam_id64("7656119799320012"));
        assert!(!is_steam_id64("765611979932001267"));
        assert!(!is_steam_id64("85568392933103606"));
        assert!(!is_steam_id64("7656119799320012x"));
    }
}
