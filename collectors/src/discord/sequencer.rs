//! Puts each member's voice updates back into the order Discord sent them.
//!
//! Serenity runs event handlers concurrently, so a join followed at once by a move (what
//! temporary-channel bots do) can reach the handler reversed, and both get nearly the same
//! receive time. Serenity updates its cache in gateway order before it spawns the handler,
//! so the `old` state a handler receives is the member's state just before *this* update:
//! each update names its predecessor. An update whose predecessor has not been written yet
//! waits (briefly) for it; written updates get strictly increasing times per member, so the
//! sessions built from them are in gateway order.

use super::VoiceEvent;
use chrono::{DateTime, Duration as TimeDelta, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where a member is in voice, as far as sessions care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VoicePosition {
    pub channel_id: Option<i64>,
    pub self_mute: bool,
    pub self_deaf: bool,
}

impl VoicePosition {
    /// Not in voice.
    pub const OUT: VoicePosition = VoicePosition {
        channel_id: None,
        self_mute: false,
        self_deaf: false,
    };

    fn of(event: &VoiceEvent) -> Self {
        Self {
            channel_id: event.channel_id,
            self_mute: event.self_mute,
            self_deaf: event.self_deaf,
        }
        .normalized()
    }

    /// Mute and deafen mean nothing outside voice.
    fn normalized(self) -> Self {
        if self.channel_id.is_none() {
            Self::OUT
        } else {
            self
        }
    }
}

/// One member's line of updates.
struct Line {
    /// The position after the last update written.
    position: VoicePosition,
    /// The time of the last update written.
    last_at: Option<DateTime<Utc>>,
    /// Updates whose predecessor has not been written yet, in arrival order.
    waiting: Vec<Waiting>,
}

struct Waiting {
    before: VoicePosition,
    event: VoiceEvent,
    since: Instant,
}

/// The members' lines. Members out of voice with nothing waiting are forgotten, so memory
/// follows the number of people in voice, not the size of the guild.
pub struct VoiceSequencer {
    lines: Mutex<HashMap<(i64, i64), Line>>,
    wait: Duration,
}

impl VoiceSequencer {
    /// `wait`: how long an update waits for its predecessor before it is written anyway
    /// (its predecessor may never come: dropped, or a cache that missed an update).
    pub fn new(wait: Duration) -> Self {
        Self {
            lines: Mutex::new(HashMap::new()),
            wait,
        }
    }

    /// An update from `before` (the state serenity's cache held just before it; `None`
    /// when the cache knew nothing, i.e. not in voice) to `event`. Returns the updates that
    /// can be written now, in order.
    pub fn accept(
        &self,
        before: Option<VoicePosition>,
        event: VoiceEvent,
        now: Instant,
    ) -> Vec<VoiceEvent> {
        let before = before.map_or(VoicePosition::OUT, VoicePosition::normalized);
        self.with_lines(|lines| {
            let key = (event.guild_id, event.user_id);
            let line = lines.entry(key).or_insert_with(Line::out_of_voice);
            let mut ready = Vec::new();
            if before == line.position {
                ready.push(line.write(event));
                line.cascade(&mut ready);
            } else {
                line.waiting.push(Waiting {
                    before,
                    event,
                    since: now,
                });
            }
            forget_if_idle(lines, key);
            ready
        })
    }

    /// A position known from another path (the reconciliation, as of `at`): the member's
    /// line continues from it. Returns the waiting updates this unblocks.
    pub fn observe(
        &self,
        guild_id: i64,
        user_id: i64,
        position: VoicePosition,
        at: DateTime<Utc>,
    ) -> Vec<VoiceEvent> {
        self.with_lines(|lines| {
            let key = (guild_id, user_id);
            let line = lines.entry(key).or_insert_with(Line::out_of_voice);
            line.position = position.normalized();
            line.last_at = Some(line.last_at.map_or(at, |last| last.max(at)));
            let mut ready = Vec::new();
            line.cascade(&mut ready);
            forget_if_idle(lines, key);
            ready
        })
    }

    /// Updates that waited longer than `wait` for their predecessor, written in arrival
    /// order (with whatever they unblock).
    pub fn overdue(&self, now: Instant) -> Vec<VoiceEvent> {
        let wait = self.wait;
        self.release(|waiting| now.duration_since(waiting.since) >= wait)
    }

    /// Everything still waiting (the session ends).
    pub fn drain(&self) -> Vec<VoiceEvent> {
        self.release(|_| true)
    }

    /// How many updates wait for their predecessor.
    pub fn waiting(&self) -> usize {
        self.with_lines(|lines| lines.values().map(|line| line.waiting.len()).sum())
    }

    fn release(&self, due: impl Fn(&Waiting) -> bool) -> Vec<VoiceEvent> {
        self.with_lines(|lines| {
            let mut ready = Vec::new();
            let keys: Vec<(i64, i64)> = lines
                .iter()
                .filter(|(_, line)| line.waiting.iter().any(&due))
                .map(|(key, _)| *key)
                .collect();
            for key in keys {
                if let Some(line) = lines.get_mut(&key) {
                    while let Some(index) = line.waiting.iter().position(&due) {
                        let waiting = line.waiting.remove(index);
                        ready.push(line.write(waiting.event));
                        line.cascade(&mut ready);
                    }
                }
                forget_if_idle(lines, key);
            }
            ready
        })
    }

    fn with_lines<T>(&self, f: impl FnOnce(&mut HashMap<(i64, i64), Line>) -> T) -> T {
        match self.lines.lock() {
            Ok(mut lines) => f(&mut lines),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }
}

impl Line {
    /// A member not in voice, nothing written yet.
    fn out_of_voice() -> Self {
        Self {
            position: VoicePosition::OUT,
            last_at: None,
            waiting: Vec::new(),
        }
    }

    /// Writes `event` as the next update: never at or before the previous one.
    fn write(&mut self, mut event: VoiceEvent) -> VoiceEvent {
        if let Some(last) = self.last_at
            && event.occurred_at <= last
        {
            event.occurred_at = last + TimeDelta::microseconds(1);
        }
        self.last_at = Some(event.occurred_at);
        self.position = VoicePosition::of(&event);
        event
    }

    /// Writes every waiting update whose predecessor is now the line's position.
    fn cascade(&mut self, ready: &mut Vec<VoiceEvent>) {
        while let Some(index) = self.waiting.iter().position(|w| w.before == self.position) {
            let waiting = self.waiting.remove(index);
            ready.push(self.write(waiting.event));
        }
    }
}

fn forget_if_idle(lines: &mut HashMap<(i64, i64), Line>, key: (i64, i64)) {
    if lines
        .get(&key)
        .is_some_and(|line| line.waiting.is_empty() && line.position == VoicePosition::OUT)
    {
        lines.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discord::VoiceOrigin;

    fn at(second: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000 + second, 0).expect("time")
    }

    fn update(user: i64, channel: Option<i64>, second: i64) -> VoiceEvent {
        VoiceEvent {
            guild_id: 1,
            user_id: user,
            channel_id: channel,
            self_mute: false,
            self_deaf: false,
            origin: VoiceOrigin::Gateway,
            occurred_at: at(second),
        }
    }

    fn in_channel(channel: i64) -> Option<VoicePosition> {
        Some(VoicePosition {
            channel_id: Some(channel),
            self_mute: false,
            self_deaf: false,
        })
    }

    fn channels(events: &[VoiceEvent]) -> Vec<Option<i64>> {
        events.iter().map(|e| e.channel_id).collect()
    }

    #[test]
    fn a_move_handled_before_its_join_waits_for_it_and_comes_after_it() {
        let sequencer = VoiceSequencer::new(Duration::from_secs(2));
        let now = Instant::now();
        // Gateway order: join 10, move 10 → 11. The handlers ran the other way round and
        // stamped the move first.
        let moved = sequencer.accept(in_channel(10), update(7, Some(11), 0), now);
        assert!(moved.is_empty(), "the move waits for the join");
        let ready = sequencer.accept(None, update(7, Some(10), 0), now);
        assert_eq!(channels(&ready), vec![Some(10), Some(11)]);
        assert!(ready[0].occurred_at < ready[1].occurred_at);
        assert_eq!(sequencer.waiting(), 0);
    }

    #[test]
    fn a_leave_handled_before_its_switch_comes_after_it_and_the_member_is_forgotten() {
        let sequencer = VoiceSequencer::new(Duration::from_secs(2));
        let now = Instant::now();
        assert_eq!(
            channels(&sequencer.accept(None, update(7, Some(10), 0), now)),
            vec![Some(10)]
        );
        // Gateway order: switch 10 → 11, leave 11. The leave's handler ran first.
        assert!(
            sequencer
                .accept(in_channel(11), update(7, None, 5), now)
                .is_empty()
        );
        let ready = sequencer.accept(in_channel(10), update(7, Some(11), 5), now);
        assert_eq!(channels(&ready), vec![Some(11), None]);
        assert!(ready[0].occurred_at < ready[1].occurred_at);
        assert!(sequencer.with_lines(|lines| lines.is_empty()));
    }

    #[test]
    fn an_update_whose_predecessor_never_comes_is_written_after_the_wait() {
        let sequencer = VoiceSequencer::new(Duration::from_millis(500));
        let start = Instant::now();
        assert!(
            sequencer
                .accept(in_channel(10), update(7, Some(11), 0), start)
                .is_empty()
        );
        assert!(
            sequencer
                .overdue(start + Duration::from_millis(100))
                .is_empty()
        );
        let late = sequencer.overdue(start + Duration::from_millis(600));
        assert_eq!(channels(&late), vec![Some(11)]);
        assert_eq!(sequencer.waiting(), 0);
    }

    #[test]
    fn members_are_independent_and_in_order_updates_pass_straight_through() {
        let sequencer = VoiceSequencer::new(Duration::from_secs(2));
        let now = Instant::now();
        assert_eq!(sequencer.accept(None, update(1, Some(10), 0), now).len(), 1);
        assert_eq!(sequencer.accept(None, update(2, Some(10), 0), now).len(), 1);
        assert_eq!(
            sequencer
                .accept(in_channel(10), update(1, None, 3), now)
                .len(),
            1
        );
        assert_eq!(
            sequencer
                .accept(in_channel(10), update(2, Some(12), 4), now)
                .len(),
            1
        );
        assert_eq!(sequencer.waiting(), 0);
        // Only member 2, still in voice, is remembered.
        assert_eq!(sequencer.with_lines(|lines| lines.len()), 1);
    }

    #[test]
    fn a_reconciled_position_continues_the_line() {
        let sequencer = VoiceSequencer::new(Duration::from_secs(2));
        let now = Instant::now();
        let position = in_channel(10).expect("position");
        assert!(sequencer.observe(1, 7, position, at(0)).is_empty());
        let ready = sequencer.accept(in_channel(10), update(7, None, 0), now);
        assert_eq!(channels(&ready), vec![None]);
        assert!(ready[0].occurred_at > at(0));
    }
}
