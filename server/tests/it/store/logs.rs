//! Traffic in the store: request logs written in batches with their attempts, paged and followed;
//! usage counted once per request into the counters and the hourly history; retention.

use super::{raw, TestDb};
use app::types::{KeyId, Period};

store_suite!(
    request_logs_are_written_in_batches_with_their_attempts,
    usage_is_counted_once_per_request,
    retention_deletes_the_oldest_rows_a_batch_at_a_time,
    request_log_pages_filter_and_follow_their_cursor,
    the_history_of_all_gateways_sums_theirs,
    the_last_hours_are_kept_by_the_minute_too,
);

/// Every finished request adds to the minutely history beside the hourly one (logged or not);
/// it reads back by the minute or in 5-minute buckets, and minutes go after a day while hours
/// stay.
async fn the_last_hours_are_kept_by_the_minute_too(db: &TestDb) {
    use app::types::{GatewayId, RequestLog};
    use server::store::{Finished, HourlyKind, HourlyScope, LimitScope, Span};
    let minute: i64 = 60_000;
    let hour = 3_600_000;
    let finished = |id: &str, at: i64, latency_ms: i64| Finished {
        log: RequestLog {
            request_id: id.into(),
            created_at: hour + at,
            gateway_id: Some(GatewayId(4)),
            status: 200,
            latency_ms,
            prompt_tokens: 10,
            ..RequestLog::default()
        },
        store_log: false,
        scopes: vec![LimitScope::Gateway(GatewayId(4))],
        admitted: true,
        saved_micros: 0,
    };
    let batch = [
        finished("a", 5_000, 8),
        finished("b", 50_000, 80),
        finished("c", minute + 1, 8),
        finished("d", 7 * minute, 8),
    ];
    db.store.store_finished(&batch).await.unwrap();
    let scope = HourlyScope::Gateway(GatewayId(4));
    let minutes = db
        .store
        .history(scope, Span::Minute, minute, hour, 2 * hour)
        .await
        .unwrap();
    let counts: Vec<(i64, i64)> = minutes
        .iter()
        .map(|m| ((m.hour_start - hour) / minute, m.requests))
        .collect();
    assert_eq!(counts, [(0, 2), (1, 1), (7, 1)]);
    assert_eq!(minutes[0].prompt_tokens, 20);
    assert_eq!(minutes[0].latency_mean_ms, (8 + 80) / 2);
    assert!(minutes[0].latency_p95_ms.is_some_and(|ms| ms > 50), "{:?}", minutes[0]);
    let fives = db
        .store
        .history(scope, Span::Minute, 5 * minute, hour, 2 * hour)
        .await
        .unwrap();
    let counts: Vec<(i64, i64)> = fives
        .iter()
        .map(|m| ((m.hour_start - hour) / minute, m.requests))
        .collect();
    assert_eq!(counts, [(0, 3), (5, 1)]);
    let all = db
        .store
        .history(HourlyScope::AllGateways, Span::Minute, minute, hour, hour + minute)
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "the range's end is exclusive");
    let sums = db
        .store
        .hourly_sums(HourlyKind::Gateway, Span::Minute, hour, hour + 5 * minute)
        .await
        .unwrap();
    assert_eq!(sums[&4].requests, 3);
    assert_eq!(
        db.store.hourly_usage(scope, hour, 2 * hour).await.unwrap()[0].requests,
        4,
        "and by the hour"
    );
    // The limits' counters: each request in its own minute's window, all four in the others.
    let counters: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT period, window_start, requests FROM usage_counters \
         WHERE scope = 'gateway' AND scope_id = 4 ORDER BY period, window_start",
    )
    .fetch_all(&mut raw(db).await)
    .await
    .unwrap();
    let window = |period: Period, at: i64| (period.as_str().to_string(), period.window_start(hour + at));
    let mut expected = vec![
        (window(Period::Minute, 0), 2),
        (window(Period::Minute, minute), 1),
        (window(Period::Minute, 7 * minute), 1),
    ];
    expected.extend([Period::Hour, Period::Day, Period::Month, Period::Total].map(|p| (window(p, 0), 4)));
    expected.sort();
    let counters: Vec<_> = (counters.into_iter())
        .map(|(period, start, requests)| ((period, start), requests))
        .collect();
    assert_eq!(counters, expected);

    // Minutes before the cut-off go; the hour stays.
    assert!(db.store.delete_minutes_before(hour + 5 * minute).await.unwrap() >= 2);
    let minutes = db
        .store
        .history(scope, Span::Minute, minute, 0, 2 * hour)
        .await
        .unwrap();
    assert_eq!(minutes.iter().map(|m| m.requests).sum::<i64>(), 1);
    assert_eq!(
        db.store.hourly_usage(scope, hour, 2 * hour).await.unwrap()[0].requests,
        4
    );
}

