//! mqtt-stresser's throughput statistics, reproduced exactly (report.go): the median of a
//! sorted series and the cumulative bucket histogram printed as `  < X msg/sec  Y%`.
//!
//! The histogram has 10 steps of `(fastest - slowest) / 10` from the slowest value; each value
//! goes to the upper bound `f1` of the *last* interval `[f0, f1]` that holds it, trying
//! `i = 0..=10`, so the fastest value lands in the eleventh bucket and the top label is about
//! `fastest + step`. Counts become cumulative fractions of `total`.

/// One line of the histogram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Upper bound (msg/sec).
    pub upper: f64,
    /// Fraction of the series at or below this bucket, cumulated (1.0 = all).
    pub cumulative: f64,
}

/// Go's `median`: the mean of the two middle elements of a sorted, non-empty series.
pub fn median(sorted: &[f64]) -> f64 {
    (sorted[(sorted.len() - 1) / 2] + sorted[sorted.len() / 2]) / 2.0
}

/// Go's `buildHistogram`: `sorted` ascending and non-empty, `total` the count fractions are
/// of. Buckets come out in ascending order of their bound.
pub fn buckets(sorted: &[f64], total: usize) -> Vec<Bucket> {
    const STEPS: usize = 10;
    let slowest = sorted[0];
    let fastest = sorted[sorted.len() - 1];
    let step = (fastest - slowest) / STEPS as f64;
    // (bound, count) in first-seen order; Go keys a map by the float bound.
    let mut counts: Vec<(f64, usize)> = Vec::new();
    for &v in sorted {
        let mut bound = 0.0;
        for i in 0..=STEPS {
            let f0 = slowest + step * i as f64;
            let f1 = slowest + step * (i + 1) as f64;
            if v >= f0 && v <= f1 {
                bound = f1;
            }
        }
        match counts.iter_mut().find(|(b, _)| *b == bound) {
            Some((_, n)) => *n += 1,
            None => counts.push((bound, 1)),
        }
    }
    counts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut prev = 0.0;
    counts
        .into_iter()
        .map(|(upper, n)| {
            let cumulative = n as f64 / total as f64 + prev;
            prev = cumulative;
            Bucket { upper, cumulative }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_series() {
        assert_eq!(median(&[1.0, 2.0, 9.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0, 4.0, 9.0]), 3.0);
        assert_eq!(median(&[5.0]), 5.0);
    }

    #[test]
    fn equal_values_share_one_bucket_at_their_value() {
        let b = buckets(&[7.0, 7.0], 2);
        assert_eq!(
            b,
            vec![Bucket {
                upper: 7.0,
                cumulative: 1.0
            }]
        );
    }

    #[test]
    fn fastest_lands_above_itself() {
        let b = buckets(&[0.0, 10.0], 2);
        assert_eq!(b.len(), 2);
        assert_eq!(
            b[0],
            Bucket {
                upper: 1.0,
                cumulative: 0.5
            }
        );
        assert_eq!(
            b[1],
            Bucket {
                upper: 11.0,
                cumulative: 1.0
            }
        );
    }
}
