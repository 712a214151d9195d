use super::*;
use crate::proxy::registry::Credential;
use app::types::{GatewayEndpoint, InferenceEndpoint, ProviderKind, RetryPolicy, Timeouts};
use rand::{rngs::StdRng, SeedableRng};

fn upstream(id: i64) -> Arc<Upstream> {
    Arc::new(Upstream::new(endpoint(id), Credential::None))
}

fn endpoint(id: i64) -> InferenceEndpoint {
    InferenceEndpoint {
        id: EndpointId(id),
        name: format!("e{id}"),
        provider: ProviderKind::OpenAi,
        base_url: "http://127.0.0.1:1/v1".into(),
        model: "m".into(),
        deployment: None,
        api_version: None,
        project: None,
        region: None,
        rpm_limit: None,
        tpm_limit: None,
        timeouts: Timeouts::default(),
        enabled: true,
        has_credential: false,
        created_at: 0,
        updated_at: 0,
    }
}

fn gateway(strategy: Strategy, links: &[(i64, i64, i64)]) -> Gateway {
    Gateway {
        id: GatewayId(1),
        name: "g".into(),
        description: String::new(),
        strategy,
        retry: RetryPolicy::default(),
        deadline_ms: None,
        log_metadata: true,
        log_payloads: false,
        model_aliases: Default::default(),
        enabled: true,
        limits: Vec::new(),
        param_policy: Default::default(),
        auth_mode: Default::default(),
        access_rule: None,
        people: Default::default(),
        model_rules: Vec::new(),
        cache: Default::default(),
        endpoints: links
            .iter()
            .enumerate()
            .map(|(position, &(id, weight, priority))| GatewayEndpoint {
                endpoint_id: EndpointId(id),
                endpoint_name: format!("e{id}"),
                position: position as i64,
                weight,
                priority,
            })
            .collect(),
        created_at: 0,
        updated_at: 0,
    }
}

fn ids(order: &[Arc<Upstream>]) -> Vec<i64> {
    order.iter().map(|u| u.endpoint.id.0).collect()
}

#[test]
fn strategies_order_endpoints() {
    let balancer = Balancer::new(256);
    let all = [upstream(1), upstream(2), upstream(3)];
    let now = Instant::now();
    let mut rng = StdRng::seed_from_u64(7);
    let rr = gateway(Strategy::RoundRobin, &[(1, 1, 0), (2, 1, 0), (3, 1, 0)]);
    let firsts: Vec<i64> = (0..3)
        .map(|_| ids(&balancer.order(&rr, &all, now, &mut rng).unwrap())[0])
        .collect();
    assert_eq!(firsts, [1, 2, 3]);
    let priority = gateway(Strategy::Priority, &[(1, 1, 0), (2, 1, 5), (3, 1, 1)]);
    assert_eq!(ids(&balancer.order(&priority, &all, now, &mut rng).unwrap()), [2, 3, 1]);
    let weighted = gateway(Strategy::Weighted, &[(1, 1, 0), (2, 9, 0), (3, 0, 0)]);
    let mut firsts = HashMap::new();
    for _ in 0..1000 {
        let order = ids(&balancer.order(&weighted, &all, now, &mut rng).unwrap());
        assert_eq!(order[2], 3, "weight 0 goes last");
        *firsts.entry(order[0]).or_insert(0) += 1;
    }
    assert!((850..=950).contains(&firsts[&2]), "{firsts:?}");
    let least_busy = gateway(Strategy::LeastBusy, &[(1, 1, 0), (2, 1, 0), (3, 1, 0)]);
    let _busy = balancer.begin(&all[0], 0, now).unwrap();
    assert_eq!(ids(&balancer.order(&least_busy, &all, now, &mut rng).unwrap())[2], 1);
    let fastest = gateway(Strategy::LeastLatency, &[(1, 1, 0), (2, 1, 0), (3, 1, 0)]);
    balancer.succeeded(EndpointId(1), Duration::from_millis(50), 0, 0, now);
    balancer.succeeded(EndpointId(2), Duration::from_millis(10), 0, 0, now);
    balancer.succeeded(EndpointId(3), Duration::from_millis(30), 0, 0, now);
    assert_eq!(ids(&balancer.order(&fastest, &all, now, &mut rng).unwrap()), [2, 3, 1]);
}

