//! The message rates of the last minute (cluster totals), for the chart of the overview. A
//! point is kept per poll; points older than the window fall off, so the chart covers the same
//! span whatever the interval. A round with no rate (first poll, every node restarted or
//! unreachable) adds no point: the line simply has a gap there.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How far back the chart looks.
pub const WINDOW: Duration = Duration::from_secs(60);

/// One point of the history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// When the round was polled.
    pub at: Instant,
    /// Messages received per second, all nodes.
    pub messages_in: f64,
    /// Messages sent per second, all nodes.
    pub messages_out: f64,
}

/// The last [`WINDOW`] of rates.
#[derive(Debug, Clone, Default)]
pub struct RateHistory {
    /// Oldest first.
    points: VecDeque<Point>,
}

impl RateHistory {
    /// Adds a point and forgets what is older than the window before it.
    pub fn push(&mut self, point: Point) {
        self.points.push_back(point);
        while let Some(first) = self.points.front() {
            if point.at.duration_since(first.at) > WINDOW {
                self.points.pop_front();
            } else {
                break;
            }
        }
    }

    /// The points, oldest first.
    pub fn points(&self) -> impl Iterator<Item = &Point> {
        self.points.iter()
    }

    /// Whether there is nothing to draw.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// `(seconds before now as a negative number, value)` for a chart whose x axis runs from
    /// -60 to 0, with `value` choosing the series.
    pub fn series(&self, now: Instant, value: impl Fn(&Point) -> f64) -> Vec<(f64, f64)> {
        self.points
            .iter()
            .filter(|p| now.duration_since(p.at) <= WINDOW)
            .map(|p| (-now.duration_since(p.at).as_secs_f64(), value(p)))
            .collect()
    }

    /// The highest rate of either series, for the chart's y axis.
    pub fn peak(&self) -> f64 {
        self.points
            .iter()
            .map(|p| p.messages_in.max(p.messages_out))
            .fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(at: Instant, messages_in: f64) -> Point {
        Point {
            at,
            messages_in,
            messages_out: messages_in * 2.0,
        }
    }

    #[test]
    fn keeps_one_minute() {
        let t0 = Instant::now();
        let mut h = RateHistory::default();
        for s in 0..=90 {
            h.push(point(t0 + Duration::from_secs(s), s as f64));
        }
        let first = h.points().next().unwrap();
        assert_eq!(first.messages_in, 30.0);
        assert_eq!(h.points().count(), 61);
        assert_eq!(h.peak(), 180.0);
    }

    #[test]
    fn series_runs_from_minus_sixty_to_zero() {
        let t0 = Instant::now();
        let mut h = RateHistory::default();
        h.push(point(t0, 1.0));
        h.push(point(t0 + Duration::from_secs(10), 2.0));
        let s = h.series(t0 + Duration::from_secs(10), |p| p.messages_in);
        assert_eq!(s, vec![(-10.0, 1.0), (0.0, 2.0)]);
        let out = h.series(t0 + Duration::from_secs(10), |p| p.messages_out);
        assert_eq!(out[1], (0.0, 4.0));
    }
}