async fn request_logs_are_written_in_batches_with_their_attempts(db: &TestDb) {
    use app::types::{EndpointId, RequestAttempt, RequestLog};
    let logs: Vec<RequestLog> = (0..150)
        .map(|i| RequestLog {
            request_id: format!("req-{i:03}"),
            created_at: 1_000 + i,
            api: "openai".into(),
            operation: "chat".into(),
            model: (i % 2 == 0).then(|| "gpt-4o-mini".into()),
            stream: i % 3 == 0,
            status: 200,
            latency_ms: i,
            prompt_tokens: 10,
            completion_tokens: i,
            request_body: (i == 7).then(|| "{\"emoji\":\"🦀\"}".into()),
            attempts: (1..=(i % 3))
                .map(|n| RequestAttempt {
                    attempt: n,
                    endpoint_id: (n == 1).then_some(EndpointId(9)),
                    started_at: 1_000 + i,
                    status: (n == 2).then_some(503),
                    latency_ms: 5,
                    error_class: (n == 2).then(|| "upstream_server_error".into()),
                    ..RequestAttempt::default()
                })
                .collect(),
            ..RequestLog::default()
        })
        .collect();
    db.store.insert_request_logs(&logs).await.unwrap();
    // A batch that fails (a duplicate request id) leaves nothing behind.
    let again = vec![logs[149].clone(), logs[0].clone()];
    assert!(db.store.insert_request_logs(&again).await.is_err());
    // A later batch's attempts attach to its own rows.
    let mut later: Vec<RequestLog> = logs[..3].to_vec();
    for (n, log) in later.iter_mut().enumerate() {
        log.request_id = format!("req-later-{n}");
    }
    db.store.insert_request_logs(&later).await.unwrap();
    let stored = db.store.recent_request_logs(1000).await.unwrap();
    assert_eq!(stored.len(), 153);
    let mut stored: Vec<RequestLog> = stored.into_iter().rev().collect();
    stored.sort_by(|a, b| a.request_id.cmp(&b.request_id));
    let mut expected: Vec<RequestLog> = logs.iter().chain(&later).cloned().collect();
    expected.sort_by(|a, b| a.request_id.cmp(&b.request_id));
    assert_eq!(stored, expected);
    // Ids are never reused, even once every row is gone (retention deletes the oldest).
    let mut conn = raw(db).await;
    let max = "SELECT MAX(id) FROM request_logs";
    let last: i64 = sqlx::query_scalar(max).fetch_one(&mut conn).await.unwrap();
    sqlx::query("DELETE FROM request_logs")
        .execute(&mut conn)
        .await
        .unwrap();
    db.store.insert_request_logs(&logs[..1]).await.unwrap();
    let next: i64 = sqlx::query_scalar(max).fetch_one(&mut conn).await.unwrap();
    assert!(next > last, "{next} after {last}");
}