#[test]
fn cooldowns_end_on_their_own() {
    let balancer = Balancer::new(256);
    let all = [upstream(1), upstream(2)];
    let g = gateway(Strategy::Priority, &[(1, 1, 1), (2, 1, 0)]);
    let now = Instant::now();
    let mut rng = StdRng::seed_from_u64(1);
    balancer.failed(&all[0], Fault::RateLimited(Duration::from_secs(2)), now);
    assert_eq!(ids(&balancer.order(&g, &all, now, &mut rng).unwrap()), [2]);
    let later = now + Duration::from_secs(3);
    assert_eq!(ids(&balancer.order(&g, &all, later, &mut rng).unwrap()), [1, 2]);
    // Retry-After beyond the cap is capped.
    balancer.failed(&all[0], Fault::RateLimited(Duration::from_secs(3600)), now);
    let after_cap = now + MAX_COOLDOWN + Duration::from_millis(1);
    assert_eq!(ids(&balancer.order(&g, &all, after_cap, &mut rng).unwrap()), [1, 2]);
    // A single cooling endpoint reports when it is free again.
    balancer.failed(&all[1], Fault::RateLimited(Duration::from_secs(5)), now);
    balancer.failed(&all[0], Fault::RateLimited(Duration::from_secs(2)), now);
    assert_eq!(
        balancer.order(&g, &all, now, &mut rng).unwrap_err(),
        NoneAvailable::RateLimited(now + Duration::from_secs(2))
    );
}

#[test]
fn the_breaker_ejects_then_probes_once() {
    let balancer = Balancer::new(256);
    let all = [upstream(1), upstream(2)];
    let g = gateway(Strategy::Priority, &[(1, 1, 1), (2, 1, 0)]);
    let now = Instant::now();
    let mut rng = StdRng::seed_from_u64(1);
    for _ in 0..EJECT_AFTER_CONSECUTIVE {
        balancer.failed(&all[0], Fault::Breaker, now);
    }
    assert_eq!(ids(&balancer.order(&g, &all, now, &mut rng).unwrap()), [2]);
    assert!(matches!(balancer.state(&all[0], now), HealthState::CircuitOpen { .. }));
    let reopened = now + EJECT_BASE;
    assert_eq!(ids(&balancer.order(&g, &all, reopened, &mut rng).unwrap()), [1, 2]);
    let probe = balancer.begin(&all[0], 0, reopened).unwrap();
    assert_eq!(
        ids(&balancer.order(&g, &all, reopened, &mut rng).unwrap()),
        [2],
        "one probe at a time"
    );
    // The probe fails: ejected again, for twice as long.
    balancer.failed(&all[0], Fault::Breaker, reopened);
    drop(probe);
    assert_eq!(
        ids(&balancer.order(&g, &all, reopened + EJECT_BASE, &mut rng).unwrap()),
        [2]
    );
    // Every endpoint ejected: panic mode tries the one that reopens soonest.
    for _ in 0..EJECT_AFTER_CONSECUTIVE {
        balancer.failed(&all[1], Fault::Breaker, reopened);
    }
    assert_eq!(ids(&balancer.order(&g, &all, reopened, &mut rng).unwrap()), [2]);
}

#[test]
fn provider_windows_and_misconfiguration_skip_endpoints() {
    let balancer = Balancer::new(1);
    let mut limited = endpoint(1);
    limited.rpm_limit = Some(2);
    let all = [Arc::new(Upstream::new(limited, Credential::None)), upstream(2)];
    let g = gateway(Strategy::Priority, &[(1, 1, 1), (2, 1, 0)]);
    let now = Instant::now();
    let mut rng = StdRng::seed_from_u64(1);
    drop(balancer.begin(&all[0], 0, now));
    drop(balancer.begin(&all[0], 0, now));
    assert_eq!(ids(&balancer.order(&g, &all, now, &mut rng).unwrap()), [2], "rpm spent");
    assert_eq!(ids(&balancer.order(&g, &all, now + MINUTE, &mut rng).unwrap()), [1, 2]);
    let held = balancer.begin(&all[1], 0, now).unwrap();
    assert!(balancer.begin(&all[1], 0, now).is_none(), "in-flight limit");
    drop(held);
    balancer.failed(&all[1], Fault::Misconfigured, now);
    assert!(matches!(
        balancer.state(&all[1], now),
        HealthState::Misconfigured { .. }
    ));
    let mut edited = endpoint(2);
    edited.updated_at = 1;
    let edited = Upstream::new(edited, Credential::None);
    assert_eq!(balancer.state(&edited, now), HealthState::Healthy, "an edit clears it");
}
