//! Which game a server runs: the games Guildhall reads, as stored in `app.game_servers`,
//! with the RCON dialect and default port of each. The lowest floor of the game module:
//! the log formats, the pollers and the configuration all name a game.

/// The games Guildhall reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Game {
    Cs2,
    Csgo,
    Tf2,
    /// Any other Source 1 game (HL2DM, L4D, …).
    Source,
    Minecraft,
}

impl Game {
    pub const ALL: [Game; 5] = [
        Game::Cs2,
        Game::Csgo,
        Game::Tf2,
        Game::Source,
        Game::Minecraft,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Game::Cs2 => "cs2",
            Game::Csgo => "csgo",
            Game::Tf2 => "tf2",
            Game::Source => "source",
            Game::Minecraft => "minecraft",
        }
    }

    pub fn parse(text: &str) -> Option<Game> {
        Game::ALL.into_iter().find(|game| game.as_str() == text)
    }

    /// The RCON dialect the game speaks.
    pub fn dialect(self) -> super::rcon::Dialect {
        match self {
            Game::Cs2 => super::rcon::Dialect::Cs2,
            Game::Minecraft => super::rcon::Dialect::Minecraft,
            Game::Csgo | Game::Tf2 | Game::Source => super::rcon::Dialect::Source,
        }
    }

    /// The default RCON port.
    pub fn default_rcon_port(self) -> u16 {
        match self {
            Game::Minecraft => 25575,
            _ => 27015,
        }
    }
}