/// Usage events are stored once per request id; only new ones add to the counters (every
/// period's window, every charged scope) and to the hourly history (with the endpoint's).
async fn usage_is_counted_once_per_request(db: &TestDb) {
    use app::types::{EndpointId, GatewayId, RequestLog};
    use server::store::{Finished, LimitScope};
    let at = 1_795_423_530_250; // 2026-11-23T08:45:30.250Z
    let finished = |id: &str, tokens: i64, store_log: bool| Finished {
        log: RequestLog {
            request_id: id.into(),
            created_at: at,
            gateway_id: Some(GatewayId(9)),
            key_id: Some(KeyId(3)),
            endpoint_id: Some(EndpointId(5)),
            api: "openai".into(),
            operation: "chat".into(),
            status: if tokens == 0 { 502 } else { 200 },
            latency_ms: 10,
            prompt_tokens: tokens,
            completion_tokens: 1,
            cost_micros: 7,
            // "a" looked in the response cache and missed; "c" was answered from it.
            cache: match id {
                "a" => Some("miss".into()),
                "c" => Some("hit".into()),
                _ => None,
            },
            ..RequestLog::default()
        },
        store_log,
        scopes: vec![
            LimitScope::Key(KeyId(3)),
            LimitScope::Key(KeyId(1)),
            LimitScope::Gateway(GatewayId(9)),
        ],
        admitted: true,
        saved_micros: if id == "c" { 40 } else { 0 },
    };
    db.store
        .store_finished(&[finished("a", 10, true), finished("b", 0, false)])
        .await
        .unwrap();
    // A batch met again (its first attempt was committed after all) beside a new request:
    // "a" (log and event stored) and "b" (event stored) are skipped, "c" is stored.
    db.store
        .store_finished(&[
            finished("a", 10, true),
            finished("b", 0, false),
            finished("c", 20, true),
        ])
        .await
        .unwrap();
    let rows = db.store.open_counters(at).await.unwrap();
    assert_eq!(rows.len(), 15, "3 scopes x 5 periods: {rows:?}");
    for row in &rows {
        assert_eq!((row.requests, row.tokens, row.cost_micros), (3, 33, 21), "{row:?}");
    }
    assert_eq!(db.store.usage_event_totals(KeyId(3)).await.unwrap(), (3, 33, 21));
    let logs = db.store.recent_request_logs(10).await.unwrap();
    let ids: Vec<&str> = logs.iter().map(|l| l.request_id.as_str()).collect();
    assert_eq!(ids, ["c", "a"], "only the logs asked for");
    let hourly: Vec<(String, i64, i64, i64)> =
        sqlx::query_as("SELECT scope, scope_id, requests, errors FROM usage_hourly ORDER BY scope, scope_id")
            .fetch_all(&mut raw(db).await)
            .await
            .unwrap();
    let expected =
        [("endpoint", 5), ("gateway", 9), ("key", 1), ("key", 3)].map(|(scope, id)| (scope.to_string(), id, 3, 1));
    assert_eq!(hourly, expected);
    // The dashboard reads it back: three requests of 10 ms in one hour.
    let read = db
        .store
        .hourly_usage(
            server::store::HourlyScope::Key(KeyId(3)),
            at - 3_600_000,
            at + 3_600_000,
        )
        .await
        .unwrap();
    assert_eq!(read.len(), 1);
    let hour = &read[0];
    assert_eq!(hour.hour_start, Period::Hour.window_start(at));
    assert_eq!((hour.requests, hour.errors), (3, 1));
    assert_eq!(
        (hour.prompt_tokens, hour.completion_tokens, hour.cost_micros),
        (30, 3, 21)
    );
    assert_eq!(
        (hour.latency_mean_ms, hour.latency_p50_ms, hour.latency_p95_ms),
        (10, Some(8), Some(10)),
        "percentiles are estimated inside the (5, 10] ms bucket"
    );
    assert_eq!(
        (hour.cache_hits, hour.cache_misses, hour.saved_micros),
        (1, 1, 40),
        "the cache's hits, misses and savings, once each"
    );
    // A later window starts from nothing.
    assert!(db
        .store
        .open_counters(at + 60_000)
        .await
        .unwrap()
        .iter()
        .all(|r| r.period != Period::Minute));
}

