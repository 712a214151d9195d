//! Failover's rules without a server: how failures are classified and retried.

use super::*;
use http::{HeaderMap, HeaderValue};
use rand::{rngs::StdRng, SeedableRng};

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(n, v)| (n.parse().unwrap(), HeaderValue::from_static(v)))
        .collect()
}

#[test]
fn retry_after_reads_every_spelling_and_is_clamped() {
    assert_eq!(
        retry_after(&headers(&[("retry-after", "2")])),
        Some(Duration::from_secs(2))
    );
    assert_eq!(
        retry_after(&headers(&[("retry-after-ms", "250")])),
        Some(Duration::from_millis(250))
    );
    assert_eq!(
        retry_after(&headers(&[("x-ms-retry-after-ms", "1500")])),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(
        retry_after(&headers(&[("retry-after", "120")])),
        Some(Duration::from_secs(120))
    );
    assert_eq!(
        retry_after(&headers(&[("retry-after", "1e12")])),
        Some(Duration::from_secs(86_400))
    );
    for garbage in ["-1", "soon", "NaN", "inf", "Wed, 21 Oct 2026 07:28:00 GMT"] {
        let value = HeaderValue::from_str(garbage).unwrap();
        let mut map = HeaderMap::new();
        map.insert("retry-after", value);
        assert_eq!(retry_after(&map), None, "{garbage}");
    }
    assert_eq!(retry_after(&HeaderMap::new()), None);
}

#[test]
fn backoff_is_full_jitter_within_the_cap() {
    let mut rng = StdRng::seed_from_u64(3);
    for retry in 1..12 {
        let ceiling = (100u64 << (retry - 1)).min(2_000);
        for _ in 0..50 {
            let wait = backoff(retry, 100, 2_000, &mut rng);
            assert!(wait <= Duration::from_millis(ceiling), "retry {retry}: {wait:?}");
        }
    }
}