/// Retention (issue #7): the oldest request logs go first, with their attempts, at most a
/// batch per call, stopping at the first row that is not old enough; usage events go by the
/// time in their request id; the hourly aggregates stay.
async fn retention_deletes_the_oldest_rows_a_batch_at_a_time(db: &TestDb) {
    use app::types::{EndpointId, GatewayId, RequestAttempt, RequestLog};
    use server::store::{Finished, LimitScope};
    let day = 24 * 3600 * 1000;
    let now = server::store::now_ms();
    let record = |n: i64, created_at: i64| Finished {
        log: RequestLog {
            request_id: format!("{created_at:012x}{n:020x}"),
            created_at,
            gateway_id: Some(GatewayId(1)),
            api: "openai".into(),
            operation: "chat".into(),
            status: 200,
            attempts: vec![RequestAttempt {
                attempt: 1,
                endpoint_id: Some(EndpointId(1)),
                started_at: created_at,
                status: Some(200),
                ..RequestAttempt::default()
            }],
            ..RequestLog::default()
        },
        store_log: true,
        scopes: vec![LimitScope::Gateway(GatewayId(1))],
        admitted: true,
        saved_micros: 0,
    };
    // 10 from 40 days ago, one recent, then 3 more old ones written late (long streams).
    let mut batch: Vec<Finished> = (0..10).map(|n| record(n, now - 40 * day + n)).collect();
    batch.push(record(10, now - 1000));
    batch.extend((11..14).map(|n| record(n, now - 35 * day + n)));
    db.store.store_finished(&batch).await.unwrap();
    let cutoff = now - 30 * day;
    assert_eq!(db.store.delete_request_logs_before(cutoff, 4).await.unwrap(), 4);
    assert_eq!(db.store.delete_request_logs_before(cutoff, 4).await.unwrap(), 4);
    assert_eq!(
        db.store.delete_request_logs_before(cutoff, 4).await.unwrap(),
        2,
        "stops at the recent row"
    );
    assert_eq!(db.store.delete_request_logs_before(cutoff, 4).await.unwrap(), 0);
    let left = db.store.recent_request_logs(100).await.unwrap();
    assert_eq!(left.len(), 4);
    let attempts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM request_attempts")
        .fetch_one(&mut raw(db).await)
        .await
        .unwrap();
    assert_eq!(attempts, 4, "attempts go with their logs");
    // Usage events: every old one, whatever its position.
    assert_eq!(db.store.delete_usage_events_before(cutoff, 5).await.unwrap(), 5);
    assert_eq!(db.store.delete_usage_events_before(cutoff, 50).await.unwrap(), 8);
    assert_eq!(db.store.delete_usage_events_before(cutoff, 50).await.unwrap(), 0);
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM usage_events")
        .fetch_one(&mut raw(db).await)
        .await
        .unwrap();
    assert_eq!(events, 1);
    let hourly: i64 =
        sqlx::query_scalar("SELECT CAST(SUM(requests) AS BIGINT) FROM usage_hourly WHERE scope = 'gateway'")
            .fetch_one(&mut raw(db).await)
            .await
            .unwrap();
    assert_eq!(hourly, 14, "the hourly history is kept");
}

async fn request_log_pages_filter_and_follow_their_cursor(db: &TestDb) {
    use app::types::{EndpointId, GatewayId, RequestAttempt, RequestLog};
    use server::store::LogFilter;
    let logs: Vec<RequestLog> = (0..40)
        .map(|i| RequestLog {
            request_id: format!("req-{i:03}"),
            created_at: 10_000 + i,
            gateway_id: Some(GatewayId(1 + i % 2)),
            api: "openai".into(),
            operation: "chat".into(),
            model: Some(if i % 4 == 0 { "big" } else { "small" }.into()),
            status: if i % 5 == 0 { 502 } else { 200 },
            endpoint_id: (i == 5).then_some(EndpointId(7)),
            attempts: vec![RequestAttempt {
                attempt: 1,
                started_at: 10_000 + i,
                endpoint_id: (i % 10 == 3).then_some(EndpointId(7)),
                ..RequestAttempt::default()
            }],
            ..RequestLog::default()
        })
        .collect();
    db.store.insert_request_logs(&logs).await.unwrap();
    let ids = |page: &[(i64, RequestLog)]| page.iter().map(|(_, l)| l.request_id.clone()).collect::<Vec<_>>();

    // Gateway 2's logs are the odd ones, newest first, a page of 5 at a time.
    let filter = LogFilter {
        gateway: Some(GatewayId(2)),
        ..LogFilter::default()
    };
    let first = db.store.request_logs_page(&filter, None, 5).await.unwrap();
    assert_eq!(ids(&first), ["req-039", "req-037", "req-035", "req-033", "req-031"]);
    assert_eq!(first[0].1.attempts.len(), 1, "with their attempts");
    let next = db.store.request_logs_page(&filter, Some(first[4].0), 5).await.unwrap();
    assert_eq!(ids(&next), ["req-029", "req-027", "req-025", "req-023", "req-021"]);

    // Every filter narrows.
    let narrow = LogFilter {
        from: Some(10_010),
        to: Some(10_030),
        model: Some("big".into()),
        errors_only: true,
        ..LogFilter::default()
    };
    let page = db.store.request_logs_page(&narrow, None, 100).await.unwrap();
    assert_eq!(ids(&page), ["req-020"]);
    let status = LogFilter {
        status: Some(502),
        gateway: Some(GatewayId(1)),
        ..LogFilter::default()
    };
    assert_eq!(db.store.request_logs_page(&status, None, 100).await.unwrap().len(), 4);
    // An endpoint's requests: those it answered and those that tried it.
    let endpoint = LogFilter {
        endpoint: Some(EndpointId(7)),
        ..LogFilter::default()
    };
    let page = db.store.request_logs_page(&endpoint, None, 100).await.unwrap();
    assert_eq!(ids(&page), ["req-033", "req-023", "req-013", "req-005", "req-003"]);
    let one_request = LogFilter {
        request_id: Some("req-013".into()),
        ..LogFilter::default()
    };
    assert_eq!(
        ids(&db.store.request_logs_page(&one_request, None, 100).await.unwrap()),
        ["req-013"]
    );

    // Following: oldest first after a row id; one log by request id.
    let every = LogFilter::default();
    let after = db.store.request_logs_after(first[0].0 - 3, &every, 10).await.unwrap();
    assert_eq!(ids(&after), ["req-037", "req-038", "req-039"]);
    let gateway_1 = LogFilter {
        gateway: Some(GatewayId(1)),
        ..LogFilter::default()
    };
    let after = db.store.request_logs_after(0, &gateway_1, 2).await.unwrap();
    assert_eq!(ids(&after), ["req-000", "req-002"]);
    let after = db.store.request_logs_after(0, &narrow, 100).await.unwrap();
    assert_eq!(ids(&after), ["req-020"], "following takes every filter too");
    assert_eq!(db.store.last_request_log_id().await.unwrap(), first[0].0);
    let (_, one) = db.store.request_log("req-007").await.unwrap().unwrap();
    assert_eq!(one, logs[7]);
    assert!(db.store.request_log("nope").await.unwrap().is_none());
}

async fn the_history_of_all_gateways_sums_theirs(db: &TestDb) {
    use app::types::GatewayId;
    use server::store::HourlyScope;
    let mut conn = raw(db).await;
    let hour: i64 = 3_600_000;
    for (gateway, requests, latency_bound) in [(1i64, 3i64, 10i64), (2, 1, 100), (2, 4, 10)] {
        sqlx::query(
            "INSERT INTO usage_hourly (scope, scope_id, hour_start, requests, errors, prompt_tokens, completion_tokens, \
             cost_micros, latency_ms_sum) VALUES ('gateway', $1, $2, $3, 1, 10, 20, 30, $4) \
             ON CONFLICT (scope, scope_id, hour_start) DO UPDATE SET requests = usage_hourly.requests + excluded.requests, \
             latency_ms_sum = usage_hourly.latency_ms_sum + excluded.latency_ms_sum",
        )
        .bind(gateway)
        .bind(hour)
        .bind(requests)
        .bind(requests * latency_bound)
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO usage_hourly_latency (scope, scope_id, hour_start, le_ms, requests) VALUES ('gateway', $1, $2, $3, $4)",
        )
        .bind(gateway)
        .bind(hour)
        .bind(latency_bound)
        .bind(requests)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let all = db
        .store
        .hourly_usage(HourlyScope::AllGateways, 0, 2 * hour)
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].hour_start, all[0].requests, all[0].errors), (hour, 8, 2));
    assert_eq!((all[0].prompt_tokens, all[0].cost_micros), (20, 60));
    assert_eq!(all[0].latency_mean_ms, (3 * 10 + 100 + 4 * 10) / 8);
    // Estimated inside their buckets: 4/7 through (5, 10] and 0.6 through (50, 100].
    assert_eq!((all[0].latency_p50_ms, all[0].latency_p95_ms), (Some(8), Some(80)));
    // The same rows summed per gateway, in one grouped read.
    let sums = (db.store)
        .hourly_sums(
            server::store::HourlyKind::Gateway,
            server::store::Span::Hour,
            0,
            2 * hour,
        )
        .await
        .unwrap();
    let requests: Vec<(i64, i64)> = sums.iter().map(|(id, s)| (*id, s.requests)).collect();
    assert_eq!(requests, [(1, 3), (2, 5)]);
    assert_eq!((sums[&2].errors, sums[&2].cost_micros), (1, 30));
    assert_eq!(sums[&2].latency_mean_ms, (100 + 4 * 10) / 5);
    let later = (db.store).hourly_sums(
        server::store::HourlyKind::Gateway,
        server::store::Span::Hour,
        2 * hour,
        3 * hour,
    );
    assert!(later.await.unwrap().is_empty(), "outside the range");
    let one = db
        .store
        .hourly_usage(HourlyScope::Gateway(GatewayId(2)), 0, 2 * hour)
        .await
        .unwrap();
    assert_eq!(one[0].requests, 5);
}
